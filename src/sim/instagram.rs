//! The Instagram Graph API routes: nodes, edges, the multi-id lookup, field selection, paging,
//! errors and usage headers.
//!
//! Every request goes through [`SimState::answer`], in this order: count it, let the fault
//! machinery decide (one-off faults, injected throttling, random faults), check the token, count
//! the call against the account's budget (refusing it at 100 %), then route. Paths are parsed by
//! hand because Graph paths are ids, not fixed routes: `/{version}/{id}`, `/{version}/{id}/{edge}`
//! and `/{version}/?ids=…`. An id that belongs to a Facebook Page is rendered and listed by
//! `facebook.rs`; authentication, faults, usage and errors stay here for both products.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::clock::SimClock;
use super::facebook;
use super::faults::{BUDGET_THROTTLE_CODE, FaultState, Planned, Usage};
use super::fields::{Field, FieldList, parse_fields};
use super::paging::{
    Edge, Page, Position, cut_page, decode_cursor, encode_cursor, encode_query, parse_query,
};
use super::scenario::{Node, Role, Scenario};
use super::{Fault, ScenarioParams, SimOptions};
use crate::domain::Platform;

/// Largest number of ids the multi-id lookup accepts.
const MAX_IDS: usize = 50;
/// Page size when the request names no `limit`.
const DEFAULT_LIMIT: usize = 25;

/// Whose token made a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Principal {
    Account(usize),
    Brand,
}

/// Everything the server shares between requests and handles.
pub(crate) struct SimState {
    pub(crate) scenario: Scenario,
    pub(crate) clock: SimClock,
    /// `http://127.0.0.1:PORT`.
    pub(crate) origin: String,
    pub(crate) options: SimOptions,
    faults: Mutex<FaultState>,
    tokens: HashMap<String, Principal>,
    served: AtomicU64,
    /// Every access and refresh token with its lifetime (`tokens.rs`).
    pub(crate) token_book: super::tokens::TokenBook,
    /// YouTube quota units spent per account and simulated Pacific day.
    pub(crate) youtube: super::youtube::QuotaState,
    /// TikTok calls per account over the last real minute.
    pub(crate) tiktok: super::tiktok::RateState,
}

impl SimState {
    pub(crate) fn new(params: &ScenarioParams, options: SimOptions, origin: String) -> Self {
        let scenario = Scenario::build(params);
        let mut tokens = HashMap::new();
        for (k, account) in scenario.accounts.iter().enumerate() {
            tokens.insert(account.token.clone(), Principal::Account(k));
        }
        tokens.insert(scenario.brand.token.clone(), Principal::Brand);
        let faults = FaultState::new(params.seed, options.fault_rate, options.hourly_call_budget);
        let token_book = super::tokens::TokenBook::new(&scenario, options.token_lifetimes.clone());
        SimState {
            token_book,
            clock: SimClock::starting_at(scenario.clock_start),
            scenario,
            origin,
            options,
            faults: Mutex::new(faults),
            tokens,
            served: AtomicU64::new(0),
            youtube: super::youtube::QuotaState::default(),
            tiktok: super::tiktok::RateState::default(),
        }
    }

    /// Counts a request and returns its trace number.
    pub(crate) fn next_trace(&self) -> u64 {
        self.served.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// What the fault machinery decides for the next request.
    pub(crate) fn plan_fault(&self, real_now: Instant) -> Planned {
        self.lock_faults().plan(real_now)
    }

    /// The creator account a token belongs to (whatever its platform), refreshed tokens included.
    pub(crate) fn account_of_token(&self, token: &str) -> Option<usize> {
        match self.tokens.get(token) {
            Some(Principal::Account(k)) => Some(*k),
            Some(Principal::Brand) => None,
            None => self.token_book.account_of(token),
        }
    }

    /// Whose token made a request, refreshed tokens included.
    fn principal_of_token(&self, token: &str) -> Option<Principal> {
        self.tokens
            .get(token)
            .copied()
            .or_else(|| self.token_book.account_of(token).map(Principal::Account))
    }

    /// Whether the token works now: an injected expiry of its account, a revoked grant, or the
    /// token's own lifetime (when lifetimes are on) can end it.
    pub(crate) fn token_state(
        &self,
        token: &str,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> super::tokens::TokenState {
        if let Some(at) = self.token_expired_at(account_id) {
            return super::tokens::TokenState::Expired(at);
        }
        self.token_book.state(token, now)
    }

    /// When the account's token expired, if it did.
    pub(crate) fn token_expired_at(&self, account_id: &str) -> Option<DateTime<Utc>> {
        self.lock_faults().expired_at(account_id)
    }

    /// Whether a fault switched the media's comments off.
    pub(crate) fn comments_disabled(&self, media_id: &str) -> bool {
        self.lock_faults().comments_disabled(media_id)
    }

    /// Whether a fault deleted the media.
    pub(crate) fn media_deleted(&self, media_id: &str) -> bool {
        self.lock_faults().media_deleted(media_id)
    }

    pub(crate) fn inject(&self, fault: Fault) {
        tracing::info!(fault = fault_name(&fault), "fault injected");
        self.lock_faults()
            .inject(fault, Instant::now(), self.clock.now());
    }

    pub(crate) fn requests_served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }

    pub(crate) fn faults_served(&self) -> u64 {
        self.lock_faults().faults_planned()
    }

    fn lock_faults(&self) -> std::sync::MutexGuard<'_, FaultState> {
        // A panic while holding the lock cannot leave the fault state inconsistent.
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn principal_id(&self, principal: Principal) -> &str {
        match principal {
            Principal::Account(k) => &self.scenario.accounts[k].id,
            Principal::Brand => &self.scenario.brand.id,
        }
    }

    fn answer(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Reply {
        let trace = self.served.fetch_add(1, Ordering::SeqCst) + 1;
        let real_now = Instant::now();
        let now = self.clock.now();
        let query = parse_query(uri.query().unwrap_or(""));
        let token = token_of(&query, headers);
        let principal = token.and_then(|t| self.principal_of_token(t));
        let planned = self.lock_faults().plan(real_now);
        let mut reply = match planned {
            Planned::ServerError(status) => Reply::error(&ApiError::server(status), trace),
            Planned::Html => Reply::html(),
            Planned::Throttle { code, minutes } => {
                let usage = principal.map(|p| self.count_call(p, real_now));
                let code = self.throttle_code_for(principal, code);
                let mut reply = Reply::error(&ApiError::throttled(code), trace);
                if let (Some(p), Some(usage)) = (principal, usage) {
                    let usage = Usage {
                        call_count: usage.call_count.max(100),
                        minutes_to_regain: usage.minutes_to_regain.max(minutes),
                        visible: true,
                        exhausted: true,
                    };
                    reply.usage(self.principal_id(p), self.usage_type(p), usage);
                }
                reply
            }
            Planned::Normal | Planned::Truncate => {
                self.authorized(method, uri, &query, token, principal, now, real_now, trace)
            }
        };
        if planned == Planned::Truncate {
            reply.truncate();
        }
        tracing::debug!(
            method = %method,
            path = uri.path(),
            status = reply.status.as_u16(),
            fault = ?planned,
            "simulator request"
        );
        reply
    }

    fn is_page(&self, principal: Principal) -> bool {
        matches!(principal, Principal::Account(k) if self.scenario.accounts[k].platform == Platform::Facebook)
    }

    /// The `type` of the account's entry in `X-Business-Use-Case-Usage`.
    fn usage_type(&self, principal: Principal) -> &'static str {
        if self.is_page(principal) {
            "pages"
        } else {
            "instagram"
        }
    }

    /// A throttling code as the principal's product says it: a Page's token hears 32 (Page
    /// request limit) and 80001 (BUC, Page) where an Instagram account hears 613 and 80002.
    fn throttle_code_for(&self, principal: Option<Principal>, code: u32) -> u32 {
        match (principal.is_some_and(|p| self.is_page(p)), code) {
            (true, 80002) => 80001,
            (true, 613) => 32,
            _ => code,
        }
    }

    fn count_call(&self, principal: Principal, real_now: Instant) -> Usage {
        let id = self.principal_id(principal).to_owned();
        self.lock_faults().record_call(&id, real_now)
    }

    #[allow(clippy::too_many_arguments)]
    fn authorized(
        &self,
        method: &Method,
        uri: &Uri,
        query: &[(String, String)],
        token: Option<&str>,
        principal: Option<Principal>,
        now: DateTime<Utc>,
        real_now: Instant,
        trace: u64,
    ) -> Reply {
        let Some(token) = token else {
            return Reply::error(&ApiError::no_token(), trace);
        };
        let graph_account = |p: Principal| match p {
            Principal::Account(k) => matches!(
                self.scenario.accounts[k].platform,
                Platform::Instagram | Platform::Facebook
            ),
            Principal::Brand => true,
        };
        let Some(principal) = principal.filter(|&p| graph_account(p)) else {
            return Reply::error(&ApiError::invalid_token(), trace);
        };
        let account_id = self.principal_id(principal).to_owned();
        match self.token_state(token, &account_id, now) {
            super::tokens::TokenState::Live => {}
            super::tokens::TokenState::Expired(at) => {
                return Reply::error(&ApiError::expired(at, now), trace);
            }
            super::tokens::TokenState::Revoked => {
                return Reply::error(&ApiError::session_invalidated(), trace);
            }
        }
        let usage = self.count_call(principal, real_now);
        let mut reply = if usage.exhausted {
            tracing::info!(account_id = %account_id, "call budget used up, refusing");
            let code = self.throttle_code_for(Some(principal), BUDGET_THROTTLE_CODE);
            Reply::error(&ApiError::throttled(code), trace)
        } else {
            let request = Request {
                path: uri.path(),
                query,
                token,
                principal,
                now,
                version: "",
            };
            match self.route(method, request) {
                Ok(body) => Reply::json(StatusCode::OK, body.to_string()),
                Err(error) => Reply::error(&error, trace),
            }
        };
        if usage.visible {
            reply.usage(&account_id, self.usage_type(principal), usage);
        }
        reply
    }

    fn route(&self, method: &Method, mut request: Request<'_>) -> Result<Value, ApiError> {
        let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
        let Some((&version, rest)) = segments.split_first() else {
            return Err(ApiError::unknown_path(request.path));
        };
        if !is_version(version) {
            return Err(ApiError::unknown_path(request.path));
        }
        request.version = version;
        if method != Method::GET {
            let id = rest.first().copied().unwrap_or("");
            return Err(ApiError::no_object(id, method.as_str()));
        }
        match rest {
            [] => self.lookup_ids(&request),
            [id] => {
                let node = self.resolve(id, &request)?;
                let fields = request
                    .fields()?
                    .unwrap_or_else(|| self.default_fields(node));
                self.render(node, &fields, &request)
            }
            [id, edge] => {
                let node = self.resolve(id, &request)?;
                if facebook::is_facebook(&self.scenario, node) {
                    return facebook::list_edge(self, node, edge, &request);
                }
                self.list_edge(id, edge, &request)
            }
            [_, _, more @ ..] => Err(ApiError::unknown_path(&format!("/{}", more.join("/")))),
        }
    }

    /// The node an id names, if the token may read it now.
    fn resolve(&self, id: &str, request: &Request<'_>) -> Result<Node, ApiError> {
        if id == "me" {
            return Ok(match request.principal {
                Principal::Account(k) => Node::Account(k),
                Principal::Brand => Node::Brand,
            });
        }
        let missing = || ApiError::no_object(id, "get");
        let node = *self.scenario.nodes.get(id).ok_or_else(missing)?;
        let exists = match node {
            Node::Account(_) | Node::Brand => true,
            Node::Media(m) => self.scenario.media_visible(m, request.now),
            Node::Comment(c) => self.scenario.comments[c].visible_at(request.now),
        };
        if facebook::is_facebook(&self.scenario, node) {
            facebook::check_not_deleted(self, id, node)?;
        }
        let readable = match (request.principal, node) {
            (Principal::Brand, Node::Brand) => true,
            (Principal::Account(k), node) => self.scenario.owner_of(node) == Some(k),
            (Principal::Brand, _) => false,
        };
        if exists && readable {
            Ok(node)
        } else {
            Err(missing())
        }
    }

    fn lookup_ids(&self, request: &Request<'_>) -> Result<Value, ApiError> {
        let Some(raw) = request.param("ids") else {
            return Err(ApiError::param("(#100) The parameter ids is required"));
        };
        let mut ids: Vec<&str> = Vec::new();
        for id in raw.split(',').map(str::trim).filter(|id| !id.is_empty()) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return Err(ApiError::param("(#100) The parameter ids is required"));
        }
        if ids.len() > MAX_IDS {
            return Err(ApiError::param(&format!(
                "(#100) Too many IDs. Maximum: {MAX_IDS}. Provided: {}.",
                ids.len()
            )));
        }
        let fields = request.fields()?;
        let mut out = Map::new();
        for id in ids {
            let node = self.resolve(id, request)?;
            let fields = fields.clone().unwrap_or_else(|| self.default_fields(node));
            out.insert(id.to_owned(), self.render(node, &fields, request)?);
        }
        Ok(Value::Object(out))
    }

    fn list_edge(
        &self,
        id: &str,
        edge_name: &str,
        request: &Request<'_>,
    ) -> Result<Value, ApiError> {
        let node = self.resolve(id, request)?;
        let edge = edge_of(node, edge_name)
            .ok_or_else(|| ApiError::no_field(edge_name, node_type(node)))?;
        let limit = request.limit()?.clamp(1, self.options.page_cap);
        let after = request.cursor("after", edge)?;
        let before = if after.is_none() {
            request.cursor("before", edge)?
        } else {
            None
        };
        let fields = match request.fields()? {
            Some(fields) => fields,
            None => default_child_fields(edge),
        };
        let page = self.edge_page(node, edge, after, before, limit, request.now);
        let data = page
            .items
            .iter()
            .map(|&child| self.render(child, &fields, request))
            .collect::<Result<Vec<Value>, ApiError>>()?;
        let mut body = Map::new();
        body.insert("data".to_owned(), Value::Array(data));
        if let Some(paging) = self.paging(&page, edge, || {
            let mut pairs: Vec<(String, String)> = request
                .query
                .iter()
                .filter(|(name, _)| name != "after" && name != "before")
                .cloned()
                .collect();
            pairs.push(("after".to_owned(), cursor_after(&page, edge)));
            if !pairs.iter().any(|(name, _)| name == "access_token") {
                pairs.push(("access_token".to_owned(), request.token.to_owned()));
            }
            format!("{}{}?{}", self.origin, request.path, encode_query(&pairs))
        }) {
            body.insert("paging".to_owned(), paging);
        }
        Ok(Value::Object(body))
    }

    fn paging(
        &self,
        page: &Page<Node>,
        edge: Edge,
        next: impl FnOnce() -> String,
    ) -> Option<Value> {
        let (first, last) = (page.first?, page.last?);
        let mut paging = json!({
            "cursors": {
                "before": encode_cursor(edge, first),
                "after": encode_cursor(edge, last),
            }
        });
        if page.has_more {
            paging["next"] = Value::String(next());
        }
        Some(paging)
    }

    /// Visible children of `parent` along `edge`, newest first, cut into one page.
    fn edge_page(
        &self,
        parent: Node,
        edge: Edge,
        after: Option<Position>,
        before: Option<Position>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Page<Node> {
        let s = &self.scenario;
        let comments = |list: &[usize]| -> Vec<(Position, Node)> {
            list.iter()
                .filter(|&&c| s.comments[c].visible_at(now))
                .map(|&c| {
                    (
                        Position::new(s.comments[c].timestamp, s.comments[c].key),
                        Node::Comment(c),
                    )
                })
                .collect()
        };
        let items = match (parent, edge) {
            (Node::Account(k), Edge::Media) => s.media_by_account[k]
                .iter()
                .filter(|&&m| s.media_visible(m, now))
                .map(|&m| {
                    let key = s.media[m].id.parse().unwrap_or_default();
                    (Position::new(s.media[m].timestamp, key), Node::Media(m))
                })
                .collect(),
            (Node::Media(m), Edge::Comments) => comments(&s.top_level_by_media[m]),
            (Node::Comment(c), Edge::Replies) => s
                .replies_by_comment
                .get(&c)
                .map(|list| comments(list))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        cut_page(items, after, before, limit)
    }

    /// An edge requested as a field (`replies{…}`): its first page, or `None` when empty.
    fn nested_edge(
        &self,
        parent: Node,
        parent_id: &str,
        edge: Edge,
        field: &Field,
        request: &Request<'_>,
    ) -> Result<Option<Value>, ApiError> {
        let limit = match edge {
            Edge::Replies => self.options.nested_reply_page(field.limit),
            Edge::Media | Edge::Comments | Edge::OldestFirst => field
                .limit
                .unwrap_or(DEFAULT_LIMIT)
                .clamp(1, self.options.page_cap),
        };
        let fields = field
            .children
            .clone()
            .unwrap_or_else(|| default_child_fields(edge));
        let page = self.edge_page(parent, edge, None, None, limit, request.now);
        if page.items.is_empty() {
            return Ok(None);
        }
        let data = page
            .items
            .iter()
            .map(|&child| self.render(child, &fields, request))
            .collect::<Result<Vec<Value>, ApiError>>()?;
        let mut body = Map::new();
        body.insert("data".to_owned(), Value::Array(data));
        let paging = self.paging(&page, edge, || {
            let mut pairs = Vec::new();
            if let Some(children) = &field.children {
                pairs.push(("fields".to_owned(), children.raw.clone()));
            }
            pairs.push(("limit".to_owned(), limit.to_string()));
            pairs.push(("after".to_owned(), cursor_after(&page, edge)));
            pairs.push(("access_token".to_owned(), request.token.to_owned()));
            format!(
                "{}/{}/{parent_id}/{}?{}",
                self.origin,
                request.version,
                field.name,
                encode_query(&pairs)
            )
        });
        if let Some(paging) = paging {
            body.insert("paging".to_owned(), paging);
        }
        Ok(Some(Value::Object(body)))
    }

    /// A node's fields when the request names none.
    fn default_fields(&self, node: Node) -> FieldList {
        if facebook::is_facebook(&self.scenario, node) {
            facebook::default_fields(node)
        } else {
            default_fields(node)
        }
    }

    fn render(
        &self,
        node: Node,
        fields: &FieldList,
        request: &Request<'_>,
    ) -> Result<Value, ApiError> {
        if facebook::is_facebook(&self.scenario, node) {
            return facebook::render(self, node, fields, request);
        }
        match node {
            Node::Account(_) | Node::Brand => self.render_user(node, fields, request),
            Node::Media(m) => self.render_media(m, fields, request),
            Node::Comment(c) => self.render_comment(c, fields, request),
        }
    }

    fn render_user(
        &self,
        node: Node,
        fields: &FieldList,
        request: &Request<'_>,
    ) -> Result<Value, ApiError> {
        let s = &self.scenario;
        let (account, followers, media_count) = match node {
            Node::Account(k) => {
                let count = s.media_by_account[k]
                    .iter()
                    .filter(|&&m| s.media_visible(m, request.now))
                    .count();
                (&s.accounts[k], s.followers[k], count)
            }
            _ => (&s.brand, 254_000, 0),
        };
        let mut out = Map::new();
        for field in &fields.fields {
            let value = match field.name.as_str() {
                "id" => json!(account.id),
                "username" => json!(account.username),
                "name" => json!(display_name(&account.username)),
                "media_count" => json!(media_count),
                "followers_count" => json!(followers),
                "media" => {
                    match self.nested_edge(node, &account.id, Edge::Media, field, request)? {
                        Some(edge) => edge,
                        None => continue,
                    }
                }
                other => return Err(ApiError::no_field(other, "IGUser")),
            };
            out.insert(field.name.clone(), value);
        }
        Ok(Value::Object(out))
    }

    fn render_media(
        &self,
        m: usize,
        fields: &FieldList,
        request: &Request<'_>,
    ) -> Result<Value, ApiError> {
        let s = &self.scenario;
        let media = &s.media[m];
        let account = &s.accounts[media.account];
        let mut out = Map::new();
        for field in &fields.fields {
            let value = match field.name.as_str() {
                "id" => json!(media.id),
                "caption" => json!(media.caption),
                "media_type" => json!(media.media_type),
                "media_product_type" => json!(media.product_type),
                "timestamp" => json!(graph_time(media.timestamp)),
                "permalink" => json!(media.permalink()),
                "shortcode" => json!(media.shortcode),
                "like_count" => json!(media.like_count),
                "is_comment_enabled" => json!(true),
                "username" => json!(account.username),
                "comments_count" => {
                    let count = s
                        .comments_of_media(m)
                        .filter(|&c| s.comments[c].visible_at(request.now))
                        .count();
                    json!(count)
                }
                "owner" => sub_object(field, &[("id", &account.id)], "IGUser")?,
                "comments" => match self.nested_edge(
                    Node::Media(m),
                    &media.id,
                    Edge::Comments,
                    field,
                    request,
                )? {
                    Some(edge) => edge,
                    None => continue,
                },
                other => return Err(ApiError::no_field(other, "IGMedia")),
            };
            out.insert(field.name.clone(), value);
        }
        Ok(Value::Object(out))
    }

    fn render_comment(
        &self,
        c: usize,
        fields: &FieldList,
        request: &Request<'_>,
    ) -> Result<Value, ApiError> {
        let s = &self.scenario;
        let comment = &s.comments[c];
        let media = &s.media[comment.media];
        let mut out = Map::new();
        for field in &fields.fields {
            let value = match field.name.as_str() {
                "id" => json!(comment.id),
                "text" => json!(comment.text_at(request.now)),
                "timestamp" => json!(graph_time(comment.timestamp)),
                "username" => json!(comment.username),
                "like_count" => json!(comment.like_count),
                "hidden" => json!(comment.hidden),
                "from" => sub_object(
                    field,
                    &[("id", &comment.from_id), ("username", &comment.username)],
                    "IGCommentFromUser",
                )?,
                "parent_id" => match comment.parent {
                    Some(p) => json!(s.comments[p].id),
                    None => continue,
                },
                "media" => sub_object(
                    field,
                    &[
                        ("id", &media.id),
                        ("media_product_type", media.product_type),
                    ],
                    "IGMedia",
                )?,
                "user" => match comment.role {
                    Role::Owner => sub_object(field, &[("id", &comment.from_id)], "IGUser")?,
                    Role::Brand | Role::Audience => continue,
                },
                "legacy_instagram_comment_id" => continue,
                "replies" => {
                    if comment.parent.is_some() {
                        continue;
                    }
                    match self.nested_edge(
                        Node::Comment(c),
                        &comment.id,
                        Edge::Replies,
                        field,
                        request,
                    )? {
                        Some(edge) => edge,
                        None => continue,
                    }
                }
                other => return Err(ApiError::no_field(other, "IGComment")),
            };
            out.insert(field.name.clone(), value);
        }
        Ok(Value::Object(out))
    }
}

/// One request after authentication.
pub(crate) struct Request<'a> {
    pub(crate) path: &'a str,
    version: &'a str,
    pub(crate) query: &'a [(String, String)],
    pub(crate) token: &'a str,
    principal: Principal,
    pub(crate) now: DateTime<Utc>,
}

impl Request<'_> {
    /// A request for a nested edge (`comments.limit(0){…}`): its own path and parameters, the
    /// same token, principal and time.
    pub(crate) fn nested<'b>(
        &'b self,
        path: &'b str,
        query: &'b [(String, String)],
    ) -> Request<'b> {
        Request {
            path,
            version: self.version,
            query,
            token: self.token,
            principal: self.principal,
            now: self.now,
        }
    }

    /// The `vNN.N` segment the request came in on.
    pub(crate) fn version(&self) -> &str {
        self.version
    }

    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn fields(&self) -> Result<Option<FieldList>, ApiError> {
        match self.param("fields") {
            None => Ok(None),
            Some(raw) if raw.trim().is_empty() => Ok(None),
            Some(raw) => parse_fields(raw)
                .map(Some)
                .map_err(|e| ApiError::param(&format!("{e}: {raw}"))),
        }
    }

    pub(crate) fn limit(&self) -> Result<usize, ApiError> {
        match self.param("limit") {
            None => Ok(DEFAULT_LIMIT),
            Some(raw) => raw
                .trim()
                .parse::<usize>()
                .map_err(|_| ApiError::param("(#100) Param limit must be a number")),
        }
    }

    pub(crate) fn cursor(&self, name: &str, edge: Edge) -> Result<Option<Position>, ApiError> {
        match self.param(name) {
            None => Ok(None),
            Some(raw) => decode_cursor(edge, raw).map(Some).ok_or_else(|| {
                ApiError::param(&format!(
                    "(#100) The {name} parameter is not a valid cursor"
                ))
            }),
        }
    }
}

fn cursor_after(page: &Page<Node>, edge: Edge) -> String {
    page.last
        .map(|last| encode_cursor(edge, last))
        .unwrap_or_default()
}

fn token_of<'a>(query: &'a [(String, String)], headers: &'a HeaderMap) -> Option<&'a str> {
    if let Some((_, token)) = query.iter().find(|(name, _)| name == "access_token") {
        return Some(token.as_str());
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim())
}

fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        })
}

fn edge_of(node: Node, name: &str) -> Option<Edge> {
    match (node, name) {
        (Node::Account(_) | Node::Brand, "media") => Some(Edge::Media),
        (Node::Media(_), "comments") => Some(Edge::Comments),
        (Node::Comment(_), "replies") => Some(Edge::Replies),
        _ => None,
    }
}

fn node_type(node: Node) -> &'static str {
    match node {
        Node::Account(_) | Node::Brand => "IGUser",
        Node::Media(_) => "IGMedia",
        Node::Comment(_) => "IGComment",
    }
}

fn default_fields(node: Node) -> FieldList {
    match node {
        Node::Comment(_) => FieldList::plain(&["timestamp", "text", "id"]),
        Node::Account(_) | Node::Brand | Node::Media(_) => FieldList::plain(&["id"]),
    }
}

fn default_child_fields(edge: Edge) -> FieldList {
    match edge {
        Edge::Media => FieldList::plain(&["id"]),
        Edge::Comments | Edge::Replies | Edge::OldestFirst => {
            FieldList::plain(&["timestamp", "text", "id"])
        }
    }
}

/// A small object field such as `from{id,username}`; without braces, every known subfield.
pub(crate) fn sub_object(
    field: &Field,
    known: &[(&str, &str)],
    node_type: &str,
) -> Result<Value, ApiError> {
    let mut out = Map::new();
    match &field.children {
        None => {
            for (name, value) in known {
                out.insert((*name).to_owned(), json!(value));
            }
        }
        Some(children) => {
            for child in &children.fields {
                let (_, value) = known
                    .iter()
                    .find(|(name, _)| *name == child.name)
                    .ok_or_else(|| ApiError::no_field(&child.name, node_type))?;
                out.insert(child.name.clone(), json!(value));
            }
        }
    }
    Ok(Value::Object(out))
}

/// Graph's timestamp format: `2024-05-01T12:00:00+0000`.
pub(crate) fn graph_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

fn display_name(username: &str) -> String {
    let mut chars = username.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn fault_name(fault: &Fault) -> &'static str {
    match fault {
        Fault::Throttle { .. } => "throttle",
        Fault::ServerError { .. } => "server_error",
        Fault::TruncatedBody { .. } => "truncated_body",
        Fault::HtmlBody { .. } => "html_body",
        Fault::ExpireToken { .. } => "expire_token",
        Fault::DisableComments { .. } => "disable_comments",
        Fault::DeleteMedia { .. } => "delete_media",
    }
}

/// A Graph error, rendered into Meta's envelope.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    code: u32,
    subcode: Option<u32>,
    transient: bool,
}

impl ApiError {
    fn new(status: StatusCode, code: u32, subcode: Option<u32>, message: String) -> Self {
        ApiError {
            status,
            message,
            code,
            subcode,
            transient: false,
        }
    }

    fn no_token() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            104,
            None,
            "An access token is required to request this resource.".to_owned(),
        )
    }

    fn invalid_token() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            190,
            Some(467),
            "Invalid OAuth access token - Cannot parse access token".to_owned(),
        )
    }

    fn session_invalidated() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            190,
            Some(460),
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.".to_owned(),
        )
    }

    fn expired(at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let pacific = |t: DateTime<Utc>| {
            t.with_timezone(&chrono_tz::America::Los_Angeles)
                .format("%A, %d-%b-%y %H:%M:%S %Z")
                .to_string()
        };
        Self::new(
            StatusCode::BAD_REQUEST,
            190,
            Some(463),
            format!(
                "Error validating access token: Session has expired on {}. The current time is {}.",
                pacific(at),
                pacific(now)
            ),
        )
    }

    pub(crate) fn no_object(id: &str, method: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            100,
            Some(33),
            format!(
                "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                method.to_lowercase()
            ),
        )
    }

    pub(crate) fn no_field(name: &str, node_type: &str) -> Self {
        Self::param(&format!(
            "(#100) Tried accessing nonexisting field ({name}) on node type ({node_type})"
        ))
    }

    pub(crate) fn param(message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 100, None, message.to_owned())
    }

    fn unknown_path(path: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            2500,
            None,
            format!("Unknown path components: {path}"),
        )
    }

    fn throttled(code: u32) -> Self {
        let (status, message) = match code {
            4 => (
                StatusCode::FORBIDDEN,
                "(#4) Application request limit reached",
            ),
            17 => (StatusCode::FORBIDDEN, "(#17) User request limit reached"),
            32 => (StatusCode::BAD_REQUEST, "(#32) Page request limit reached"),
            80001 => (
                StatusCode::BAD_REQUEST,
                "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
            ),
            613 => (
                StatusCode::BAD_REQUEST,
                "(#613) Calls to this api have exceeded the rate limit.",
            ),
            _ => (
                StatusCode::BAD_REQUEST,
                "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
            ),
        };
        let mut error = Self::new(status, code, None, message.to_owned());
        error.transient = true;
        error
    }

    fn server(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (code, message) = if status == StatusCode::INTERNAL_SERVER_ERROR {
            (1, "An unknown error occurred")
        } else {
            (2, "Service temporarily unavailable")
        };
        let mut error = Self::new(status, code, None, message.to_owned());
        error.transient = true;
        error
    }

    fn envelope(&self, trace: u64) -> Value {
        let mut error = Map::new();
        error.insert("message".to_owned(), json!(self.message));
        error.insert("type".to_owned(), json!("OAuthException"));
        error.insert("code".to_owned(), json!(self.code));
        if let Some(subcode) = self.subcode {
            error.insert("error_subcode".to_owned(), json!(subcode));
        }
        if self.transient {
            error.insert("is_transient".to_owned(), json!(true));
        }
        error.insert("fbtrace_id".to_owned(), json!(fbtrace_id(trace)));
        json!({ "error": error })
    }
}

/// Meta's "Session has expired on …" message, for the refresh endpoint too.
pub(crate) fn expired_message(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    ApiError::expired(at, now).message
}

/// A deterministic, opaque-looking trace id per request.
fn fbtrace_id(n: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    (0..22)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(ALPHABET[(x % 64) as usize])
        })
        .collect()
}

/// A response before it becomes an axum `Response`, so faults can still reshape it.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, body: String) -> Self {
        Reply {
            status,
            content_type: "application/json; charset=UTF-8",
            body,
            headers: Vec::new(),
        }
    }

    fn error(error: &ApiError, trace: u64) -> Self {
        let mut reply = Reply::json(error.status, error.envelope(trace).to_string());
        if error.code == 190 || error.code == 104 {
            reply.headers.push((
                "www-authenticate",
                format!(
                    "OAuth \"Facebook Platform\" \"invalid_token\" \"{}\"",
                    error.message
                ),
            ));
        }
        reply
    }

    pub(crate) fn html() -> Self {
        Reply {
            status: StatusCode::BAD_GATEWAY,
            content_type: "text/html; charset=\"utf-8\"",
            body: "<!DOCTYPE html>\n<html lang=\"en\" id=\"facebook\"><head><title>Error</title>\
                   <meta charset=\"utf-8\"></head><body><div><h1>Sorry, something went wrong.</h1>\
                   <p>We're working on getting this fixed as soon as we can.</p></div></body></html>\n"
                .to_owned(),
            headers: Vec::new(),
        }
    }

    fn usage(&mut self, account_id: &str, kind: &str, usage: Usage) {
        self.headers.push((
            "x-business-use-case-usage",
            usage.header_value(account_id, kind),
        ));
    }

    /// Cuts the body in half (on a character boundary).
    pub(crate) fn truncate(&mut self) {
        let mut cut = self.body.len() / 2;
        while !self.body.is_char_boundary(cut) {
            cut -= 1;
        }
        self.body.truncate(cut);
    }

    pub(crate) fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

pub(crate) fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .merge(super::tokens::routes())
        .fallback(handle)
        .with_state(state)
}

async fn handle(
    State(state): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if uri.path().starts_with(super::youtube::PREFIX) {
        return super::youtube::answer(&state, &method, &uri, &headers).into_response();
    }
    if uri.path().starts_with(super::tiktok::PREFIX) {
        return super::tiktok::answer(&state, &method, &uri, &headers).into_response();
    }
    state.answer(&method, &uri, &headers).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn graph_time_has_offset_without_colon() {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        assert_eq!(graph_time(at), "2024-05-01T12:00:00+0000");
    }

    #[test]
    fn versions_are_recognised() {
        assert!(is_version("v23.0"));
        assert!(is_version("v19.0"));
        assert!(!is_version("v23"));
        assert!(!is_version("23.0"));
        assert!(!is_version("vx.0"));
    }

    #[test]
    fn expired_message_reads_like_meta() {
        let at = Utc.with_ymd_and_hms(2024, 5, 7, 13, 0, 0).unwrap();
        let error = ApiError::expired(at, at + chrono::Duration::minutes(7));
        assert_eq!(
            error.message,
            "Error validating access token: Session has expired on Tuesday, 07-May-24 06:00:00 PDT. The current time is Tuesday, 07-May-24 06:07:00 PDT."
        );
    }
}
