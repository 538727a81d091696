//! Synthetic casework for the demo: made-up pupils (every family name ends "(synthetic)"),
//! a G&T register, a mentor's caseload, LSU placements and transition records in three schools,
//! generated from a fixed seed relative to today. Visible in full only to the demo head and
//! mentor of the host school; everyone else sees suppressed aggregates.

use crate::{Service, ServiceError, ServiceResult};
use domain::NaiveDate;
use domain::casework::gt::{Evidence, GtEntry, GtKind};
use domain::casework::lsu::{LsuMode, LsuPlacement, Measures};
use domain::casework::mentor::{Mentor, MentorBase, MentorCase, MentorPolicy, Outcome, Referral, ReferralReason};
use domain::casework::representation::{Composition, Group};
use domain::casework::transition::{Receiving, TransitionKind, TransitionRecord, flags_for};
use domain::casework::{
    Characteristics, EthnicGroup, Gender, GtEntryId, MentorId, NewPupil, PlacementId, PupilId, SenStatus, TransitionId,
    YearGroup, academic_year,
};
use domain::ids::{AuthorityId, Upn, Urn};
use domain::privacy::Strand;

/// The demo's seed: the same pupils every time.
const SEED: u64 = 0x00C1_u64 << 32 | 2026;

/// A small deterministic generator (splitmix64), so the demo needs no randomness.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
    fn chance(&mut self, per_cent: u64) -> bool {
        self.below(100) < per_cent
    }
}

const GIVEN_GIRLS: &[&str] = &[
    "Amelia", "Isla", "Ava", "Freya", "Poppy", "Evie", "Grace", "Maya", "Zara", "Priya", "Nia", "Lena", "Ruby", "Chloe",
];
const GIVEN_BOYS: &[&str] = &[
    "Oliver", "Harry", "Jack", "Noah", "Leo", "Alfie", "Theo", "Arjun", "Kofi", "Tomasz", "Finley", "Ethan", "Reuben",
];
const FAMILY: &[&str] = &[
    "Ashby", "Blake", "Carter", "Dunn", "Ellis", "Fenwick", "Gray", "Holt", "Iqbal", "Jarvis", "Kowalski", "Lamb",
    "Mensah", "Norris", "Okafor", "Pryce", "Quinn", "Rowe", "Sutton", "Thorpe", "Usher", "Vale", "Webb", "Yates",
];

fn ago(today: NaiveDate, days: u64) -> NaiveDate {
    today.checked_sub_days(domain::Days::new(days)).unwrap_or(today)
}

fn after(day: NaiveDate, days: u64) -> NaiveDate {
    day.checked_add_days(domain::Days::new(days)).unwrap_or(day)
}

/// Made-up pupils for one school, in the given year groups.
fn pupils_for(
    rng: &mut Seeded,
    school: Urn,
    laestab: u32,
    years: &[u8],
    count: usize,
    today: NaiveDate,
) -> Vec<NewPupil> {
    let start_year = academic_year(today);
    (0..count)
        .filter_map(|i| {
            let year = *rng.pick(years);
            let girl = rng.chance(50);
            let given = if girl {
                rng.pick(GIVEN_GIRLS)
            } else {
                rng.pick(GIVEN_BOYS)
            };
            let family = rng.pick(FAMILY);
            let ethnicity = match rng.below(100) {
                0..=84 => EthnicGroup::WhiteBritish,
                85..=90 => EthnicGroup::WhiteOther,
                91..=94 => EthnicGroup::Mixed,
                95..=97 => EthnicGroup::Asian,
                _ => EthnicGroup::Black,
            };
            // Born in the academic year that makes them this year group's age.
            let birth_year = start_year - i32::from(year) - 5;
            let dob = NaiveDate::from_ymd_opt(birth_year, 9, 1)
                .and_then(|d| d.checked_add_days(domain::Days::new(rng.below(360))))?;
            // UPN: check letter, LAESTAB (7), the year of entry (2), a serial (3).
            let rest = format!(
                "{laestab:07}{:02}{:03}",
                (start_year - i32::from(year)).rem_euclid(100),
                i % 1000
            );
            let letter = Upn::check_letter(rest.as_bytes())?;
            Some(NewPupil {
                school,
                upn: Upn::parse(&format!("{letter}{rest}")).ok()?,
                given_name: (*given).to_string(),
                family_name: format!("{family} (synthetic)"),
                date_of_birth: dob,
                year_group: YearGroup::new(year).ok()?,
                characteristics: Characteristics {
                    gender: if girl { Gender::Female } else { Gender::Male },
                    ethnicity,
                    fsm: rng.chance(22),
                    sen: match rng.below(100) {
                        0..=79 => SenStatus::None,
                        80..=96 => SenStatus::SenSupport,
                        _ => SenStatus::Ehcp,
                    },
                    eal: ethnicity != EthnicGroup::WhiteBritish && rng.chance(50),
                },
                synthetic: true,
            })
        })
        .collect()
}

impl Service {
    /// Seeds the demo's synthetic casework in the host school (secondary), a feeder primary and
    /// one more secondary; the demo mentor works in the mentor strand at the host.
    pub(crate) async fn seed_demo_casework(
        &self,
        authority: AuthorityId,
        host: Urn,
        feeder: Urn,
    ) -> ServiceResult<u64> {
        let today = self.clock.today();
        let mut rng = Seeded(SEED);
        let schools = self.store.all_schools(authority).await?;
        let laestab = |u: Urn| {
            schools
                .iter()
                .find(|s| s.school.urn == u)
                .and_then(|s| s.school.laestab)
                .map_or(9_260_000, domain::ids::Laestab::get)
        };
        let other = schools
            .iter()
            .filter(|s| s.school.is_state_funded() && s.school.phase.is_secondary_anchor() && s.school.urn != host)
            .map(|s| s.school.urn)
            .next()
            .unwrap_or(host);

        // The demo mentor works in the mentor strand only (the head sees every strand).
        if let Some((mentor_user, _)) = self.store.user_credentials("mentor@demo.clusterwise.test").await? {
            self.store
                .set_strands(authority, mentor_user.id, &[Strand::LearningMentor])
                .await?;
        }

        let mut seeded = 0u64;
        let mut host_pupils = Vec::new();
        for (school, years, count) in [
            (host, &[7u8, 8, 9, 10, 11][..], 70usize),
            (other, &[7, 8, 9][..], 24),
            (feeder, &[6][..], 16),
        ] {
            for p in pupils_for(&mut rng, school, laestab(school), years, count, today) {
                let id = match self.store.save_pupil(authority, &p).await {
                    Ok(id) => id,
                    // A repeated synthetic UPN (same serial) is skipped, not an error.
                    Err(crate::StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                };
                seeded += 1;
                if school == host {
                    host_pupils.push((id, p));
                }
            }
            // The school's own composition, estimated from its census (synthetic, and labelled).
            if let Some(s) = schools.iter().find(|s| s.school.urn == school)
                && let Some(c) = &s.census
            {
                let pupils = c.pupils;
                let fsm = c.fsm_count.unwrap_or(pupils / 5);
                let composition = Composition {
                    pupils,
                    groups: vec![
                        (Group::Girls, pupils * 49 / 100),
                        (Group::Boys, pupils - pupils * 49 / 100),
                        (Group::Fsm, fsm),
                        (Group::MinorityEthnic, pupils * 12 / 100),
                    ],
                };
                self.store
                    .save_composition(authority, school, &composition, true)
                    .await?;
            }
        }
        let others: Vec<(PupilId, NewPupil)> = {
            let f = super::CaseworkFilter::school(other);
            self.store
                .pupils(authority, &f)
                .await?
                .into_iter()
                .map(|p| {
                    (
                        p.id,
                        NewPupil {
                            school: p.school,
                            upn: p.upn,
                            given_name: p.given_name,
                            family_name: p.family_name,
                            date_of_birth: p.date_of_birth,
                            year_group: p.year_group,
                            characteristics: p.characteristics,
                            synthetic: p.synthetic,
                        },
                    )
                })
                .collect()
        };

        // G&T: the host's register leans towards boys, so the representation check has something to say.
        let year = academic_year(today);
        let evidence_sets: [&[Evidence]; 4] = [
            &[Evidence::TestData, Evidence::InternalAssessment],
            &[Evidence::StaffNomination],
            &[Evidence::NationalCriteria, Evidence::TestData],
            &[Evidence::InternalAssessment, Evidence::StaffNomination],
        ];
        let mut on_register = 0;
        for (i, (id, p)) in host_pupils.iter().enumerate() {
            let boy = p.characteristics.gender == Gender::Male;
            if on_register >= 16 || !(boy && i % 3 == 0 || !boy && i % 7 == 0) {
                continue;
            }
            on_register += 1;
            let talented = i % 4 == 1;
            let identified = ago(today, 40 + rng.below(60));
            self.store
                .save_gt_entry(
                    authority,
                    &GtEntry {
                        id: GtEntryId(0),
                        pupil: *id,
                        school: host,
                        academic_year: year,
                        year_group: p.year_group,
                        kind: if talented { GtKind::Talented } else { GtKind::Gifted },
                        reserve: on_register > 14,
                        evidence: evidence_sets[i % 4].to_vec(),
                        domain: (*rng.pick(if talented {
                            &["music", "sport", "drama", "art"][..]
                        } else {
                            &["mathematics", "science", "English", "history"][..]
                        }))
                        .to_string(),
                        identified_on: identified,
                        told_on: (i % 5 != 0).then(|| after(identified, 7)),
                        enrichment: if i % 2 == 0 {
                            vec!["Cluster masterclass (synthetic)".into()]
                        } else {
                            Vec::new()
                        },
                        removed_on: None,
                    },
                )
                .await?;
        }
        // A few on the other secondary's register (aggregates only to everyone outside it).
        for (id, p) in others.iter().take(6) {
            self.store
                .save_gt_entry(
                    authority,
                    &GtEntry {
                        id: GtEntryId(0),
                        pupil: *id,
                        school: other,
                        academic_year: year,
                        year_group: p.year_group,
                        kind: GtKind::Gifted,
                        reserve: false,
                        evidence: vec![Evidence::TestData],
                        domain: "mathematics".into(),
                        identified_on: ago(today, 50),
                        told_on: Some(ago(today, 40)),
                        enrichment: Vec::new(),
                        removed_on: None,
                    },
                )
                .await?;
        }

        // The host's mentor and a caseload of 12 open cases (at guidance: one more referral warns).
        let mentor = self
            .store
            .save_mentor(
                authority,
                &Mentor {
                    id: MentorId(0),
                    name: "Sam Reed (synthetic mentor)".into(),
                    base: MentorBase::School(host),
                    fte_tenths: 10,
                },
            )
            .await?;
        self.store
            .save_mentor(
                authority,
                &Mentor {
                    id: MentorId(0),
                    name: "Jo Marsh (synthetic pool mentor)".into(),
                    base: MentorBase::Pool("North Norfolk pool (synthetic)".into()),
                    fte_tenths: 5,
                },
            )
            .await?;
        let policy = MentorPolicy::default();
        let reasons = ReferralReason::ALL;
        let mentees: Vec<&(PupilId, NewPupil)> = host_pupils.iter().rev().take(15).collect();
        for (k, (id, _)) in mentees.iter().enumerate() {
            let referred = ago(today, 20 + 6 * k as u64);
            let mut case = MentorCase::refer(
                Referral {
                    pupil: *id,
                    school: host,
                    mentor: Some(mentor),
                    referred_on: referred,
                    referred_by: (*rng.pick(&["Head of Year", "Form tutor", "SENCo", "Attendance officer"]))
                        .to_string(),
                    reason: reasons[k % reasons.len()],
                    note: "Referral details (synthetic)".into(),
                },
                today,
            )
            .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
            let stage = k % 8;
            if stage > 0 {
                let agreed = after(referred, 5);
                case.agree_plan(
                    &[
                        "Attend every lesson on time".into(),
                        "Use the check-in card daily".into(),
                    ],
                    "Sessions step down to fortnightly once both targets hold for three weeks, then end",
                    agreed,
                    &policy,
                )
                .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
                let review_on = after(agreed, 42);
                let mut d = after(agreed, 3);
                while d < today.min(review_on) && case.sessions.len() < 6 {
                    case.log_session(d, 30, "Session notes (synthetic)")
                        .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
                    d = after(d, 7);
                }
                if review_on <= today {
                    let outcome = match stage {
                        1 | 2 => Some((Outcome::Met, Some(after(review_on, 42)), None)),
                        3 => Some((Outcome::PartlyMet, None, None)),
                        4 => Some((Outcome::Disengaged, None, Some(after(review_on, 0)))),
                        _ => None, // left overdue on purpose
                    };
                    if let Some((o, f, parents)) = outcome {
                        case.review(review_on, o, "Review notes (synthetic)", f, parents, &policy)
                            .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
                    }
                    if stage == 1
                        && let Some(due) = case.follow_up_due.filter(|d| *d <= today)
                    {
                        case.record_follow_up(due, true, "Follow-up notes (synthetic)")
                            .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
                    }
                }
            }
            self.store.save_mentor_case(authority, &case).await?;
        }
        // Two cases closed long ago: the retention run removes them.
        for (id, _) in host_pupils.iter().take(2) {
            let referred = ago(today, 1200);
            let mut case = MentorCase::refer(
                Referral {
                    pupil: *id,
                    school: host,
                    mentor: Some(mentor),
                    referred_on: referred,
                    referred_by: "Head of Year".into(),
                    reason: ReferralReason::Attendance,
                    note: "Old referral (synthetic)".into(),
                },
                today,
            )
            .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
            case.agree_plan(
                &["Attend 95 %".into()],
                "End when attendance holds",
                after(referred, 3),
                &policy,
            )
            .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
            case.review(
                after(referred, 45),
                Outcome::Met,
                "",
                Some(after(referred, 90)),
                None,
                &policy,
            )
            .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
            case.record_follow_up(after(referred, 90), true, "")
                .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
            self.store.save_mentor_case(authority, &case).await?;
        }

        // LSU placements at the host.
        for (k, (id, _)) in host_pupils.iter().skip(20).take(6).enumerate() {
            let starts = ago(today, 30 + 25 * k as u64);
            let ended = k >= 4;
            self.store
                .save_lsu_placement(
                    authority,
                    &LsuPlacement {
                        id: PlacementId(0),
                        pupil: *id,
                        school: host,
                        referred_on: ago(starts, 14),
                        stages_met: 3,
                        starts_on: starts,
                        planned_end: after(starts, 84 + 14 * k as u64),
                        mode: if k % 2 == 0 {
                            LsuMode::FullTime
                        } else {
                            LsuMode::PartTime { sessions_per_week: 4 }
                        },
                        agreed_with_pupil: true,
                        agreed_with_parent: true,
                        reintegration_plan: "Back to core lessons first with a teaching assistant (synthetic)".into(),
                        supported_lessons: 6 + k as u32,
                        before: Measures {
                            attendance_tenths_pct: Some(820 + 10 * k as u32),
                            exclusions: 2,
                            incidents: 8 - k as u32,
                        },
                        during: Measures {
                            attendance_tenths_pct: Some(900 + 5 * k as u32),
                            exclusions: 0,
                            incidents: 2,
                        },
                        after: ended.then_some(Measures {
                            attendance_tenths_pct: Some(930),
                            exclusions: 0,
                            incidents: 1,
                        }),
                        ended_on: ended.then(|| ago(today, 10)),
                    },
                )
                .await?;
        }

        // Year 6 pupils of the feeder move to the host; some acknowledged already.
        let feeders = self
            .store
            .pupils(authority, &super::CaseworkFilter::school(feeder))
            .await?;
        for (k, p) in feeders.iter().take(5).enumerate() {
            let mut t = TransitionRecord {
                id: TransitionId(0),
                pupil: p.id,
                from: feeder,
                to: if k == 4 {
                    Receiving::Outside {
                        name: "A school in Suffolk (synthetic)".into(),
                    }
                } else {
                    Receiving::School(host)
                },
                kind: TransitionKind::Year6To7,
                flags: flags_for(k % 2 == 0, k % 3 == 0, false),
                note: "Transition notes (synthetic)".into(),
                sent_on: ago(today, 20),
                acknowledged: None,
            };
            if k < 2 {
                t.acknowledge(ago(today, 15), "Head of Year 7 (synthetic)")
                    .map_err(|e| ServiceError::Unexpected(e.to_string()))?;
            }
            self.store.save_transition(authority, &t).await?;
        }
        // A pupil who left two years ago with nothing else held: the retention run removes them.
        if let Some((id, _)) = others.last() {
            self.store.set_pupil_left(authority, *id, Some(ago(today, 800))).await?;
        }
        Ok(seeded)
    }
}
