//! What the store keeps for a committee at work: its people and seats, and each meeting as one
//! record (agenda, attendance, declarations, motions and votes, elections, actions, minutes).

use domain::NaiveDate;
use domain::governance::meeting::Attendance;
use domain::governance::{Choice, ConstitutionVersion, Outcome, SeatKind, TieRule};
use domain::ids::{ClusterId, MeetingId, PersonId, Urn};

/// A person on a committee's register, as the clerk records them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonDetails {
    pub name: String,
    /// Schools whose governing body they sit on.
    pub governor_of: Vec<Urn>,
    /// The school they work at, if any.
    pub works_at: Option<Urn>,
    /// The school they are headteacher of (the school they work at).
    pub head_of: Option<Urn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitteePerson {
    pub id: PersonId,
    pub details: PersonDetails,
}

/// A seat on the committee. Seats are kept in order; a seat is named by its place in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitteeSeat {
    pub kind: SeatKind,
    pub school: Option<Urn>,
    /// `None` for a vacancy.
    pub person: Option<PersonId>,
    pub suspended: bool,
    pub term_from: Option<NaiveDate>,
    pub term_to: Option<NaiveDate>,
}

/// An officer and the day they were elected (or recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Officer {
    pub person: PersonId,
    /// The meeting at which they were elected, when an election was recorded.
    pub elected_at: Option<(MeetingId, NaiveDate)>,
}

/// A committee's standing record: its constitution's versions, people, seats and officers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitteeRegister {
    pub cluster: ClusterId,
    pub versions: Vec<ConstitutionVersion>,
    pub people: Vec<CommitteePerson>,
    pub seats: Vec<CommitteeSeat>,
    /// The latest chair elected at a recorded meeting, else the one recorded directly.
    pub chair: Option<Officer>,
    pub vice_chair: Option<Officer>,
    pub last_review: Option<NaiveDate>,
}

impl CommitteeRegister {
    pub fn person(&self, id: PersonId) -> Option<&CommitteePerson> {
        self.people.iter().find(|p| p.id == id)
    }
    pub fn name_of(&self, id: PersonId) -> String {
        self.person(id)
            .map_or_else(|| format!("person {id}"), |p| p.details.name.clone())
    }
}

/// Who attended, in what capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttendanceRecord {
    pub person: PersonId,
    pub status: Attendance,
    /// A substitute standing in for this school's voting governor.
    pub substitute_for: Option<Urn>,
}

/// A paper for an agenda item: a title and its text (no links, no files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paper {
    pub title: String,
    pub text: String,
}

/// A declaration of interest on an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationRecord {
    pub person: PersonId,
    pub interest: String,
    /// The person left the meeting for the item: they do not count for its quorum or vote.
    pub withdraws: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MotionRecord {
    pub text: String,
    pub proposer: PersonId,
    pub seconder: PersonId,
}

/// An agenda item and the business done on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgendaItem {
    pub title: String,
    /// Restricted items are shown only to those running the meeting, authority staff and (when
    /// named) the one school the item concerns.
    pub restricted: bool,
    pub restricted_to: Option<Urn>,
    pub papers: Vec<Paper>,
    pub declarations: Vec<DeclarationRecord>,
    pub motion: Option<MotionRecord>,
    /// One vote per school.
    pub votes: Vec<(Urn, Choice)>,
    pub casting_vote: Option<Choice>,
    /// The outcome as recorded when the votes were taken (always the one the constitution gives).
    pub recorded_outcome: Option<Outcome>,
    /// This item approves the minutes of that (earlier) meeting.
    pub approves_minutes_of: Option<MeetingId>,
}

/// The office an election fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Office {
    Chair,
    ViceChair,
}

impl Office {
    pub fn code(self) -> &'static str {
        match self {
            Office::Chair => "chair",
            Office::ViceChair => "vice_chair",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "chair" => Some(Office::Chair),
            "vice_chair" => Some(Office::ViceChair),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Office::Chair => "Chair",
            Office::ViceChair => "Vice-chair",
        }
    }
}

/// One round of an election as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElectionRoundRecord {
    /// One ballot per school present.
    pub ballots: Vec<(Urn, PersonId)>,
    /// When the round tied and the tie rule is the chair's: whom the chair chose.
    pub chair_pick: Option<PersonId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionRecord {
    pub office: Office,
    pub candidates: Vec<PersonId>,
    pub tie_rule: TieRule,
    pub rounds: Vec<ElectionRoundRecord>,
    /// Set when the count elects someone.
    pub elected: Option<PersonId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRecord {
    pub text: String,
    pub owner: PersonId,
    pub due_on: NaiveDate,
    pub done_on: Option<NaiveDate>,
}

/// The minutes' journey to one member governing body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Distribution {
    pub school: Urn,
    pub sent_on: Option<NaiveDate>,
    pub received_on: Option<NaiveDate>,
    /// "Adopted by the governing body on …".
    pub adopted_on: Option<NaiveDate>,
}

/// Where a meeting's minutes were approved: an item at a later meeting whose motion carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approval {
    pub meeting: MeetingId,
    pub held_on: NaiveDate,
    /// 1-based item number at that meeting.
    pub item: u32,
}

/// What health reads from a meeting, worked out by the service when it saves the record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeetingTotals {
    /// Attendance has been recorded.
    pub held: bool,
    pub quorate: bool,
    pub schools_present: Vec<Urn>,
    pub decisions_carried: u32,
}

/// A meeting as one record, changed step by step and saved whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRecord {
    /// `None` until first saved.
    pub id: Option<MeetingId>,
    pub cluster: ClusterId,
    pub held_on: NaiveDate,
    pub title: String,
    pub location: String,
    pub notice_sent_on: Option<NaiveDate>,
    /// Bumped on every save; a save of an older revision is refused (someone else changed it).
    pub revision: i64,
    pub attendance: Vec<AttendanceRecord>,
    /// The committee's seats as they stood when attendance was recorded: who represented which
    /// school at this meeting, so later changes to the register never change its record.
    pub roll: Vec<CommitteeSeat>,
    pub items: Vec<AgendaItem>,
    pub elections: Vec<ElectionRecord>,
    pub actions: Vec<ActionRecord>,
    pub minutes_text: Option<String>,
    pub minutes_drafted_on: Option<NaiveDate>,
    pub distribution: Vec<Distribution>,
    /// Read from the store (the approving item lives on the later meeting); ignored on save.
    pub approved: Option<Approval>,
    pub totals: MeetingTotals,
}

impl MeetingRecord {
    pub fn new(cluster: ClusterId, held_on: NaiveDate, title: String, location: String) -> Self {
        MeetingRecord {
            id: None,
            cluster,
            held_on,
            title,
            location,
            notice_sent_on: None,
            revision: 0,
            attendance: Vec::new(),
            roll: Vec::new(),
            items: Vec::new(),
            elections: Vec::new(),
            actions: Vec::new(),
            minutes_text: None,
            minutes_drafted_on: None,
            distribution: Vec::new(),
            approved: None,
            totals: MeetingTotals::default(),
        }
    }
}
