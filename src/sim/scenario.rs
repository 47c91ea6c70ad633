//! The simulated world, generated once from the seed: accounts, posts, and every comment and
//! reply that will ever exist, each with its creation time (and deletion time for deleted spam).
//!
//! Invariants: ids are unique numeric strings (17 or 18 digits); a reply is always newer than its
//! parent; replies only hang under top-level comments; comments that get deleted never get
//! replies; listing indexes are sorted newest first by `(timestamp, numeric id)`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};

use crate::domain::{Category, Label, Platform};

use super::generate::{self, Lang, PRODUCTS, Product, SimRng};
use super::{INITIAL_CLOCK_OFFSET_HOURS, ScenarioParams, SimAccount, TruthComment};

/// Who wrote a comment, relative to the media's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Owner,
    Brand,
    Audience,
}

#[derive(Debug)]
pub(crate) struct SimMedia {
    pub(crate) id: String,
    pub(crate) account: usize,
    pub(crate) shortcode: String,
    pub(crate) caption: String,
    pub(crate) media_type: &'static str,
    pub(crate) product_type: &'static str,
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) like_count: u32,
}

impl SimMedia {
    pub(crate) fn permalink(&self) -> String {
        let kind = if self.product_type == "REELS" {
            "reel"
        } else {
            "p"
        };
        format!("https://www.instagram.com/{kind}/{}/", self.shortcode)
    }
}

#[derive(Debug)]
pub(crate) struct SimComment {
    pub(crate) id: String,
    /// The id as a number, for ordering.
    pub(crate) key: u64,
    pub(crate) media: usize,
    /// Index of the top-level comment, for a reply.
    pub(crate) parent: Option<usize>,
    pub(crate) username: String,
    pub(crate) from_id: String,
    pub(crate) role: Role,
    pub(crate) text: String,
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) hidden: bool,
    pub(crate) deleted_at: Option<DateTime<Utc>>,
    pub(crate) like_count: u32,
    pub(crate) intended: Label,
    /// When the author edited the text, and what it says since.
    pub(crate) edit: Option<(DateTime<Utc>, String)>,
}

impl SimComment {
    pub(crate) fn visible_at(&self, now: DateTime<Utc>) -> bool {
        self.timestamp <= now && self.deleted_at.is_none_or(|gone| now < gone)
    }

    /// The text as the platform shows it at `now`.
    pub(crate) fn text_at(&self, now: DateTime<Utc>) -> &str {
        match &self.edit {
            Some((at, text)) if *at <= now => text,
            _ => &self.text,
        }
    }

    /// When the text last changed, as of `now`.
    pub(crate) fn updated_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match &self.edit {
            Some((at, _)) if *at <= now => *at,
            _ => self.timestamp,
        }
    }
}

/// What an id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Account(usize),
    Brand,
    Media(usize),
    Comment(usize),
}

#[derive(Debug)]
pub(crate) struct Scenario {
    pub(crate) accounts: Vec<SimAccount>,
    pub(crate) followers: Vec<u32>,
    pub(crate) brand: SimAccount,
    pub(crate) media: Vec<SimMedia>,
    pub(crate) comments: Vec<SimComment>,
    /// Per account, media indexes newest first.
    pub(crate) media_by_account: Vec<Vec<usize>>,
    /// Per media, top-level comment indexes newest first.
    pub(crate) top_level_by_media: Vec<Vec<usize>>,
    /// Per top-level comment, reply indexes newest first.
    pub(crate) replies_by_comment: HashMap<usize, Vec<usize>>,
    pub(crate) nodes: HashMap<String, Node>,
    pub(crate) clock_start: DateTime<Utc>,
}

impl Scenario {
    pub(crate) fn build(params: &ScenarioParams) -> Scenario {
        let mut scenario = Builder::new(params).build();
        super::ids::assign_platforms(&mut scenario, params);
        add_edits(&mut scenario, params);
        scenario
    }

    /// The platform of the account owning a media.
    pub(crate) fn platform_of_media(&self, media: usize) -> Platform {
        self.accounts[self.media[media].account].platform
    }

    /// Whether a default listing shows the comment now. YouTube holds the comments an owner would
    /// hide (the generator's hidden spam) for review: they are left out of default listings.
    pub(crate) fn listed_at(&self, comment: usize, now: DateTime<Utc>) -> bool {
        let c = &self.comments[comment];
        c.visible_at(now) && !(c.hidden && self.platform_of_media(c.media) == Platform::Youtube)
    }

    /// Every comment and reply of a media, in no particular order: what a comment count counts,
    /// without a scan of the whole world for each post a listing shows.
    pub(crate) fn comments_of_media(&self, media: usize) -> impl Iterator<Item = usize> + '_ {
        self.top_level_by_media[media].iter().flat_map(|&top| {
            std::iter::once(top).chain(
                self.replies_by_comment
                    .get(&top)
                    .into_iter()
                    .flatten()
                    .copied(),
            )
        })
    }

    pub(crate) fn media_visible(&self, media: usize, now: DateTime<Utc>) -> bool {
        self.media[media].timestamp <= now
    }

    /// The creator account owning a node, `None` for the brand node.
    pub(crate) fn owner_of(&self, node: Node) -> Option<usize> {
        match node {
            Node::Account(k) => Some(k),
            Node::Brand => None,
            Node::Media(m) => Some(self.media[m].account),
            Node::Comment(c) => Some(self.media[self.comments[c].media].account),
        }
    }

    /// Comments and replies visible at `now`, with who answered what (see [`TruthComment`]).
    ///
    /// One pass over the comments and one over each post's owner comments, so tests can ask for
    /// the truth of a 50,000-comment world after every step.
    pub(crate) fn ground_truth(&self, now: DateTime<Utc>) -> Vec<TruthComment> {
        let mut by_media: Vec<Vec<usize>> = vec![Vec::new(); self.media.len()];
        for (i, c) in self.comments.iter().enumerate() {
            if self.listed_at(i, now) {
                by_media[c.media].push(i);
            }
        }
        let mut out = Vec::new();
        for (account_index, account) in self.accounts.iter().enumerate() {
            let mut media: Vec<usize> = self.media_by_account[account_index].clone();
            media.reverse();
            for m in media {
                let owner_top_level: Vec<&SimComment> = self.top_level_by_media[m]
                    .iter()
                    .map(|&t| &self.comments[t])
                    .filter(|t| t.role == Role::Owner && t.visible_at(now))
                    .collect();
                let indexes = &mut by_media[m];
                indexes.sort_by_key(|&i| (self.comments[i].timestamp, self.comments[i].key));
                for &i in indexes.iter() {
                    let c = &self.comments[i];
                    out.push(TruthComment {
                        id: c.id.clone(),
                        platform: account.platform,
                        account_id: account.id.clone(),
                        media_id: self.media[m].id.clone(),
                        parent_id: c.parent.map(|p| self.comments[p].id.clone()),
                        username: c.username.clone(),
                        from_id: c.from_id.clone(),
                        author_hidden: super::facebook::author_hidden(self, i),
                        text: c.text_at(now).to_owned(),
                        timestamp: c.timestamp,
                        by_owner: c.role == Role::Owner,
                        by_brand: c.role == Role::Brand,
                        intended: c.intended,
                        answered_by_owner_at: self.answered_by_owner_at(i, &owner_top_level, now),
                    });
                }
            }
        }
        out
    }

    /// `owner_top_level`: the owner's top-level comments on the comment's media visible at `now`.
    fn answered_by_owner_at(
        &self,
        index: usize,
        owner_top_level: &[&SimComment],
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let comment = &self.comments[index];
        if comment.parent.is_some() {
            return None;
        }
        let in_thread = self
            .replies_by_comment
            .get(&index)
            .into_iter()
            .flatten()
            .map(|&r| &self.comments[r])
            .filter(|r| r.role == Role::Owner && r.visible_at(now))
            .map(|r| r.timestamp);
        // A mention names the author's handle: when the platform hides the author (Facebook
        // without access), nobody reading the API can tell whom a mention answers.
        let hidden_author = super::facebook::author_hidden(self, index);
        let by_mention = owner_top_level
            .iter()
            .filter(|t| {
                !hidden_author
                    && t.timestamp >= comment.timestamp
                    && mentions(&t.text, &comment.username)
            })
            .map(|t| t.timestamp);
        in_thread.chain(by_mention).min()
    }
}

/// Whether `text` contains `@handle` as a whole handle (case-insensitive).
pub(crate) fn mentions(text: &str, handle: &str) -> bool {
    let text = text.to_lowercase();
    let needle = format!("@{}", handle.to_lowercase());
    text.match_indices(&needle).any(|(at, _)| {
        text[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|next| !(next.is_alphanumeric() || next == '.' || next == '_'))
    })
}

struct Person {
    username: String,
    id: String,
}

/// A top-level comment before it is stored: what it is and who wrote it.
struct Draft {
    person: usize,
    lang: Lang,
    text: String,
    intended: Label,
    offset: Duration,
    spam: bool,
}

struct Builder<'p> {
    params: &'p ScenarioParams,
    rng: SimRng,
    used_ids: HashSet<String>,
    used_handles: HashSet<String>,
    people: Vec<Person>,
    /// Indexes into `people` by language, in creation order: picking a returning commenter must
    /// not scan everyone (that made a 50,000-comment world take most of a minute to build).
    people_by_lang: HashMap<Lang, Vec<usize>>,
    accounts: Vec<SimAccount>,
    codes: Vec<String>,
    media: Vec<SimMedia>,
    products: Vec<Product>,
    sponsored: Vec<bool>,
    comments: Vec<SimComment>,
}

impl<'p> Builder<'p> {
    fn new(params: &'p ScenarioParams) -> Self {
        Builder {
            params,
            rng: SimRng::seed_from_u64(params.seed),
            used_ids: HashSet::new(),
            used_handles: HashSet::new(),
            people: Vec::new(),
            people_by_lang: HashMap::new(),
            accounts: Vec::new(),
            codes: Vec::new(),
            media: Vec::new(),
            products: Vec::new(),
            sponsored: Vec::new(),
            comments: Vec::new(),
        }
    }

    fn numeric_id(&mut self, prefix: &str, digits: usize) -> String {
        loop {
            let mut id = prefix.to_owned();
            while id.len() < digits {
                id.push(char::from(b'0' + self.rng.random_range(0..10u8)));
            }
            if self.used_ids.insert(id.clone()) {
                return id;
            }
        }
    }

    fn comment_id(&mut self) -> String {
        if self.rng.random_bool(0.1) {
            self.numeric_id("18", 18)
        } else {
            let prefix = if self.rng.random_bool(0.5) {
                "17"
            } else {
                "18"
            };
            self.numeric_id(prefix, 17)
        }
    }

    fn token(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let body: String = (0..56)
            .map(|_| char::from(ALPHABET[self.rng.random_range(0..ALPHABET.len())]))
            .collect();
        format!("IGAA{body}")
    }

    fn shortcode(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let body: String = (0..10)
            .map(|_| char::from(ALPHABET[self.rng.random_range(0..ALPHABET.len())]))
            .collect();
        format!("C{body}")
    }

    fn unique_handle(&mut self, mut handle: String) -> String {
        while !self.used_handles.insert(handle.clone()) {
            handle.push(char::from(b'0' + self.rng.random_range(0..10u8)));
        }
        handle
    }

    /// A commenter writing in `lang`: sometimes a returning one.
    fn person(&mut self, lang: Lang) -> usize {
        if self.rng.random_bool(0.2)
            && let Some(&i) = self
                .people_by_lang
                .get(&lang)
                .and_then(|same| same.choose(&mut self.rng))
        {
            return i;
        }
        let handle = generate::commenter_username(&mut self.rng, lang);
        let username = self.unique_handle(handle);
        let first = char::from(b'1' + self.rng.random_range(0..9u8)).to_string();
        let id = self.numeric_id(&first, 17);
        self.people.push(Person { username, id });
        let index = self.people.len() - 1;
        self.people_by_lang.entry(lang).or_default().push(index);
        index
    }

    fn friends(&mut self) -> Vec<String> {
        let mut friends = Vec::new();
        for _ in 0..3 {
            let lang = generate::pick_lang(&mut self.rng);
            let p = self.person(lang);
            friends.push(self.people[p].username.clone());
        }
        friends
    }

    fn arrival_offset(&mut self) -> Duration {
        let secs = if self.rng.random_bool(0.85) {
            let u: f64 = self.rng.random();
            -(1.0 - u).ln() * 3.5 * 3600.0
        } else {
            self.rng.random_range(12.0 * 3600.0..7.0 * 86400.0)
        };
        Duration::seconds(secs.max(20.0) as i64)
    }

    fn log_uniform(&mut self, min: Duration, max: Duration) -> Duration {
        let lo = (min.num_seconds().max(1) as f64).ln();
        let hi = (max.num_seconds().max(2) as f64).ln();
        Duration::seconds(self.rng.random_range(lo..hi).exp() as i64)
    }

    fn like_count(&mut self, scale: f64) -> u32 {
        let u: f64 = self.rng.random();
        (u.powi(3) * scale) as u32
    }

    fn build(mut self) -> Scenario {
        let params = self.params;
        let brand = SimAccount {
            id: self.numeric_id("178414", 17),
            username: self.unique_handle(generate::BRAND_USERNAME.to_owned()),
            token: self.token(),
            platform: Platform::Instagram,
        };
        let mut followers = Vec::new();
        for k in 0..params.accounts {
            let (handle, first) = generate::creator_username(&mut self.rng, k);
            let username = self.unique_handle(handle);
            let account = SimAccount {
                id: self.numeric_id("178414", 17),
                username,
                token: self.token(),
                platform: Platform::Instagram,
            };
            self.accounts.push(account);
            self.codes.push(format!("{}15", first.to_uppercase()));
            followers.push(self.rng.random_range(8_000..120_000u32));
        }
        self.build_media();
        self.build_comments();
        self.into_scenario(brand, followers)
    }

    fn build_media(&mut self) {
        let params = self.params;
        let n = params.posts_per_account;
        for k in 0..params.accounts {
            let mut unsponsored = HashSet::new();
            if n >= 2 {
                let wanted = (n / 4).max(1);
                let mut candidates: Vec<usize> = (1..n).collect();
                while unsponsored.len() < wanted && !candidates.is_empty() {
                    let at = self.rng.random_range(0..candidates.len());
                    unsponsored.insert(candidates.swap_remove(at));
                }
            }
            for j in 0..n {
                let jitter = if k == 0 && j == 0 {
                    0
                } else {
                    self.rng.random_range(0..3600)
                };
                let timestamp = params.start
                    + Duration::hours(26 * j as i64)
                    + Duration::minutes(95 * k as i64)
                    + Duration::seconds(jitter);
                let sponsored = !unsponsored.contains(&j);
                let product = PRODUCTS[(k + j) % PRODUCTS.len()];
                let code = self.codes[k].clone();
                let caption = generate::caption(&mut self.rng, &product, sponsored, &code);
                let (media_type, product_type) = match self.rng.random_range(0..10u32) {
                    0..5 => ("VIDEO", "REELS"),
                    5..8 => ("IMAGE", "FEED"),
                    _ => ("CAROUSEL_ALBUM", "FEED"),
                };
                let id = self.numeric_id("18", 17);
                let shortcode = self.shortcode();
                let like_count = self.rng.random_range(300..9_000u32);
                self.media.push(SimMedia {
                    id,
                    account: k,
                    shortcode,
                    caption,
                    media_type,
                    product_type,
                    timestamp,
                    like_count,
                });
                self.products.push(product);
                self.sponsored.push(sponsored);
            }
        }
    }

    fn build_comments(&mut self) {
        let sponsored: Vec<usize> = (0..self.media.len())
            .filter(|&m| self.sponsored[m])
            .collect();
        let targets = if sponsored.is_empty() {
            (0..self.media.len()).collect()
        } else {
            sponsored
        };
        let mut planted: Vec<Vec<(String, Label)>> = vec![Vec::new(); self.media.len()];
        if !targets.is_empty() {
            for (i, item) in generate::planted_texts().into_iter().enumerate() {
                planted[targets[i % targets.len()]].push(item);
            }
        }
        for (m, own_planted) in planted.into_iter().enumerate() {
            let mut drafts = Vec::new();
            let regular = self
                .params
                .comments_per_post
                .saturating_sub(own_planted.len());
            for (text, intended) in own_planted {
                let lang = Lang::En;
                let person = self.person(lang);
                let offset = self.arrival_offset();
                drafts.push(Draft {
                    person,
                    lang,
                    text,
                    intended,
                    offset,
                    spam: false,
                });
            }
            for _ in 0..regular {
                let draft = self.regular_draft(m);
                drafts.push(draft);
            }
            let mut busy_done = !self.sponsored[m];
            for draft in drafts {
                let busy = !busy_done && draft.intended.is_product_question();
                busy_done |= busy;
                self.push_thread(m, draft, busy);
            }
        }
    }

    fn regular_draft(&mut self, m: usize) -> Draft {
        let lang = generate::pick_lang(&mut self.rng);
        let person = self.person(lang);
        let offset = self.arrival_offset();
        let (pq, oq, spam) = if self.sponsored[m] {
            (32, 39, 95)
        } else {
            (6, 20, 95)
        };
        let roll = self.rng.random_range(0..100u32);
        let product = self.products[m];
        let code = self.codes[self.media[m].account].clone();
        let (text, intended, is_spam) = if roll < pq {
            let category = generate::pick_product_category(&mut self.rng);
            let text = generate::product_question(&mut self.rng, lang, category, &product, &code);
            (text, Label::ProductQuestion(category), false)
        } else if roll < oq {
            let text = generate::other_question(&mut self.rng, lang);
            (text, Label::OtherQuestion, false)
        } else if roll < spam {
            let friends = self.friends();
            let text = generate::not_question(&mut self.rng, lang, &friends);
            (text, Label::NotQuestion, false)
        } else {
            (generate::spam(&mut self.rng), Label::NotQuestion, true)
        };
        Draft {
            person,
            lang,
            text,
            intended,
            offset,
            spam: is_spam,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_comment(
        &mut self,
        media: usize,
        parent: Option<usize>,
        author: (String, String, Role),
        text: String,
        timestamp: DateTime<Utc>,
        intended: Label,
        like_scale: f64,
    ) -> usize {
        let id = self.comment_id();
        let key = id.parse().unwrap_or_default();
        let like_count = self.like_count(like_scale);
        let (username, from_id, role) = author;
        let timestamp = DateTime::from_timestamp(timestamp.timestamp(), 0).unwrap_or(timestamp);
        self.comments.push(SimComment {
            id,
            key,
            media,
            parent,
            username,
            from_id,
            role,
            text,
            timestamp,
            hidden: false,
            deleted_at: None,
            like_count,
            intended,
            edit: None,
        });
        self.comments.len() - 1
    }

    fn owner_author(&self, media: usize) -> (String, String, Role) {
        let account = &self.accounts[self.media[media].account];
        (account.username.clone(), account.id.clone(), Role::Owner)
    }

    fn person_author(&self, person: usize) -> (String, String, Role) {
        let p = &self.people[person];
        (p.username.clone(), p.id.clone(), Role::Audience)
    }

    /// Stores a top-level comment and whatever it provokes: creator answers (in the thread or as
    /// a top-level `@mention`), other commenters, the brand.
    fn push_thread(&mut self, m: usize, draft: Draft, busy: bool) {
        let posted = self.media[m].timestamp + draft.offset;
        let author = self.person_author(draft.person);
        let asker = author.0.clone();
        let top = self.push_comment(m, None, author, draft.text, posted, draft.intended, 40.0);
        if draft.spam {
            if self.rng.random_bool(0.7) {
                self.comments[top].hidden = true;
            } else {
                let after = self.log_uniform(Duration::minutes(30), Duration::hours(6));
                self.comments[top].deleted_at = Some(self.comments[top].timestamp + after);
            }
            return;
        }
        let posted = self.comments[top].timestamp;
        let product = self.products[m];
        let code = self.codes[self.media[m].account].clone();
        let (owner_p, audience_p, brand_p) = match draft.intended {
            Label::ProductQuestion(_) => (0.45, 0.25, 0.10),
            Label::OtherQuestion => (0.30, 0.20, 0.0),
            Label::NotQuestion => (0.08, 0.05, 0.0),
        };
        let mut audience_replies = if self.rng.random_bool(audience_p) {
            self.rng.random_range(1..3usize)
        } else {
            0
        };
        if busy {
            audience_replies += self.rng.random_range(7..12usize);
        }
        for _ in 0..audience_replies {
            let lang = generate::pick_lang(&mut self.rng);
            let person = self.person(lang);
            let delay = self.log_uniform(Duration::minutes(1), Duration::hours(12));
            let (text, intended) = generate::audience_reply(&mut self.rng, &asker);
            let replier = self.people[person].username.clone();
            let author = self.person_author(person);
            let reply =
                self.push_comment(m, Some(top), author, text, posted + delay, intended, 5.0);
            if intended.is_product_question() && self.rng.random_bool(0.5) {
                let category = intended.category().unwrap_or(Category::Other);
                let delay = self.log_uniform(Duration::minutes(5), Duration::hours(20));
                let answer =
                    generate::owner_answer(&mut self.rng, Lang::En, category, &product, &code);
                let at = self.comments[reply].timestamp + delay;
                let owner = self.owner_author(m);
                self.push_comment(
                    m,
                    Some(top),
                    owner,
                    format!("@{replier} {answer}"),
                    at,
                    Label::NotQuestion,
                    3.0,
                );
            }
        }
        if self.rng.random_bool(owner_p) {
            let delay = self.log_uniform(Duration::minutes(3), Duration::hours(24));
            let text = match draft.intended {
                Label::ProductQuestion(category) => {
                    generate::owner_answer(&mut self.rng, draft.lang, category, &product, &code)
                }
                Label::OtherQuestion => generate::owner_answer(
                    &mut self.rng,
                    Lang::En,
                    Category::Other,
                    &product,
                    &code,
                ),
                Label::NotQuestion => generate::owner_thanks(&mut self.rng),
            };
            let owner = self.owner_author(m);
            let as_mention = draft.intended.is_product_question() && self.rng.random_bool(0.2);
            if as_mention {
                self.push_comment(
                    m,
                    None,
                    owner,
                    format!("@{asker} {text}"),
                    posted + delay,
                    Label::NotQuestion,
                    10.0,
                );
            } else {
                let text = if self.rng.random_bool(0.3) {
                    format!("@{asker} {text}")
                } else {
                    text
                };
                self.push_comment(
                    m,
                    Some(top),
                    owner,
                    text,
                    posted + delay,
                    Label::NotQuestion,
                    10.0,
                );
            }
        }
        if let Label::ProductQuestion(category) = draft.intended
            && self.rng.random_bool(brand_p)
        {
            let delay = self.log_uniform(Duration::minutes(10), Duration::hours(36));
            let text = generate::brand_answer(&mut self.rng, category);
            let brand = (
                generate::BRAND_USERNAME.to_owned(),
                String::new(),
                Role::Brand,
            );
            self.push_comment(
                m,
                Some(top),
                brand,
                text,
                posted + delay,
                Label::NotQuestion,
                5.0,
            );
        }
    }

    fn into_scenario(self, brand: SimAccount, followers: Vec<u32>) -> Scenario {
        let mut comments = self.comments;
        for c in comments.iter_mut().filter(|c| c.role == Role::Brand) {
            c.username = brand.username.clone();
            c.from_id = brand.id.clone();
        }
        let newest_first = |list: &mut Vec<usize>, key: &dyn Fn(usize) -> (DateTime<Utc>, u64)| {
            list.sort_by_key(|&i| std::cmp::Reverse(key(i)));
        };
        let mut media_by_account = vec![Vec::new(); self.accounts.len()];
        for (m, media) in self.media.iter().enumerate() {
            media_by_account[media.account].push(m);
        }
        let media_key = |m: usize| {
            let media = &self.media[m];
            (media.timestamp, media.id.parse::<u64>().unwrap_or_default())
        };
        for list in &mut media_by_account {
            newest_first(list, &media_key);
        }
        let mut top_level_by_media = vec![Vec::new(); self.media.len()];
        let mut replies_by_comment: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, c) in comments.iter().enumerate() {
            match c.parent {
                None => top_level_by_media[c.media].push(i),
                Some(p) => replies_by_comment.entry(p).or_default().push(i),
            }
        }
        let comment_key = |i: usize| (comments[i].timestamp, comments[i].key);
        for list in top_level_by_media
            .iter_mut()
            .chain(replies_by_comment.values_mut())
        {
            newest_first(list, &comment_key);
        }
        let mut nodes = HashMap::new();
        nodes.insert(brand.id.clone(), Node::Brand);
        for (k, account) in self.accounts.iter().enumerate() {
            nodes.insert(account.id.clone(), Node::Account(k));
        }
        for (m, media) in self.media.iter().enumerate() {
            nodes.insert(media.id.clone(), Node::Media(m));
        }
        for (i, c) in comments.iter().enumerate() {
            nodes.insert(c.id.clone(), Node::Comment(i));
        }
        Scenario {
            accounts: self.accounts,
            followers,
            brand,
            media: self.media,
            comments,
            media_by_account,
            top_level_by_media,
            replies_by_comment,
            nodes,
            clock_start: self.params.start + Duration::hours(INITIAL_CLOCK_OFFSET_HOURS),
        }
    }
}

/// What an author appends when they come back to their comment.
const EDIT_NOTES: [&str; 5] = [
    " (edit: spelling)",
    " — edit: nvm, found the link",
    " edit: and how much is shipping?",
    " (edited)",
    " — edit: is it vegan btw?",
];

/// Edits [`ScenarioParams::edit_share`] of the audience's top-level comments, from their own
/// random stream so the rest of the world stays as the seed made it.
fn add_edits(scenario: &mut Scenario, params: &ScenarioParams) {
    if params.edit_share.is_nan() || params.edit_share <= 0.0 {
        return;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(params.seed ^ 0xED17_ED17);
    for comment in &mut scenario.comments {
        if comment.parent.is_some() || comment.role != Role::Audience {
            continue;
        }
        if !rng.random_bool(params.edit_share.clamp(0.0, 1.0)) {
            continue;
        }
        let after = chrono::Duration::minutes(rng.random_range(10..=240));
        let note = EDIT_NOTES.choose(&mut rng).copied().unwrap_or(" (edited)");
        comment.edit = Some((comment.timestamp + after, format!("{}{note}", comment.text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_world() {
        let params = ScenarioParams::default();
        let a = Scenario::build(&params);
        let b = Scenario::build(&params);
        let late = params.start + Duration::days(30);
        assert_eq!(a.ground_truth(late), b.ground_truth(late));
        assert_eq!(a.accounts, b.accounts);
        let other = Scenario::build(&ScenarioParams { seed: 43, ..params });
        assert_ne!(a.ground_truth(late), other.ground_truth(late));
    }

    #[test]
    fn mentions_match_whole_handles_only() {
        assert!(mentions("@Maria.Lopez it's $34", "maria.lopez"));
        assert!(mentions("thanks @maria!", "maria"));
        assert!(!mentions("@maria.lopez hi", "maria"));
        assert!(!mentions("@maria_x hi", "maria"));
    }

    #[test]
    fn replies_are_newer_than_parents_and_ids_unique() {
        let s = Scenario::build(&ScenarioParams::default());
        let mut ids = HashSet::new();
        for c in &s.comments {
            assert!(ids.insert(c.id.clone()));
            assert!((17..=18).contains(&c.id.len()));
            if let Some(p) = c.parent {
                assert!(c.timestamp > s.comments[p].timestamp);
                assert!(s.comments[p].parent.is_none());
                assert!(s.comments[p].deleted_at.is_none());
            }
        }
    }

    #[test]
    fn a_media_index_holds_exactly_its_comments_and_replies() {
        let s = Scenario::build(&ScenarioParams::default());
        for m in 0..s.media.len() {
            let mut indexed: Vec<usize> = s.comments_of_media(m).collect();
            indexed.sort_unstable();
            let scanned: Vec<usize> = (0..s.comments.len())
                .filter(|&c| s.comments[c].media == m)
                .collect();
            assert_eq!(indexed, scanned, "media {m}");
        }
    }

    #[test]
    fn every_post_has_its_audience_comments_and_one_is_unsponsored() {
        let params = ScenarioParams::default();
        let s = Scenario::build(&params);
        assert_eq!(s.media.len(), params.accounts * params.posts_per_account);
        for m in 0..s.media.len() {
            let audience = s.top_level_by_media[m]
                .iter()
                .filter(|&&i| s.comments[i].role == Role::Audience)
                .count();
            assert_eq!(audience, params.comments_per_post);
        }
        for k in 0..params.accounts {
            let captions: Vec<&str> = s.media_by_account[k]
                .iter()
                .map(|&m| s.media[m].caption.as_str())
                .collect();
            assert!(captions.iter().any(|c| !c.contains("#ad")));
            assert!(
                captions
                    .iter()
                    .filter(|c| c.contains("#ad") && c.contains("@glowlab"))
                    .count()
                    >= 2
            );
        }
    }
}
