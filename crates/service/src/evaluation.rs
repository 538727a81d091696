//! Plans, monitoring and evaluation in the product: metric imports, the cluster's plan with its
//! targets' RAG and the target helper, FADE reports pre-filled from the data, both judgements,
//! the authority's summary with the agreement analysis, questionnaires and the cluster snapshot.
//!
//! Every method checks [`domain::evaluation::access::authorise`] first. Form mistakes come back
//! as `Ok(Err(FieldError))` naming the field; refusals and missing records as `ServiceError`.

use crate::governance::ClusterHealth;
use crate::store::ClusterDetail;
use crate::{Service, ServiceError, ServiceResult};
use domain::NaiveDate;
use domain::access::{Scope, User};
use domain::evaluation::access::{Action, Denied, authorise, sees_school_level};
use domain::evaluation::analysis::{
    Against, BeforeAfter, DEFAULT_REDIRECT_AFTER_TERMS, DidOptions, DidResult, GapInput, GapPoint, Windows,
    before_after, did_sentence, difference_in_differences, gap_sentence, gaps_by_cluster, redirect_prompt,
};
use domain::evaluation::fade::{Calendar, Judgement, Report, Round, Summary, check_level, check_narrative, summarise};
use domain::evaluation::kappa::Scale;
use domain::evaluation::metrics::{
    Catalogue, MeasureDef, MetricRecord, Observation, Place, Unit, default_measures, parse as parse_metrics,
};
use domain::evaluation::plan::{Activity, Plan, Priority, check_activity, check_plan_target, check_priority};
use domain::evaluation::publish::{CountsOf, publish};
use domain::evaluation::questionnaire::{
    CRITERIA, Questionnaire, Response, Summary as QuestionnaireSummary, check_questionnaire, check_response,
    summarise as summarise_questionnaire,
};
use domain::evaluation::targets::{Proposal, Rag, RagStatus, Target, TargetLevel, propose, rag};
use domain::evaluation::{AcademicYear, PupilGroup};
use domain::ids::{AuthorityId, ClusterId, Urn};
use domain::import::{FileError, RowError};
use domain::money::Money;
use domain::privacy::suppress::{DEFAULT_THRESHOLD, SuppressedTable};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

mod demo;
pub use demo::SYNTHETIC_NOTE;

/// An authority's evaluation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationSettings {
    pub calendar: Calendar,
    pub scale: Scale,
    /// Terms an activity runs before the redirect prompt may appear.
    pub redirect_after_terms: u32,
    /// Counts of people below this are shown as `c`.
    pub suppression_threshold: u64,
    /// A note shown beside every metric (the demo says its metrics are synthetic).
    pub metrics_note: Option<String>,
}

impl Default for EvaluationSettings {
    fn default() -> Self {
        EvaluationSettings {
            calendar: Calendar::default(),
            scale: Scale::default(),
            redirect_after_terms: DEFAULT_REDIRECT_AFTER_TERMS,
            suppression_threshold: DEFAULT_THRESHOLD,
            metrics_note: None,
        }
    }
}

/// A form mistake: the field at fault and what is wrong, in plain English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

/// What a metrics import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsImportReport {
    pub rows_read: u64,
    pub saved: u64,
    pub rejected: Vec<RowError>,
    /// Measure codes added by this import (when new codes were allowed).
    pub new_measures: Vec<String>,
    /// False when any row was rejected: then nothing was written.
    pub written: bool,
}

/// One target with its measure and status.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetView {
    pub index: usize,
    pub target: Target,
    pub measure: MeasureDef,
    /// The school's name for a school-level target.
    pub school: Option<String>,
    pub status: RagStatus,
}

/// A before/after check of an activity's measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Impact {
    pub measure: MeasureDef,
    pub windows: Windows,
    pub comparison_group: String,
    pub result: DidResult,
    pub sentence: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivityView {
    pub index: usize,
    pub activity: Activity,
    pub priority: String,
    pub lead_school: String,
    pub schools: Vec<String>,
    pub impact: Option<Impact>,
    pub redirect: Option<String>,
}

/// A cluster's plan page.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanView {
    pub cluster: ClusterDetail,
    pub year: AcademicYear,
    pub plan: Plan,
    pub catalogue: Catalogue,
    pub targets: Vec<TargetView>,
    pub activities: Vec<ActivityView>,
    pub budget_total: Money,
    pub may_edit: bool,
    pub has_metrics: bool,
}

/// One measure's analysis for a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureAnalysis {
    pub measure: MeasureDef,
    pub group: PupilGroup,
    /// Gaps by year (not for counts of pupils, which are shown only as a suppressed table).
    pub points: Vec<GapPoint>,
    pub to_rest: Option<String>,
    pub to_national: Option<String>,
    /// School by school, each year's value as imported (only for roles that see schools).
    pub schools: Vec<(String, Vec<Observation>)>,
    /// For counts of pupils: schools × years, with totals, through the suppression rule.
    pub counts: Option<SuppressedTable>,
    pub years: Vec<AcademicYear>,
}

/// What has been spent, as far as the system knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendToDate {
    /// Where the figures come from, said plainly.
    pub source: String,
    /// Spend recorded in the host school's ledger in the period (`None` when it has no entries).
    pub spent: Option<Money>,
    /// What the funding policy in force allocates to the cluster's schools this year.
    pub allocated: Option<Money>,
    /// The plan's budget lines.
    pub planned: Money,
}

/// The snapshot's funding figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFunding {
    /// "Norfolk cluster funding, version 2".
    pub policy: String,
    pub budget: Money,
    pub to_schools: Money,
    /// Spent this academic year so far, per the ledger (`None` with no ledger entries).
    pub spent: Option<Money>,
}

/// A FADE round in a cluster's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRow {
    pub round: Round,
    pub report: Option<Report>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FadeList {
    pub cluster: ClusterDetail,
    pub rounds: Vec<RoundRow>,
    pub may_write: bool,
}

/// A FADE report as shown: stored narratives and judgements, and the Analysis drawn from data.
#[derive(Debug, Clone, PartialEq)]
pub struct FadeView {
    pub cluster: ClusterDetail,
    pub round: Round,
    pub covers_from: NaiveDate,
    pub report: Report,
    pub plan_year: AcademicYear,
    pub priorities: Vec<Priority>,
    pub analysis: Vec<MeasureAnalysis>,
    pub targets: Vec<TargetView>,
    pub activities: Vec<ActivityView>,
    pub spend: SpendToDate,
    pub scale: Scale,
    pub may_write: bool,
    pub may_judge: bool,
    pub school_level: bool,
}

/// The narratives of a report as entered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FadeText {
    pub focus: String,
    pub analysis_notes: String,
    pub develop_do: String,
    pub evaluation: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Cluster,
    Authority,
}

/// One cluster's line in the authority summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryLine {
    pub cluster: ClusterId,
    pub name: String,
    pub cluster_level: Option<String>,
    pub authority_level: Option<String>,
    /// Targets by RAG: red, amber, green, no data.
    pub rag: [u64; 4],
}

#[derive(Debug, Clone, PartialEq)]
pub struct FadeSummaryView {
    pub round: Round,
    pub rounds: Vec<Round>,
    pub scale: Scale,
    pub summary: Summary,
    /// Levels × (cluster, authority) through the publication rule, with totals.
    pub table: SuppressedTable,
    pub lines: Vec<SummaryLine>,
    pub settings: EvaluationSettings,
    pub may_change_settings: bool,
}

/// The latest figure for a measure in the snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyMetric {
    pub measure: MeasureDef,
    pub year: AcademicYear,
    pub cluster: Option<f64>,
    pub rest: Option<f64>,
    pub national: Option<f64>,
    pub sentence: Option<String>,
}

/// The one-page cluster profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub cluster: ClusterDetail,
    /// The funding policy in force and this cluster's budget under it (`None` when none is in
    /// force), and what the host school's ledger records as spent this academic year.
    pub funding: Option<SnapshotFunding>,
    pub governance: Option<ClusterHealth>,
    pub plan: Option<Plan>,
    pub year: AcademicYear,
    /// Targets by RAG: red, amber, green, no data.
    pub rag: [u64; 4],
    pub budget_total: Money,
    pub key_metrics: Vec<KeyMetric>,
    pub latest_fade: Option<(Round, Report)>,
    pub school_level: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuestionnaireRow {
    pub questionnaire: Questionnaire,
    pub cluster_name: String,
    pub answered: usize,
    /// Whether the signed-in head's school has answered (for heads).
    pub mine_answered: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuestionnaireView {
    pub questionnaire: Questionnaire,
    pub cluster_name: String,
    pub summary: QuestionnaireSummary,
    pub scale: Scale,
    /// The head's own school when they may answer, with their answers so far.
    pub answering_for: Option<(Urn, Option<Response>)>,
    pub threshold: u64,
}

fn denied(e: Denied) -> ServiceError {
    match e {
        Denied::OutOfScope => ServiceError::NotFound("cluster".into()),
        other => ServiceError::Forbidden(other.to_string()),
    }
}

/// Numeric yearly series of one school.
type Series = Vec<(AcademicYear, f64)>;

/// Metric values indexed for the analysis.
#[derive(Debug, Default)]
struct Values {
    /// (measure, group) → school → year → observation.
    by_key: HashMap<(String, PupilGroup), BTreeMap<Urn, BTreeMap<AcademicYear, Observation>>>,
    national: HashMap<(String, PupilGroup), Series>,
}

impl Values {
    fn new(records: Vec<MetricRecord>) -> Values {
        let mut v = Values::default();
        for r in records {
            let key = (r.measure, r.group);
            match r.place {
                Place::School(u) => {
                    v.by_key
                        .entry(key)
                        .or_default()
                        .entry(u)
                        .or_default()
                        .insert(r.period, r.value);
                }
                Place::National => {
                    if let Some(n) = r.value.number() {
                        v.national.entry(key).or_default().push((r.period, n.as_f64()));
                    }
                }
            }
        }
        v
    }
    fn school_series(&self, measure: &str, group: PupilGroup, urn: Urn, up_to: AcademicYear) -> Series {
        self.by_key
            .get(&(measure.to_string(), group))
            .and_then(|m| m.get(&urn))
            .map(|years| {
                years
                    .iter()
                    .filter(|(y, _)| **y <= up_to)
                    .filter_map(|(y, o)| o.number().map(|n| (*y, n.as_f64())))
                    .collect()
            })
            .unwrap_or_default()
    }
    /// The mean over `schools` per year (schools with a symbol left out).
    fn group_series(&self, measure: &str, group: PupilGroup, schools: &HashSet<Urn>, up_to: AcademicYear) -> Series {
        let mut sums: BTreeMap<AcademicYear, (f64, u32)> = BTreeMap::new();
        if let Some(m) = self.by_key.get(&(measure.to_string(), group)) {
            for (u, years) in m {
                if !schools.contains(u) {
                    continue;
                }
                for (y, o) in years.iter().filter(|(y, _)| **y <= up_to) {
                    if let Some(n) = o.number() {
                        let e = sums.entry(*y).or_default();
                        e.0 += n.as_f64();
                        e.1 += 1;
                    }
                }
            }
        }
        sums.into_iter().map(|(y, (s, n))| (y, s / f64::from(n))).collect()
    }
    fn years(&self, measure: &str, group: PupilGroup, up_to: AcademicYear) -> Vec<AcademicYear> {
        let mut ys: BTreeSet<AcademicYear> = BTreeSet::new();
        if let Some(m) = self.by_key.get(&(measure.to_string(), group)) {
            for years in m.values() {
                ys.extend(years.keys().filter(|y| **y <= up_to));
            }
        }
        ys.into_iter().collect()
    }
    fn has_numbers_for(&self, measure: &str, group: PupilGroup, schools: &HashSet<Urn>) -> bool {
        self.by_key.get(&(measure.to_string(), group)).is_some_and(|m| {
            m.iter()
                .any(|(u, ys)| schools.contains(u) && ys.values().any(|o| o.number().is_some()))
        })
    }
    /// Gaps of `members` against every other school of the authority, and national.
    fn gaps(&self, measure: &str, group: PupilGroup, members: &HashSet<Urn>, up_to: AcademicYear) -> Vec<GapPoint> {
        let Some(m) = self.by_key.get(&(measure.to_string(), group)) else {
            return Vec::new();
        };
        let mut inputs = Vec::new();
        for (u, years) in m {
            let cluster = members.contains(u).then_some(0);
            for (y, o) in years.iter().filter(|(y, _)| **y <= up_to) {
                inputs.push(GapInput {
                    period: *y,
                    cluster,
                    value: o.number().map(|n| n.as_f64()),
                });
            }
        }
        let national = self
            .national
            .get(&(measure.to_string(), group))
            .cloned()
            .unwrap_or_default();
        gaps_by_cluster(&inputs, 1, &national).pop().unwrap_or_default()
    }
    /// Before/after of each school in `schools` with data in both windows.
    fn changes(
        &self,
        measure: &str,
        group: PupilGroup,
        schools: &mut dyn Iterator<Item = Urn>,
        w: &Windows,
    ) -> Vec<BeforeAfter> {
        let Some(m) = self.by_key.get(&(measure.to_string(), group)) else {
            return Vec::new();
        };
        schools
            .filter_map(|u| {
                let series: Series = m
                    .get(&u)?
                    .iter()
                    .filter_map(|(y, o)| o.number().map(|n| (*y, n.as_f64())))
                    .collect();
                before_after(&series, w)
            })
            .collect()
    }
    fn latest_year(&self, measure: &str, group: PupilGroup) -> Option<AcademicYear> {
        self.by_key
            .get(&(measure.to_string(), group))?
            .values()
            .filter_map(|ys| ys.keys().next_back().copied())
            .max()
    }
}

impl Service {
    /// The authority's settings, or the defaults.
    pub(crate) async fn settings_of(&self, authority: AuthorityId) -> ServiceResult<EvaluationSettings> {
        Ok(self.store.evaluation_settings(authority).await?.unwrap_or_default())
    }

    pub async fn evaluation_settings(&self, user: &User) -> ServiceResult<EvaluationSettings> {
        self.settings_of(user.authority).await
    }

    /// Changes the FADE due dates, the judgement scale, the redirect prompt's terms and the
    /// suppression threshold (authority officers).
    pub async fn save_evaluation_settings(
        &self,
        user: &User,
        fade_due: &str,
        scale: &str,
        redirect_after_terms: &str,
        threshold: &str,
    ) -> ServiceResult<Result<EvaluationSettings, FieldError>> {
        authorise(user, None, Action::ChangeSettings).map_err(denied)?;
        let calendar = match Calendar::parse(fade_due) {
            Ok(c) => c,
            Err(e) => return Ok(Err(FieldError::new("fade_due", capitalise(&e.to_string())))),
        };
        let scale = match Scale::parse(scale) {
            Ok(s) => s,
            Err(e) => return Ok(Err(FieldError::new("scale", capitalise(&e.to_string())))),
        };
        let Some(terms) = redirect_after_terms
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|t| (1..=12).contains(t))
        else {
            return Ok(Err(FieldError::new(
                "redirect_after_terms",
                "Enter a whole number of terms from 1 to 12",
            )));
        };
        let Some(threshold) = threshold.trim().parse::<u64>().ok().filter(|t| (2..=100).contains(t)) else {
            return Ok(Err(FieldError::new(
                "threshold",
                "Enter a whole number from 2 to 100 (counts below it are shown as c)",
            )));
        };
        let settings = EvaluationSettings {
            calendar,
            scale,
            redirect_after_terms: terms,
            suppression_threshold: threshold,
            metrics_note: self.settings_of(user.authority).await?.metrics_note,
        };
        self.store.save_evaluation_settings(user.authority, &settings).await?;
        Ok(Ok(settings))
    }

    /// The built-in measures and the authority's own.
    pub async fn measure_catalogue(&self, authority: AuthorityId) -> ServiceResult<Catalogue> {
        let mut measures = default_measures();
        measures.extend(self.store.extra_measures(authority).await?);
        Ok(Catalogue::new(measures))
    }

    /// The cluster of a school-scoped user's school.
    async fn home_cluster(&self, user: &User) -> ServiceResult<Option<ClusterId>> {
        let Scope::School(urn) = user.scope else {
            return Ok(None);
        };
        Ok(self
            .store
            .current_memberships(user.authority, self.clock.today())
            .await?
            .into_iter()
            .find(|(u, _, _)| *u == urn)
            .map(|(_, c, _)| c))
    }

    async fn allowed(&self, user: &User, action: Action) -> ServiceResult<()> {
        let home = self.home_cluster(user).await?;
        authorise(user, home, action).map_err(denied)
    }

    async fn may(&self, user: &User, action: Action) -> ServiceResult<bool> {
        let home = self.home_cluster(user).await?;
        Ok(authorise(user, home, action).is_ok())
    }

    /// The cluster of the user's own school (school-scoped users), or their cluster (clerks).
    pub async fn home_cluster_of(&self, user: &User) -> ServiceResult<Option<ClusterId>> {
        match user.scope {
            Scope::Cluster(c) => Ok(Some(c)),
            _ => self.home_cluster(user).await,
        }
    }

    /// Whether the user may read the authority's FADE summary.
    pub fn may_read_fade_summary(&self, user: &User) -> bool {
        authorise(user, None, Action::ReadSummary).is_ok()
    }

    /// Whether the user may send questionnaires.
    pub fn may_send_questionnaires(&self, user: &User) -> bool {
        authorise(user, None, Action::SendQuestionnaire).is_ok()
    }

    /// The representation check for any register from counts (a calculator: nothing is stored).
    pub fn representation_check(
        &self,
        register: &domain::evaluation::analysis::RegisterCounts,
        school: &domain::casework::representation::Composition,
    ) -> Vec<domain::casework::representation::RepresentationRow> {
        domain::evaluation::analysis::representation_from_counts(register, school)
    }

    /// Imports a tidy metrics file, all-or-nothing (authority officers).
    pub async fn import_metrics(
        &self,
        user: &User,
        bytes: &[u8],
        accept_new_measures: bool,
    ) -> ServiceResult<MetricsImportReport> {
        authorise(user, None, Action::ImportMetrics).map_err(denied)?;
        self.import_metrics_into(user.authority, bytes, accept_new_measures)
            .await
    }

    pub(crate) async fn import_metrics_into(
        &self,
        authority: AuthorityId,
        bytes: &[u8],
        accept_new_measures: bool,
    ) -> ServiceResult<MetricsImportReport> {
        let mut catalogue = self.measure_catalogue(authority).await?;
        catalogue.accept_unknown = accept_new_measures;
        let parsed = parse_metrics(bytes, &catalogue).map_err(|e: FileError| ServiceError::Invalid(e.to_string()))?;
        let known: HashSet<Urn> = self
            .store
            .all_schools(authority)
            .await?
            .into_iter()
            .map(|s| s.school.urn)
            .collect();
        let mut rejected = parsed.errors;
        let mut rows = Vec::with_capacity(parsed.rows.len());
        for r in parsed.rows {
            match r.place {
                Place::School(u) if !known.contains(&u) => rejected.push(RowError {
                    line: r.line,
                    column: "school_urn".into(),
                    value: u.to_string(),
                    rule: "no school with this URN is on this authority's register".into(),
                }),
                _ => rows.push(r),
            }
        }
        rejected.sort_by(|a, b| (a.line, &a.column).cmp(&(b.line, &b.column)));
        let new_measures: Vec<MeasureDef> = rows
            .iter()
            .filter(|r| catalogue.get(&r.measure).is_none())
            .map(|r| r.measure.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|c| MeasureDef::unknown(&c))
            .collect();
        let mut report = MetricsImportReport {
            rows_read: parsed.rows_read,
            saved: 0,
            rejected,
            new_measures: new_measures.iter().map(|m| m.code.clone()).collect(),
            written: false,
        };
        if !report.rejected.is_empty() {
            report.new_measures.clear();
            return Ok(report);
        }
        report.saved = self.store.save_metrics(authority, &rows, &new_measures).await?;
        report.written = true;
        Ok(report)
    }

    async fn values(&self, authority: AuthorityId) -> ServiceResult<Values> {
        Ok(Values::new(self.store.metric_values(authority, None).await?))
    }

    /// The plan year a day falls in.
    pub fn plan_year(&self, year: Option<AcademicYear>) -> AcademicYear {
        year.unwrap_or_else(|| AcademicYear::containing(self.clock.today()))
    }

    fn target_views(
        plan: &Plan,
        detail: &ClusterDetail,
        catalogue: &Catalogue,
        values: &Values,
        up_to: AcademicYear,
    ) -> Vec<TargetView> {
        let members: HashSet<Urn> = detail.members.iter().map(|(s, _, _)| s.school.urn).collect();
        let name_of = |u: Urn| {
            detail
                .members
                .iter()
                .find(|(s, _, _)| s.school.urn == u)
                .map_or_else(|| u.to_string(), |(s, _, _)| s.school.name.clone())
        };
        plan.targets
            .iter()
            .enumerate()
            .filter_map(|(index, t)| {
                let measure = catalogue.get(&t.measure)?.clone();
                let series = match t.level {
                    TargetLevel::Cluster => values.group_series(&t.measure, t.group, &members, up_to),
                    TargetLevel::School(u) => values.school_series(&t.measure, t.group, u, up_to),
                };
                Some(TargetView {
                    index,
                    status: rag(t, measure.higher_is_better, &series),
                    school: match t.level {
                        TargetLevel::School(u) => Some(name_of(u)),
                        TargetLevel::Cluster => None,
                    },
                    target: t.clone(),
                    measure,
                })
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn activity_views(
        plan: &Plan,
        detail: &ClusterDetail,
        catalogue: &Catalogue,
        values: &Values,
        all_schools: &[Urn],
        settings: &EvaluationSettings,
        today: NaiveDate,
        authority_name: &str,
    ) -> Vec<ActivityView> {
        let members: HashSet<Urn> = detail.members.iter().map(|(s, _, _)| s.school.urn).collect();
        let name_of = |u: Urn| {
            detail
                .members
                .iter()
                .find(|(s, _, _)| s.school.urn == u)
                .map_or_else(|| u.to_string(), |(s, _, _)| s.school.name.clone())
        };
        plan.activities
            .iter()
            .enumerate()
            .map(|(index, a)| {
                let impact = a.measure.as_ref().and_then(|code| {
                    let measure = catalogue.get(code)?.clone();
                    if measure.unit == Unit::Count {
                        return None;
                    }
                    let latest = values.latest_year(code, PupilGroup::All)?;
                    let windows = Windows::around(AcademicYear::containing(a.starts_on), latest, 3)?;
                    let mut participating = a.participating.iter().copied();
                    let treated = values.changes(code, PupilGroup::All, &mut participating, &windows);
                    let mut others = all_schools.iter().copied().filter(|u| !members.contains(u));
                    let comparison = values.changes(code, PupilGroup::All, &mut others, &windows);
                    let result = difference_in_differences(
                        &treated,
                        &comparison,
                        measure.unit,
                        measure.higher_is_better,
                        &DidOptions::default(),
                    );
                    let comparison_group = format!(
                        "the {} schools in {authority_name} outside the cluster with results before and after",
                        result.comparison.schools
                    );
                    let sentence = did_sentence(
                        &result,
                        "The participating schools",
                        &comparison_group,
                        measure.unit,
                        &windows,
                    );
                    Some(Impact {
                        measure,
                        windows,
                        comparison_group,
                        result,
                        sentence,
                    })
                });
                let redirect = redirect_prompt(
                    &a.title,
                    a.budget,
                    a.starts_on,
                    today,
                    settings.redirect_after_terms,
                    impact.as_ref().map(|i| i.result.verdict),
                );
                ActivityView {
                    index,
                    priority: plan
                        .priorities
                        .get(a.priority)
                        .map(|p| p.title.clone())
                        .unwrap_or_default(),
                    lead_school: name_of(a.lead_school),
                    schools: a.participating.iter().map(|u| name_of(*u)).collect(),
                    activity: a.clone(),
                    impact,
                    redirect,
                }
            })
            .collect()
    }

    /// A cluster's plan for a year (default this year), with targets' RAG and activities' impact.
    pub async fn plan_view(
        &self,
        user: &User,
        cluster: ClusterId,
        year: Option<AcademicYear>,
    ) -> ServiceResult<PlanView> {
        self.allowed(user, Action::ReadCluster(cluster)).await?;
        let may_edit = self.may(user, Action::EditPlan(cluster)).await?;
        let detail = self.cluster(user, cluster).await?;
        let year = self.plan_year(year);
        let plan = self
            .store
            .plan(user.authority, cluster, year)
            .await?
            .unwrap_or_else(|| Plan::new(cluster, year));
        let catalogue = self.measure_catalogue(user.authority).await?;
        let values = self.values(user.authority).await?;
        let settings = self.settings_of(user.authority).await?;
        let all: Vec<Urn> = self
            .store
            .all_schools(user.authority)
            .await?
            .iter()
            .map(|s| s.school.urn)
            .collect();
        let authority = self.store.authority(user.authority).await?;
        let today = self.clock.today();
        Ok(PlanView {
            targets: Self::target_views(&plan, &detail, &catalogue, &values, AcademicYear::containing(today)),
            activities: Self::activity_views(
                &plan,
                &detail,
                &catalogue,
                &values,
                &all,
                &settings,
                today,
                &authority.name,
            ),
            budget_total: plan.budget_total().unwrap_or(Money::ZERO),
            has_metrics: !values.by_key.is_empty(),
            cluster: detail,
            year,
            plan,
            catalogue,
            may_edit,
        })
    }

    async fn edit_plan(
        &self,
        user: &User,
        cluster: ClusterId,
        year: AcademicYear,
        change: impl FnOnce(&mut Plan, &[Urn], &Catalogue) -> Result<(), FieldError>,
    ) -> ServiceResult<Result<(), FieldError>> {
        self.allowed(user, Action::EditPlan(cluster)).await?;
        let detail = self.cluster(user, cluster).await?;
        let members: Vec<Urn> = detail.members.iter().map(|(s, _, _)| s.school.urn).collect();
        let catalogue = self.measure_catalogue(user.authority).await?;
        let mut plan = self
            .store
            .plan(user.authority, cluster, year)
            .await?
            .unwrap_or_else(|| Plan::new(cluster, year));
        if let Err(e) = change(&mut plan, &members, &catalogue) {
            return Ok(Err(e));
        }
        self.store.save_plan(user.authority, &plan).await?;
        Ok(Ok(()))
    }

    pub async fn add_priority(
        &self,
        user: &User,
        cluster: ClusterId,
        year: AcademicYear,
        priority: Priority,
    ) -> ServiceResult<Result<(), FieldError>> {
        self.edit_plan(user, cluster, year, |plan, _, _| {
            check_priority(plan, &priority).map_err(|e| FieldError::new(e.field, e.message))?;
            plan.priorities.push(priority);
            Ok(())
        })
        .await
    }

    pub async fn add_activity(
        &self,
        user: &User,
        cluster: ClusterId,
        year: AcademicYear,
        mut activity: Activity,
    ) -> ServiceResult<Result<(), FieldError>> {
        if !activity.participating.contains(&activity.lead_school) {
            activity.participating.push(activity.lead_school);
        }
        activity.participating.sort_unstable();
        activity.participating.dedup();
        self.edit_plan(user, cluster, year, |plan, members, catalogue| {
            check_activity(plan, &activity, members, catalogue).map_err(|e| FieldError::new(e.field, e.message))?;
            plan.activities.push(activity);
            Ok(())
        })
        .await
    }

    pub async fn add_target(
        &self,
        user: &User,
        cluster: ClusterId,
        year: AcademicYear,
        target: Target,
    ) -> ServiceResult<Result<(), FieldError>> {
        self.edit_plan(user, cluster, year, |plan, members, catalogue| {
            check_plan_target(plan, &target, members, catalogue).map_err(|e| FieldError::new(e.field, e.message))?;
            plan.targets.push(target);
            Ok(())
        })
        .await
    }

    /// Removes an item (`priority`, `activity` or `target`) by its position. Removing a priority
    /// that activities serve is refused.
    pub async fn remove_plan_item(
        &self,
        user: &User,
        cluster: ClusterId,
        year: AcademicYear,
        kind: &str,
        index: usize,
    ) -> ServiceResult<Result<(), FieldError>> {
        let kind = kind.to_string();
        self.edit_plan(user, cluster, year, move |plan, _, _| {
            let missing = || FieldError::new("item", "That item is no longer in the plan");
            match kind.as_str() {
                "priority" => {
                    if index >= plan.priorities.len() {
                        return Err(missing());
                    }
                    if plan.activities.iter().any(|a| a.priority == index) {
                        return Err(FieldError::new(
                            "item",
                            "Activities serve this priority: remove or move them first",
                        ));
                    }
                    plan.priorities.remove(index);
                    for a in &mut plan.activities {
                        if a.priority > index {
                            a.priority -= 1;
                        }
                    }
                }
                "activity" if index < plan.activities.len() => {
                    plan.activities.remove(index);
                }
                "target" if index < plan.targets.len() => {
                    plan.targets.remove(index);
                }
                _ => return Err(missing()),
            }
            Ok(())
        })
        .await
    }

    /// The target helper: a proposal for a measure, group and level from prior attainment and
    /// trend, with the weak "+1" figure beside it.
    pub async fn target_proposal(
        &self,
        user: &User,
        cluster: ClusterId,
        measure: &str,
        group: PupilGroup,
        level: TargetLevel,
        target_year: AcademicYear,
    ) -> ServiceResult<Option<(MeasureDef, Proposal)>> {
        self.allowed(user, Action::ReadCluster(cluster)).await?;
        let catalogue = self.measure_catalogue(user.authority).await?;
        let Some(def) = catalogue.get(measure).cloned() else {
            return Ok(None);
        };
        let detail = self.cluster(user, cluster).await?;
        let members: HashSet<Urn> = detail.members.iter().map(|(s, _, _)| s.school.urn).collect();
        let values = self.values(user.authority).await?;
        let up_to = AcademicYear::containing(self.clock.today());
        let series = match level {
            TargetLevel::Cluster => values.group_series(measure, group, &members, up_to),
            TargetLevel::School(u) if members.contains(&u) => values.school_series(measure, group, u, up_to),
            TargetLevel::School(_) => return Ok(None),
        };
        let p = propose(&series, target_year, def.unit, def.higher_is_better);
        Ok(Some((def, p)))
    }

    fn analysis(
        detail: &ClusterDetail,
        plan: &Plan,
        catalogue: &Catalogue,
        values: &Values,
        up_to: AcademicYear,
        school_level: bool,
        threshold: u64,
    ) -> Vec<MeasureAnalysis> {
        let members: HashSet<Urn> = detail.members.iter().map(|(s, _, _)| s.school.urn).collect();
        // Measures the plan names first, then any other measure with data for the cluster.
        let mut keys: Vec<(String, PupilGroup)> = Vec::new();
        let mut push = |k: (String, PupilGroup)| {
            if !keys.contains(&k) {
                keys.push(k);
            }
        };
        for t in &plan.targets {
            push((t.measure.clone(), t.group));
        }
        for a in &plan.activities {
            if let Some(m) = &a.measure {
                push((m.clone(), PupilGroup::All));
            }
        }
        for m in &catalogue.measures {
            push((m.code.clone(), PupilGroup::All));
        }
        keys.into_iter()
            .filter(|(m, g)| values.has_numbers_for(m, *g, &members))
            .filter_map(|(code, group)| {
                let measure = catalogue.get(&code)?.clone();
                let years = values.years(&code, group, up_to);
                let schools_of = |urn: Urn| -> Vec<Observation> {
                    let held = values.by_key.get(&(code.clone(), group)).and_then(|m| m.get(&urn));
                    years
                        .iter()
                        .map(|y| {
                            held.and_then(|h| h.get(y))
                                .copied()
                                .unwrap_or(Observation::NotAvailable)
                        })
                        .collect()
                };
                if measure.unit == Unit::Count {
                    let counts: Vec<Vec<u64>> = detail
                        .members
                        .iter()
                        .map(|(s, _, _)| {
                            schools_of(s.school.urn)
                                .iter()
                                .map(|o| {
                                    o.number()
                                        .map_or(0, |n| u64::try_from(n.ten_thousandths() / 10_000).unwrap_or(0))
                                })
                                .collect()
                        })
                        .collect();
                    return Some(MeasureAnalysis {
                        counts: Some(publish(&counts, CountsOf::People, threshold)),
                        schools: if school_level {
                            detail
                                .members
                                .iter()
                                .map(|(s, _, _)| (s.school.name.clone(), Vec::new()))
                                .collect()
                        } else {
                            Vec::new()
                        },
                        measure,
                        group,
                        points: Vec::new(),
                        to_rest: None,
                        to_national: None,
                        years,
                    });
                }
                let points = values.gaps(&code, group, &members, up_to);
                Some(MeasureAnalysis {
                    to_rest: gap_sentence(
                        &points,
                        Against::RestOfAuthority,
                        measure.unit,
                        measure.higher_is_better,
                    ),
                    to_national: gap_sentence(&points, Against::National, measure.unit, measure.higher_is_better),
                    schools: if school_level {
                        detail
                            .members
                            .iter()
                            .map(|(s, _, _)| (s.school.name.clone(), schools_of(s.school.urn)))
                            .filter(|(_, obs)| obs.iter().any(|o| *o != Observation::NotAvailable))
                            .collect()
                    } else {
                        Vec::new()
                    },
                    measure,
                    group,
                    points,
                    counts: None,
                    years,
                })
            })
            .collect()
    }

    /// Spend for a cluster and period from the host school's ledger (payments and
    /// reimbursements reaching the spent accounts, less reversals, dated in the period), beside
    /// what the policy in force allocates to schools this year and the plan's budget lines.
    pub async fn spend_to_date(
        &self,
        user: &User,
        cluster: ClusterId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> ServiceResult<SpendToDate> {
        use domain::funding::ledger::AccountKind;
        self.allowed(user, Action::ReadCluster(cluster)).await?;
        let allocated = self
            .cluster_allocation(user, cluster)
            .await
            .ok()
            .flatten()
            .map(|v| v.allocation.to_schools());
        let journal = self.store.ledger_journal(user.authority, cluster).await?;
        let pence: i64 = journal
            .iter()
            .filter(|e| (from..=to).contains(&e.body.date))
            .flat_map(|e| e.body.lines.iter())
            .filter(|l| l.account.kind == AccountKind::Spent)
            .map(domain::funding::ledger::Line::signed_pence)
            .sum();
        let plan = self
            .store
            .plan(user.authority, cluster, AcademicYear::containing(to))
            .await?;
        let period = format!("{} to {}", from.format("%-d %B %Y"), to.format("%-d %B %Y"));
        Ok(SpendToDate {
            source: if journal.is_empty() {
                format!(
                    "No entries in the host school's ledger yet, so no spend from {period} can be shown; the allocation is the policy in force's."
                )
            } else {
                format!(
                    "Spent from {period} as recorded in the host school's ledger (payments and reimbursements, less reversals); allocated to schools under the funding policy in force."
                )
            },
            spent: (!journal.is_empty()).then(|| Money::from_pence(pence)),
            allocated,
            planned: plan.and_then(|p| p.budget_total()).unwrap_or(Money::ZERO),
        })
    }

    fn rounds_for(settings: &EvaluationSettings, today: NaiveDate, reports: &[Report]) -> Vec<Round> {
        let year = AcademicYear::containing(today);
        let mut rounds: Vec<Round> = settings.calendar.rounds_in(year.previous());
        rounds.extend(settings.calendar.rounds_in(year));
        for r in reports {
            if !rounds.iter().any(|x| x.due == r.due) {
                let y = AcademicYear::containing(r.due);
                rounds.push(settings.calendar.round_on(r.due).unwrap_or(Round {
                    due: r.due,
                    number: 0,
                    year: y,
                }));
            }
        }
        rounds.sort();
        rounds.reverse();
        rounds
    }

    /// A cluster's FADE rounds, newest first, with their reports where written.
    pub async fn fade_list(&self, user: &User, cluster: ClusterId) -> ServiceResult<FadeList> {
        self.allowed(user, Action::ReadCluster(cluster)).await?;
        let detail = self.cluster(user, cluster).await?;
        let settings = self.settings_of(user.authority).await?;
        let reports = self.store.fade_reports(user.authority, Some(cluster)).await?;
        let rounds = Self::rounds_for(&settings, self.clock.today(), &reports)
            .into_iter()
            .map(|round| RoundRow {
                report: reports.iter().find(|r| r.due == round.due).cloned(),
                round,
            })
            .collect();
        Ok(FadeList {
            cluster: detail,
            rounds,
            may_write: self.may(user, Action::WriteClusterReport(cluster)).await?,
        })
    }

    async fn round_of(
        &self,
        authority: AuthorityId,
        cluster: ClusterId,
        due: NaiveDate,
    ) -> ServiceResult<(Round, Option<Report>, EvaluationSettings)> {
        let settings = self.settings_of(authority).await?;
        let stored = self
            .store
            .fade_reports(authority, Some(cluster))
            .await?
            .into_iter()
            .find(|r| r.due == due);
        let round = match settings.calendar.round_on(due) {
            Some(r) => r,
            None if stored.is_some() => Round {
                due,
                number: 0,
                year: AcademicYear::containing(due),
            },
            None => return Err(ServiceError::NotFound(format!("FADE round due {due}"))),
        };
        Ok((round, stored, settings))
    }

    /// A cluster's FADE report for a round, pre-filled from the plan and the data.
    pub async fn fade_view(&self, user: &User, cluster: ClusterId, due: NaiveDate) -> ServiceResult<FadeView> {
        self.allowed(user, Action::ReadCluster(cluster)).await?;
        let detail = self.cluster(user, cluster).await?;
        let (round, stored, settings) = self.round_of(user.authority, cluster, due).await?;
        let plan_year = round.year;
        let plan = self
            .store
            .plan(user.authority, cluster, plan_year)
            .await?
            .unwrap_or_else(|| Plan::new(cluster, plan_year));
        let catalogue = self.measure_catalogue(user.authority).await?;
        let values = self.values(user.authority).await?;
        let school_level = sees_school_level(user.role);
        let all: Vec<Urn> = self
            .store
            .all_schools(user.authority)
            .await?
            .iter()
            .map(|s| s.school.urn)
            .collect();
        let authority = self.store.authority(user.authority).await?;
        let covers_from = round.covers_from(&settings.calendar);
        let spend = self.spend_to_date(user, cluster, covers_from, round.due).await?;
        Ok(FadeView {
            analysis: Self::analysis(
                &detail,
                &plan,
                &catalogue,
                &values,
                round.year,
                school_level,
                settings.suppression_threshold,
            ),
            targets: Self::target_views(&plan, &detail, &catalogue, &values, round.year),
            activities: Self::activity_views(
                &plan,
                &detail,
                &catalogue,
                &values,
                &all,
                &settings,
                round.due,
                &authority.name,
            ),
            report: stored.unwrap_or_else(|| Report::new(cluster, due)),
            priorities: plan.priorities.clone(),
            may_write: self.may(user, Action::WriteClusterReport(cluster)).await?,
            may_judge: self.may(user, Action::JudgeForAuthority).await?,
            scale: settings.scale.clone(),
            cluster: detail,
            covers_from,
            round,
            plan_year,
            spend,
            school_level,
        })
    }

    /// Saves the cluster's narratives (the cluster's clerk).
    pub async fn save_fade_text(
        &self,
        user: &User,
        cluster: ClusterId,
        due: NaiveDate,
        text: FadeText,
    ) -> ServiceResult<Result<(), FieldError>> {
        self.allowed(user, Action::WriteClusterReport(cluster)).await?;
        let (_, stored, _) = self.round_of(user.authority, cluster, due).await?;
        for (field, value) in [
            ("focus", &text.focus),
            ("analysis_notes", &text.analysis_notes),
            ("develop_do", &text.develop_do),
            ("evaluation", &text.evaluation),
        ] {
            if let Err(e) = check_narrative(field, value) {
                return Ok(Err(FieldError::new(e.field(), capitalise(&e.to_string()))));
            }
        }
        let mut report = stored.unwrap_or_else(|| Report::new(cluster, due));
        report.focus = text.focus;
        report.analysis_notes = text.analysis_notes;
        report.develop_do = text.develop_do;
        report.evaluation = text.evaluation;
        self.store.save_fade_report(user.authority, &report).await?;
        Ok(Ok(()))
    }

    /// Records (or clears, with an empty level) one side's judgement.
    pub async fn record_judgement(
        &self,
        user: &User,
        cluster: ClusterId,
        due: NaiveDate,
        side: Side,
        level: &str,
        comment: &str,
    ) -> ServiceResult<Result<(), FieldError>> {
        let (action, field) = match side {
            Side::Cluster => (Action::WriteClusterReport(cluster), "cluster_judgement"),
            Side::Authority => (Action::JudgeForAuthority, "authority_judgement"),
        };
        self.allowed(user, action).await?;
        // The authority's officers may judge any of its clusters; make sure it is one.
        self.cluster(user, cluster).await?;
        let (_, stored, settings) = self.round_of(user.authority, cluster, due).await?;
        let judgement = if level.trim().is_empty() {
            None
        } else {
            match check_level(field, level, &settings.scale) {
                Ok(level) => {
                    if comment.chars().count() > 4_000 {
                        return Ok(Err(FieldError::new(
                            "comment",
                            "The comment must be 4,000 characters or fewer",
                        )));
                    }
                    Some(Judgement {
                        level,
                        by: user.display_name.clone(),
                        on: self.clock.today(),
                        comment: comment.trim().to_string(),
                    })
                }
                Err(e) => return Ok(Err(FieldError::new(e.field(), capitalise(&e.to_string())))),
            }
        };
        let mut report = stored.unwrap_or_else(|| Report::new(cluster, due));
        match side {
            Side::Cluster => report.cluster_judgement = judgement,
            Side::Authority => report.authority_judgement = judgement,
        }
        self.store.save_fade_report(user.authority, &report).await?;
        Ok(Ok(()))
    }

    /// The authority's summary of a round (default: the latest round with any judgement, else
    /// the current one), like the FADE 2 table, with the agreement analysis.
    pub async fn fade_summary(&self, user: &User, due: Option<NaiveDate>) -> ServiceResult<FadeSummaryView> {
        authorise(user, None, Action::ReadSummary).map_err(denied)?;
        let settings = self.settings_of(user.authority).await?;
        let today = self.clock.today();
        let reports = self.store.fade_reports(user.authority, None).await?;
        let rounds = Self::rounds_for(&settings, today, &reports);
        let round = match due {
            Some(d) => rounds
                .iter()
                .find(|r| r.due == d)
                .cloned()
                .ok_or_else(|| ServiceError::NotFound(format!("FADE round due {d}")))?,
            // The latest round already due that has judgements, else the latest with any, else
            // the one now open.
            None => {
                let judged = |r: &&Round| {
                    reports
                        .iter()
                        .any(|x| x.due == r.due && (x.cluster_judgement.is_some() || x.authority_judgement.is_some()))
                };
                rounds
                    .iter()
                    .filter(|r| r.due <= today)
                    .find(judged)
                    .or_else(|| rounds.iter().find(judged))
                    .or_else(|| rounds.iter().rev().find(|r| r.due >= today))
            }
            .cloned()
            .unwrap_or_else(|| settings.calendar.current(today)),
        };
        let clusters = self.store.list_clusters(user.authority, today).await?;
        let catalogue = self.measure_catalogue(user.authority).await?;
        let values = self.values(user.authority).await?;
        let plans: HashMap<ClusterId, Plan> = self
            .store
            .plans(user.authority, round.year)
            .await?
            .into_iter()
            .map(|p| (p.cluster, p))
            .collect();
        let members: HashMap<ClusterId, HashSet<Urn>> = self
            .store
            .current_memberships(user.authority, today)
            .await?
            .into_iter()
            .fold(HashMap::new(), |mut m, (u, c, _)| {
                m.entry(c).or_default().insert(u);
                m
            });
        let mut lines = Vec::new();
        let mut pairs = Vec::new();
        for c in &clusters {
            let report = reports.iter().find(|r| r.due == round.due && r.cluster == c.cluster.id);
            let cluster_level = report
                .and_then(|r| r.cluster_judgement.as_ref())
                .map(|j| j.level.clone());
            let authority_level = report
                .and_then(|r| r.authority_judgement.as_ref())
                .map(|j| j.level.clone());
            let mut counts = [0u64; 4];
            if let Some(plan) = plans.get(&c.cluster.id) {
                let mine = members.get(&c.cluster.id).cloned().unwrap_or_default();
                for t in &plan.targets {
                    let Some(def) = catalogue.get(&t.measure) else { continue };
                    let series = match t.level {
                        TargetLevel::Cluster => values.group_series(&t.measure, t.group, &mine, round.year),
                        TargetLevel::School(u) => values.school_series(&t.measure, t.group, u, round.year),
                    };
                    let i = match rag(t, def.higher_is_better, &series).rag {
                        Rag::Red => 0,
                        Rag::Amber => 1,
                        Rag::Green => 2,
                        Rag::NoData => 3,
                    };
                    counts[i] += 1;
                }
            }
            pairs.push((cluster_level.clone(), authority_level.clone()));
            lines.push(SummaryLine {
                cluster: c.cluster.id,
                name: c.cluster.name.clone(),
                cluster_level,
                authority_level,
                rag: counts,
            });
        }
        let borrowed: Vec<(Option<&str>, Option<&str>)> =
            pairs.iter().map(|(a, b)| (a.as_deref(), b.as_deref())).collect();
        let summary = summarise(&settings.scale, &borrowed);
        let grid: Vec<Vec<u64>> = summary.rows.iter().map(|r| vec![r.cluster, r.authority]).collect();
        Ok(FadeSummaryView {
            table: publish(&grid, CountsOf::Organisations, settings.suppression_threshold),
            summary,
            lines,
            scale: settings.scale.clone(),
            may_change_settings: authorise(user, None, Action::ChangeSettings).is_ok(),
            settings,
            round,
            rounds,
        })
    }

    /// The one-page cluster profile.
    pub async fn cluster_snapshot(&self, user: &User, cluster: ClusterId) -> ServiceResult<Snapshot> {
        self.allowed(user, Action::ReadCluster(cluster)).await?;
        let detail = self.cluster(user, cluster).await?;
        let today = self.clock.today();
        let year = AcademicYear::containing(today);
        let funding = match self.cluster_allocation(user, cluster).await.ok().flatten() {
            Some(view) => Some(SnapshotFunding {
                policy: view.allocation.source.label(),
                budget: view.allocation.budget(),
                to_schools: view.allocation.to_schools(),
                spent: self.spend_to_date(user, cluster, year.first_day(), today).await?.spent,
            }),
            None => None,
        };
        let governance = self
            .governance_health(user)
            .await?
            .into_iter()
            .find(|h| h.cluster == cluster);
        let plan = self.store.plan(user.authority, cluster, year).await?;
        let catalogue = self.measure_catalogue(user.authority).await?;
        let values = self.values(user.authority).await?;
        let mut rag_counts = [0u64; 4];
        if let Some(p) = &plan {
            for t in Self::target_views(p, &detail, &catalogue, &values, year) {
                let i = match t.status.rag {
                    Rag::Red => 0,
                    Rag::Amber => 1,
                    Rag::Green => 2,
                    Rag::NoData => 3,
                };
                rag_counts[i] += 1;
            }
        }
        let members: HashSet<Urn> = detail.members.iter().map(|(s, _, _)| s.school.urn).collect();
        let key_metrics = catalogue
            .measures
            .iter()
            .filter(|m| m.unit != Unit::Count && values.has_numbers_for(&m.code, PupilGroup::All, &members))
            .filter_map(|m| {
                let points = values.gaps(&m.code, PupilGroup::All, &members, year);
                let last = points.iter().rev().find(|p| p.cluster.value.is_some())?;
                Some(KeyMetric {
                    measure: m.clone(),
                    year: last.period,
                    cluster: last.cluster.value,
                    rest: last.rest.value,
                    national: last.national,
                    sentence: gap_sentence(&points, Against::RestOfAuthority, m.unit, m.higher_is_better),
                })
            })
            .collect();
        let settings = self.settings_of(user.authority).await?;
        let latest_fade = self
            .store
            .fade_reports(user.authority, Some(cluster))
            .await?
            .into_iter()
            .filter(|r| r.due <= today || r.cluster_judgement.is_some() || r.authority_judgement.is_some())
            .max_by_key(|r| r.due)
            .map(|r| {
                let round = settings.calendar.round_on(r.due).unwrap_or(Round {
                    due: r.due,
                    number: 0,
                    year: AcademicYear::containing(r.due),
                });
                (round, r)
            });
        Ok(Snapshot {
            budget_total: plan.as_ref().and_then(Plan::budget_total).unwrap_or(Money::ZERO),
            school_level: sees_school_level(user.role),
            cluster: detail,
            funding,
            governance,
            plan,
            year,
            rag: rag_counts,
            key_metrics,
            latest_fade,
        })
    }

    /// Sends the inspection-criteria questionnaire to the heads of a cluster's schools.
    pub async fn send_questionnaire(
        &self,
        user: &User,
        cluster: ClusterId,
        title: &str,
        closes_on: NaiveDate,
    ) -> ServiceResult<Result<i64, FieldError>> {
        authorise(user, None, Action::SendQuestionnaire).map_err(denied)?;
        let detail = self.cluster(user, cluster).await?;
        let today = self.clock.today();
        if let Err(e) = check_questionnaire(title, today, closes_on) {
            return Ok(Err(FieldError::new(e.field(), capitalise(&e.to_string()))));
        }
        let q = Questionnaire {
            id: 0,
            cluster,
            title: title.trim().to_string(),
            sent_on: today,
            closes_on,
            schools: detail.members.iter().map(|(s, _, _)| s.school.urn).collect(),
        };
        Ok(Ok(self.store.create_questionnaire(user.authority, &q).await?))
    }

    /// Questionnaires the user may see: a head's school's, a cluster's, or all.
    pub async fn questionnaires(&self, user: &User) -> ServiceResult<Vec<QuestionnaireRow>> {
        let home = self.home_cluster(user).await?;
        let names: HashMap<ClusterId, String> = self
            .store
            .list_clusters(user.authority, self.clock.today())
            .await?
            .into_iter()
            .map(|c| (c.cluster.id, c.cluster.name))
            .collect();
        let mut out = Vec::new();
        for q in self.store.questionnaires(user.authority).await? {
            if authorise(user, home, Action::ReadCluster(q.cluster)).is_err() {
                continue;
            }
            let responses = self.store.questionnaire_responses(user.authority, q.id).await?;
            let mine_answered = match user.scope {
                Scope::School(u) if q.schools.contains(&u) => Some(responses.iter().any(|r| r.school == u)),
                _ => None,
            };
            out.push(QuestionnaireRow {
                cluster_name: names.get(&q.cluster).cloned().unwrap_or_default(),
                answered: responses.len(),
                mine_answered,
                questionnaire: q,
            });
        }
        out.sort_by(|a, b| {
            b.questionnaire
                .sent_on
                .cmp(&a.questionnaire.sent_on)
                .then(a.cluster_name.cmp(&b.cluster_name))
        });
        Ok(out)
    }

    async fn questionnaire_by_id(&self, user: &User, id: i64) -> ServiceResult<Questionnaire> {
        let q = self
            .store
            .questionnaires(user.authority)
            .await?
            .into_iter()
            .find(|q| q.id == id)
            .ok_or_else(|| ServiceError::NotFound(format!("questionnaire {id}")))?;
        self.allowed(user, Action::ReadCluster(q.cluster)).await?;
        Ok(q)
    }

    /// One questionnaire's summary (suppressed), and the head's own answers when they may answer.
    pub async fn questionnaire_view(&self, user: &User, id: i64) -> ServiceResult<QuestionnaireView> {
        let q = self.questionnaire_by_id(user, id).await?;
        let settings = self.settings_of(user.authority).await?;
        let responses = self.store.questionnaire_responses(user.authority, id).await?;
        let answering_for = match user.scope {
            Scope::School(u) if q.schools.contains(&u) && self.may(user, Action::AnswerQuestionnaire).await? => {
                Some((u, responses.iter().find(|r| r.school == u).cloned()))
            }
            _ => None,
        };
        let cluster_name = self.cluster(user, q.cluster).await?.summary.cluster.name;
        Ok(QuestionnaireView {
            summary: summarise_questionnaire(&q, &responses, &settings.scale, settings.suppression_threshold),
            scale: settings.scale,
            threshold: settings.suppression_threshold,
            questionnaire: q,
            cluster_name,
            answering_for,
        })
    }

    /// A head's answers for their own school. `answers` holds, per criterion, the level as
    /// written or "dont_know".
    pub async fn answer_questionnaire(
        &self,
        user: &User,
        id: i64,
        answers: &[String],
        comment: &str,
    ) -> ServiceResult<Result<(), FieldError>> {
        self.allowed(user, Action::AnswerQuestionnaire).await?;
        let q = self.questionnaire_by_id(user, id).await?;
        let Scope::School(school) = user.scope else {
            return Err(ServiceError::Forbidden("only a school's head may answer".into()));
        };
        if !q.schools.contains(&school) {
            return Err(ServiceError::NotFound(format!("questionnaire {id}")));
        }
        let settings = self.settings_of(user.authority).await?;
        let mut parsed = Vec::with_capacity(CRITERIA.len());
        for (i, criterion) in CRITERIA.iter().enumerate() {
            let raw = answers.get(i).map(|s| s.trim()).unwrap_or_default();
            let v = match raw {
                "" => {
                    return Ok(Err(FieldError::new(
                        criterion.code,
                        format!("Choose an answer for “{}” (or don't know)", criterion.question),
                    )));
                }
                "dont_know" => None,
                level => match settings.scale.index_of(level) {
                    Some(k) => Some(k),
                    None => {
                        return Ok(Err(FieldError::new(
                            criterion.code,
                            format!("Choose an answer from the scale for “{}”", criterion.question),
                        )));
                    }
                },
            };
            parsed.push(v);
        }
        let response = Response {
            school,
            answers: parsed,
            comment: comment.trim().to_string(),
            submitted_on: self.clock.today(),
        };
        if let Err(e) = check_response(&q, &response, &settings.scale) {
            return Ok(Err(FieldError::new(e.field(), capitalise(&e.to_string()))));
        }
        self.store
            .save_questionnaire_response(user.authority, id, &response)
            .await?;
        Ok(Ok(()))
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}
