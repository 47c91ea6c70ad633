//! What an audit contains, and how each metric is computed from the store's rows.
//!
//! [`Audit`] is also the JSON document (`--format json`): its field names are the schema, and
//! [`SCHEMA_VERSION`] changes whenever a field changes meaning or disappears (adding a field does
//! not). Every other format renders this same value, so no format computes a number of its own.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::classify::discount::{DiscountKind, detect_discount};
use crate::config::CampaignSettings;
use crate::digest::comment_link;
use crate::domain::Category;
use crate::store::{AnswerRole, AuditComment, AuditPost, AuditWindow};

/// Name of the JSON schema, in every JSON audit's `schema` field.
pub const SCHEMA: &str = "comment-triage/audit";
/// Version of the JSON schema (see `docs/audit-json.md`).
pub const SCHEMA_VERSION: u32 = 1;
/// Average order value used when the campaign sets none, in the campaign's currency.
pub const DEFAULT_ORDER_VALUE: f64 = 50.0;
/// Share of answered product questions assumed to convert when the campaign sets none.
pub const DEFAULT_CONVERSION_SHARE: f64 = 0.1;
/// How "revenue at risk" is computed; shown wherever the figure appears.
pub const REVENUE_FORMULA: &str =
    "unanswered product questions × conversion share × average order value";

const HOUR: i64 = 3_600;

/// A campaign audit at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`SCHEMA_VERSION`] of the program that wrote it.
    pub schema_version: u32,
    pub generated_at: DateTime<Utc>,
    pub campaign: CampaignInfo,
    pub assumptions: Assumptions,
    /// The whole campaign.
    pub totals: Metrics,
    /// One entry per creator (config order), each with its posts.
    pub creators: Vec<CreatorAudit>,
    /// Every question in the window, by creator, post and time.
    pub questions: Vec<QuestionRecord>,
    /// Comments asking for a discount code or saying one does not work, oldest first.
    pub discount_alerts: Vec<DiscountAlert>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignInfo {
    pub name: String,
    pub brand: String,
    pub brand_handle: Option<String>,
    /// Questions asked at or after this instant (inclusive); `null`: from the start.
    pub since: Option<DateTime<Utc>>,
    /// Questions asked before this instant (exclusive); `null`: up to `generated_at`.
    pub until: Option<DateTime<Utc>>,
}

/// The assumptions behind the revenue estimate, and whether each is the built-in default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumptions {
    /// In `currency` units.
    pub average_order_value: f64,
    pub average_order_value_is_default: bool,
    /// Between 0 and 1.
    pub conversion_share: f64,
    pub conversion_share_is_default: bool,
    pub currency: String,
    pub sla_hours: u64,
    /// [`REVENUE_FORMULA`].
    pub revenue_formula: String,
}

impl Assumptions {
    pub fn of(campaign: &CampaignSettings) -> Assumptions {
        Assumptions {
            average_order_value: campaign.average_order_value.unwrap_or(DEFAULT_ORDER_VALUE),
            average_order_value_is_default: campaign.average_order_value.is_none(),
            conversion_share: campaign
                .conversion_share
                .unwrap_or(DEFAULT_CONVERSION_SHARE),
            conversion_share_is_default: campaign.conversion_share.is_none(),
            currency: campaign.currency.clone(),
            sla_hours: campaign.sla_hours,
            revenue_formula: REVENUE_FORMULA.to_owned(),
        }
    }

    /// `50.00 USD (default)`.
    pub fn order_value_label(&self) -> String {
        format!(
            "{:.2} {}{}",
            self.average_order_value,
            self.currency,
            default_mark(self.average_order_value_is_default)
        )
    }

    /// `10 % (default)`.
    pub fn conversion_label(&self) -> String {
        format!(
            "{} %{}",
            trim_number(self.conversion_share * 100.0),
            default_mark(self.conversion_share_is_default)
        )
    }

    /// The estimate in one sentence, with its formula and assumptions.
    pub fn explain(&self, metrics: &Metrics) -> String {
        format!(
            "Revenue at risk (estimate): {} = {} unanswered product questions × {} conversion × {} average order",
            money(metrics.revenue_at_risk, &self.currency),
            metrics.unanswered_product_questions,
            self.conversion_label(),
            self.order_value_label()
        )
    }
}

fn default_mark(is_default: bool) -> &'static str {
    if is_default { " (default)" } else { "" }
}

fn trim_number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `1234.50 USD`.
pub fn money(value: f64, currency: &str) -> String {
    format!("{value:.2} {currency}")
}

/// The numbers of one scope (campaign, creator or post). Durations are whole seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub posts: u64,
    /// Comments and replies in the window still on the platform, whoever wrote them.
    pub comments: u64,
    /// Top-level audience comments classified as a question (product or other).
    pub questions: u64,
    pub product_questions: u64,
    /// Every category, zero included.
    pub product_questions_by_category: BTreeMap<Category, u64>,
    pub answered_by_creator: u64,
    pub answered_by_brand: u64,
    /// No creator or brand answer, but another commenter replied.
    pub answered_only_by_community: u64,
    /// No reply from anyone.
    pub unanswered: u64,
    /// Hidden by the creator without an answer: not counted as missed.
    pub hidden_unanswered: u64,
    /// Creator or brand answer within one hour of the question.
    pub answered_within_1h: u64,
    /// Creator or brand answer after one hour, within 24 hours.
    pub answered_1h_to_24h: u64,
    pub answered_after_24h: u64,
    /// Without a creator or brand answer (community-only, unanswered and hidden).
    pub never_answered: u64,
    /// (answered by creator + by brand) / questions; `null` without questions.
    pub response_rate: Option<f64>,
    /// Median time to a creator or brand answer (linear interpolation); `null` without answers.
    pub median_secs_to_answer: Option<i64>,
    /// 90th percentile of the same (linear interpolation).
    pub p90_secs_to_answer: Option<i64>,
    /// Missed questions (community-only or unanswered) older than the SLA.
    pub open_past_sla: u64,
    /// Product questions without a creator or brand answer, hidden ones excluded.
    pub unanswered_product_questions: u64,
    /// Estimate: [`REVENUE_FORMULA`], rounded to cents.
    pub revenue_at_risk: f64,
}

/// One creator's numbers and posts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatorAudit {
    /// The account's config name.
    pub account: String,
    pub metrics: Metrics,
    pub posts: Vec<PostAudit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostAudit {
    pub post_id: String,
    pub platform: String,
    pub permalink: Option<String>,
    pub caption: String,
    pub created_at: DateTime<Utc>,
    pub metrics: Metrics,
}

/// Where a question stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionStatus {
    AnsweredByCreator,
    AnsweredByBrand,
    /// Another commenter replied; neither the creator nor the brand did.
    AnsweredOnlyByCommunity,
    Unanswered,
    /// Hidden by the creator, without an answer.
    Hidden,
}

impl QuestionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionStatus::AnsweredByCreator => "answered_by_creator",
            QuestionStatus::AnsweredByBrand => "answered_by_brand",
            QuestionStatus::AnsweredOnlyByCommunity => "answered_only_by_community",
            QuestionStatus::Unanswered => "unanswered",
            QuestionStatus::Hidden => "hidden",
        }
    }

    /// A question the creator or the brand still owes an answer to.
    pub fn is_missed(self) -> bool {
        matches!(
            self,
            QuestionStatus::AnsweredOnlyByCommunity | QuestionStatus::Unanswered
        )
    }

    pub fn is_answered(self) -> bool {
        matches!(
            self,
            QuestionStatus::AnsweredByCreator | QuestionStatus::AnsweredByBrand
        )
    }
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionRecord {
    pub creator: String,
    pub platform: String,
    pub post_id: String,
    pub comment_id: String,
    pub link: Option<String>,
    pub author: String,
    /// The comment as written: escape it for whatever displays it.
    pub text: String,
    /// `null` for a question that is not about the product.
    pub category: Option<Category>,
    pub asked_at: DateTime<Utc>,
    pub status: QuestionStatus,
    pub answered_at: Option<DateTime<Utc>>,
    /// Handle of the creator or brand account that answered.
    pub answered_by: Option<String>,
    pub secs_to_answer: Option<i64>,
    /// For a missed question: how long it has waited at `generated_at`.
    pub age_secs: Option<i64>,
    pub past_sla: bool,
    pub discount: Option<DiscountKind>,
}

/// A comment about a discount code that the brand must see today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscountAlert {
    pub creator: String,
    pub post_id: String,
    pub comment_id: String,
    pub link: Option<String>,
    pub author: String,
    pub text: String,
    pub kind: DiscountKind,
    /// The campaign code the comment names, as configured.
    pub code: Option<String>,
    pub asked_at: DateTime<Utc>,
    /// Answered by the creator or the brand.
    pub answered: bool,
}

/// Accumulates one scope's metrics from its question records.
#[derive(Debug, Default)]
struct Tally {
    posts: u64,
    comments: u64,
    questions: u64,
    by_category: BTreeMap<Category, u64>,
    by_status: HashMap<QuestionStatus, u64>,
    within_1h: u64,
    within_24h: u64,
    after_24h: u64,
    delays: Vec<i64>,
    past_sla: u64,
    unanswered_product: u64,
}

impl Tally {
    fn add(&mut self, q: &QuestionRecord) {
        self.questions += 1;
        if let Some(category) = q.category {
            *self.by_category.entry(category).or_default() += 1;
            if q.status.is_missed() {
                self.unanswered_product += 1;
            }
        }
        *self.by_status.entry(q.status).or_default() += 1;
        if let Some(delay) = q.secs_to_answer {
            match delay {
                d if d <= HOUR => self.within_1h += 1,
                d if d <= 24 * HOUR => self.within_24h += 1,
                _ => self.after_24h += 1,
            }
            self.delays.push(delay);
        }
        if q.past_sla {
            self.past_sla += 1;
        }
    }

    fn finish(mut self, assumptions: &Assumptions) -> Metrics {
        self.delays.sort_unstable();
        let status = |s| self.by_status.get(&s).copied().unwrap_or(0);
        let answered =
            status(QuestionStatus::AnsweredByCreator) + status(QuestionStatus::AnsweredByBrand);
        let mut by_category: BTreeMap<Category, u64> =
            Category::ALL.into_iter().map(|c| (c, 0)).collect();
        by_category.extend(self.by_category);
        let revenue = self.unanswered_product as f64
            * assumptions.conversion_share
            * assumptions.average_order_value;
        Metrics {
            posts: self.posts,
            comments: self.comments,
            questions: self.questions,
            product_questions: by_category.values().sum(),
            product_questions_by_category: by_category,
            answered_by_creator: status(QuestionStatus::AnsweredByCreator),
            answered_by_brand: status(QuestionStatus::AnsweredByBrand),
            answered_only_by_community: status(QuestionStatus::AnsweredOnlyByCommunity),
            unanswered: status(QuestionStatus::Unanswered),
            hidden_unanswered: status(QuestionStatus::Hidden),
            answered_within_1h: self.within_1h,
            answered_1h_to_24h: self.within_24h,
            answered_after_24h: self.after_24h,
            never_answered: self.questions - answered,
            response_rate: (self.questions > 0)
                .then(|| round_to(answered as f64 / self.questions as f64, 4)),
            median_secs_to_answer: percentile(&self.delays, 0.5),
            p90_secs_to_answer: percentile(&self.delays, 0.9),
            open_past_sla: self.past_sla,
            unanswered_product_questions: self.unanswered_product,
            revenue_at_risk: round_to(revenue, 2),
        }
    }
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// The `p`-quantile (0..=1) of sorted values, interpolating linearly between the two nearest ranks
/// (the spreadsheet `PERCENTILE.INC` / NumPy default), rounded to a whole second.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = p.clamp(0.0, 1.0) * last as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    let fraction = rank - low as f64;
    let value = sorted[low] as f64 + fraction * (sorted[high] - sorted[low]) as f64;
    Some(value.round() as i64)
}

/// Builds the audit of one campaign from the store's rows, at `now`.
pub fn build_audit(
    campaign: &CampaignSettings,
    window: AuditWindow,
    posts: &[AuditPost],
    comments: Vec<AuditComment>,
    now: DateTime<Utc>,
) -> Audit {
    let assumptions = Assumptions::of(campaign);
    let sla_secs = assumptions.sla_hours.saturating_mul(HOUR as u64) as i64;
    let post_index: HashMap<_, usize> = posts.iter().enumerate().map(|(i, p)| (p.key, i)).collect();

    let mut questions: Vec<(usize, QuestionRecord)> = Vec::new();
    let mut alerts = Vec::new();
    for c in comments {
        let Some(&index) = post_index.get(&c.post) else {
            continue;
        };
        let post = &posts[index];
        let link = post
            .permalink
            .as_deref()
            .map(|p| comment_link(&post.platform, p, &c.external_id));
        let discount = detect_discount(&c.text, c.label, &campaign.discount_codes);
        if let Some((kind, code)) = &discount {
            alerts.push(DiscountAlert {
                creator: post.account.clone(),
                post_id: post.external_id.clone(),
                comment_id: c.external_id.clone(),
                link: link.clone(),
                author: c.author_handle.clone(),
                text: c.text.clone(),
                kind: *kind,
                code: code.clone(),
                asked_at: c.created_at,
                answered: c.answer.is_some(),
            });
        }
        if !c.label.is_question() {
            continue;
        }
        let status = match (&c.answer, c.hidden, c.community_replied) {
            (Some(a), _, _) if a.role == AnswerRole::Brand => QuestionStatus::AnsweredByBrand,
            (Some(_), _, _) => QuestionStatus::AnsweredByCreator,
            (None, true, _) => QuestionStatus::Hidden,
            (None, false, true) => QuestionStatus::AnsweredOnlyByCommunity,
            (None, false, false) => QuestionStatus::Unanswered,
        };
        let age_secs = status
            .is_missed()
            .then(|| (now - c.created_at).num_seconds().max(0));
        questions.push((
            index,
            QuestionRecord {
                creator: post.account.clone(),
                platform: post.platform.clone(),
                post_id: post.external_id.clone(),
                comment_id: c.external_id,
                link,
                author: c.author_handle,
                text: c.text,
                category: c.label.category(),
                asked_at: c.created_at,
                status,
                answered_at: c.answer.as_ref().map(|a| a.at),
                answered_by: c.answer.as_ref().map(|a| a.by.clone()),
                secs_to_answer: c
                    .answer
                    .as_ref()
                    .map(|a| (a.at - c.created_at).num_seconds().max(0)),
                age_secs,
                past_sla: age_secs.is_some_and(|age| age > sla_secs),
                discount: discount.map(|(kind, _)| kind),
            },
        ));
    }

    // Creators in config order, then any other account the store has posts of.
    let mut creator_names: Vec<String> = campaign.accounts.clone();
    for post in posts {
        if !creator_names.contains(&post.account) {
            creator_names.push(post.account.clone());
        }
    }
    let mut post_tallies: Vec<Tally> = posts
        .iter()
        .map(|p| Tally {
            posts: 1,
            comments: p.comments,
            ..Tally::default()
        })
        .collect();
    let mut creator_tallies: HashMap<&str, Tally> = HashMap::new();
    let mut total = Tally::default();
    for post in posts {
        let tally = creator_tallies.entry(post.account.as_str()).or_default();
        tally.posts += 1;
        tally.comments += post.comments;
        total.posts += 1;
        total.comments += post.comments;
    }
    for (index, q) in &questions {
        post_tallies[*index].add(q);
        creator_tallies
            .entry(posts[*index].account.as_str())
            .or_default()
            .add(q);
        total.add(q);
    }
    let mut post_metrics: Vec<Option<Metrics>> = post_tallies
        .into_iter()
        .map(|t| Some(t.finish(&assumptions)))
        .collect();
    let creators = creator_names
        .iter()
        .map(|name| CreatorAudit {
            account: name.clone(),
            metrics: creator_tallies
                .remove(name.as_str())
                .unwrap_or_default()
                .finish(&assumptions),
            posts: posts
                .iter()
                .enumerate()
                .filter(|(_, p)| &p.account == name)
                .map(|(i, p)| PostAudit {
                    post_id: p.external_id.clone(),
                    platform: p.platform.clone(),
                    permalink: p.permalink.clone(),
                    caption: p.caption.clone(),
                    created_at: p.created_at,
                    metrics: post_metrics[i].take().expect("each post is listed once"),
                })
                .collect(),
        })
        .collect();

    let creator_rank: HashMap<&str, usize> = creator_names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    questions.sort_by_key(|(index, q)| (creator_rank[q.creator.as_str()], *index, q.asked_at));
    alerts.sort_by(|a, b| (a.asked_at, &a.comment_id).cmp(&(b.asked_at, &b.comment_id)));
    Audit {
        schema: SCHEMA.to_owned(),
        schema_version: SCHEMA_VERSION,
        generated_at: now,
        campaign: CampaignInfo {
            name: campaign.name.clone(),
            brand: campaign.brand.clone(),
            brand_handle: campaign.brand_handle.clone(),
            since: window.since,
            until: window.until,
        },
        totals: total.finish(&assumptions),
        assumptions,
        creators,
        questions: questions.into_iter().map(|(_, q)| q).collect(),
        discount_alerts: alerts,
    }
}

impl Audit {
    /// Questions the creator or the brand still owes an answer to, oldest first.
    pub fn missed_questions(&self) -> Vec<&QuestionRecord> {
        let mut missed: Vec<&QuestionRecord> = self
            .questions
            .iter()
            .filter(|q| q.status.is_missed())
            .collect();
        missed.sort_by_key(|q| q.asked_at);
        missed
    }
}

/// The columns the table and the HTML report show for each scope: a short heading (terminal),
/// a long one (HTML), and the display width in the terminal.
pub const DISPLAY_COLUMNS: [(&str, &str, usize); 15] = [
    ("comm.", "comments", 6),
    ("qs", "questions", 5),
    ("prod", "product questions", 5),
    ("≤1h", "answered ≤ 1 h", 5),
    ("1–24h", "answered 1–24 h", 6),
    (">24h", "answered > 24 h", 5),
    ("never", "never answered", 6),
    ("creator", "by creator", 7),
    ("brand", "by brand", 5),
    ("comm", "only another commenter", 5),
    ("rate", "response rate", 7),
    ("median", "median time to answer", 8),
    ("p90", "p90 time to answer", 8),
    ("SLA!", "open past SLA", 5),
    ("at risk", "revenue at risk (estimate)", 11),
];

/// The values of [`DISPLAY_COLUMNS`] for one scope; revenue without its currency.
pub fn display_values(m: &Metrics) -> [String; 15] {
    [
        m.comments.to_string(),
        m.questions.to_string(),
        m.product_questions.to_string(),
        m.answered_within_1h.to_string(),
        m.answered_1h_to_24h.to_string(),
        m.answered_after_24h.to_string(),
        m.never_answered.to_string(),
        m.answered_by_creator.to_string(),
        m.answered_by_brand.to_string(),
        m.answered_only_by_community.to_string(),
        format_rate(m.response_rate),
        format_secs(m.median_secs_to_answer),
        format_secs(m.p90_secs_to_answer),
        m.open_past_sla.to_string(),
        format!("{:.2}", m.revenue_at_risk),
    ]
}

/// Longest list of missed questions or discount alerts the table and the HTML report show; the
/// CSV and the JSON always list every one.
pub const LIST_LIMIT: usize = 500;

/// `45m`, `3h 05m`, `2d 4h` for a duration in seconds; `–` for none.
pub fn format_secs(secs: Option<i64>) -> String {
    secs.map_or("–".to_owned(), |s| {
        crate::digest::format_age(chrono::Duration::seconds(s))
    })
}

/// `83.3 %`, or `–` without questions.
pub fn format_rate(rate: Option<f64>) -> String {
    rate.map_or("–".to_owned(), |r| format!("{:.1} %", r * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.9), Some(7));
        assert_eq!(percentile(&[10, 20, 30, 40], 0.5), Some(25));
        // rank 0.9 × 9 = 8.1 → 90 + 0.1 × (100 − 90)
        let values: Vec<i64> = (1..=10).map(|v| v * 10).collect();
        assert_eq!(percentile(&values, 0.9), Some(91));
    }
}
