//! The Facebook Pages routes of the Graph host: a Page, its posts, their comments and replies.
//!
//! Facebook objects live under the same `/vNN.N/` prefix as Instagram's, so there is no route
//! prefix: [`SimState`]'s Graph router authenticates, counts and injects faults as for Instagram,
//! then hands a request here when the id it names belongs to a Facebook account
//! ([`is_facebook`]). Errors, the `X-Business-Use-Case-Usage` header (type `pages`, keyed by the
//! Page id) and throttling (codes 32 and 80001 for a Page) come from the shared Graph machinery.
//!
//! Faithful details (§2 of the platform reference):
//! - nodes: the Page (`/{page-id}`, `/me`), posts `{page-id}_{post-id}`, comments
//!   `{post-id}_{comment-id}`; edges `/{page-id}/posts` (also `feed`, `published_posts`),
//!   `/{post-id}/comments` and `/{comment-id}/comments` (the replies);
//! - `filter=toplevel` (the default) lists top-level comments; `filter=stream` lists every
//!   comment of the post flat, replies included, each with its `parent`;
//! - `order=chronological` (Graph's default, oldest first) or `reverse_chronological`; cursors of
//!   one order are refused by the other (code 100, like any stale cursor);
//! - `summary=true` adds `summary{order,total_count,can_comment}`;
//! - `comments` as a field is a nested edge with its modifiers as parameters: on a post,
//!   `comments.filter(stream).limit(0).summary(true)` gives the comment count; on a comment,
//!   `comments{…}` embeds the first page of its replies (at most
//!   [`SimOptions::nested_replies_cap`](super::SimOptions::nested_replies_cap)) with its own
//!   `paging.next`; empty edges are omitted;
//! - `limit` is clamped to 1–[`SimOptions::page_cap`](super::SimOptions::page_cap) like every
//!   Graph edge of this simulator (Graph publishes no maximum, the checklist asks for a
//!   configurable one); `limit=0` answers an empty `data` without `paging`, the way Graph
//!   serves summary-only requests;
//! - `paging.next` only when a next page exists, repeating every query parameter and the token;
//! - `from{id,name}` is left out for commenters who do not share their profile with the Page's
//!   token: a fixed share of audience authors, chosen from their generated ids (so from the
//!   seed), see [`author_hidden`]; the Page's and the brand's own comments always carry `from`;
//! - the Page's replies come `from` the Page id, with the Page's name;
//! - hidden comments are listed with `is_hidden: true`; deleted ones are gone from lists and a
//!   direct GET answers 100/33; a deleted post (fault) answers 100/33 and leaves `/posts`;
//! - short and empty pages mid-list: a page is cut before deleted comments are dropped from it,
//!   so a page holding some comes back with fewer than `limit` items (none at all when every item
//!   of the cut is gone), still with `cursors` and `next`.
//!
//! Display names are the generated handles, so `from.name` equals the ground truth's username.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::fields::{Field, FieldList};
use super::instagram::{ApiError, Request, SimState, graph_time, sub_object};
use super::paging::{Edge, Page, Position, cut_page, encode_cursor, encode_query};
use super::scenario::{Node, Role, Scenario};
use crate::domain::Platform;

/// Page size of a nested `comments` edge on a post when the field names no `limit`.
const DEFAULT_NESTED_LIMIT: usize = 25;

/// Whether a node belongs to a Facebook Page, so the Facebook routes answer for it.
pub(crate) fn is_facebook(scenario: &Scenario, node: Node) -> bool {
    scenario
        .owner_of(node)
        .is_some_and(|k| scenario.accounts[k].platform == Platform::Facebook)
}

/// Whether Graph leaves `from` out of this comment for the Page's token: one audience author in
/// eight (by a hash of their generated id, so the same people every time for one seed).
pub(crate) fn author_hidden(scenario: &Scenario, comment: usize) -> bool {
    let c = &scenario.comments[comment];
    if c.role != Role::Audience || !is_facebook(scenario, Node::Comment(comment)) {
        return false;
    }
    let hash = c.from_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % 8 == 0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Chronological,
    ReverseChronological,
}

impl Order {
    fn name(self) -> &'static str {
        match self {
            Order::Chronological => "chronological",
            Order::ReverseChronological => "reverse_chronological",
        }
    }

    /// Cursors of the two orders live in different position spaces and must not mix.
    fn edge(self) -> Edge {
        match self {
            Order::Chronological => Edge::OldestFirst,
            Order::ReverseChronological => Edge::Comments,
        }
    }
}

/// A node of a Facebook Page, rendered with the requested fields.
pub(crate) fn render(
    state: &SimState,
    node: Node,
    fields: &FieldList,
    request: &Request<'_>,
) -> Result<Value, ApiError> {
    match node {
        Node::Account(k) => render_page(state, k, fields),
        Node::Media(m) => render_post(state, m, fields, request),
        Node::Comment(c) => render_comment(state, c, fields, request),
        Node::Brand => Err(ApiError::no_object("", "get")),
    }
}

/// The fields a Facebook node shows when the request names none.
pub(crate) fn default_fields(node: Node) -> FieldList {
    match node {
        Node::Account(_) | Node::Brand => FieldList::plain(&["name", "id"]),
        Node::Media(_) => FieldList::plain(&["created_time", "message", "id"]),
        Node::Comment(_) => FieldList::plain(&["created_time", "from", "message", "id"]),
    }
}

/// Fails with 100/33 when a fault deleted the post a node belongs to.
pub(crate) fn check_not_deleted(state: &SimState, id: &str, node: Node) -> Result<(), ApiError> {
    let media = match node {
        Node::Media(m) => Some(m),
        Node::Comment(c) => Some(state.scenario.comments[c].media),
        Node::Account(_) | Node::Brand => None,
    };
    match media {
        Some(m) if state.media_deleted(&state.scenario.media[m].id) => {
            Err(ApiError::no_object(id, "get"))
        }
        _ => Ok(()),
    }
}

/// `/{id}/{edge}` for a Facebook node.
pub(crate) fn list_edge(
    state: &SimState,
    node: Node,
    edge_name: &str,
    request: &Request<'_>,
) -> Result<Value, ApiError> {
    let s = &state.scenario;
    let limit = request.limit()?.min(state.options.page_cap);
    let fields = request.fields()?;
    match (node, edge_name) {
        (Node::Account(k), "posts" | "feed" | "published_posts") => {
            let items: Vec<(Position, Node)> = s.media_by_account[k]
                .iter()
                .filter(|&&m| s.media_visible(m, request.now))
                .filter(|&&m| !state.media_deleted(&s.media[m].id))
                .map(|&m| (post_position(s, m), Node::Media(m)))
                .collect();
            let fields = fields.unwrap_or_else(|| default_fields(Node::Media(0)));
            list_page(state, items, Edge::Media, limit, &fields, request, None)
        }
        (Node::Media(m), "comments") => {
            let stream = match request.param("filter").unwrap_or("toplevel") {
                "toplevel" => false,
                "stream" => true,
                other => {
                    return Err(ApiError::param(&format!(
                        "(#100) param filter must be one of {{toplevel, stream}} - got \"{other}\""
                    )));
                }
            };
            let top = &s.top_level_by_media[m];
            let ids: Vec<usize> = if stream {
                let replies = top
                    .iter()
                    .flat_map(|c| s.replies_by_comment.get(c).into_iter().flatten());
                top.iter().chain(replies).copied().collect()
            } else {
                top.clone()
            };
            list_comments(state, &ids, limit, fields, request)
        }
        (Node::Comment(c), "comments") => {
            let ids = s.replies_by_comment.get(&c).cloned().unwrap_or_default();
            list_comments(state, &ids, limit, fields, request)
        }
        (node, other) => Err(ApiError::no_field(other, node_type(node))),
    }
}

fn list_comments(
    state: &SimState,
    ids: &[usize],
    limit: usize,
    fields: Option<FieldList>,
    request: &Request<'_>,
) -> Result<Value, ApiError> {
    let s = &state.scenario;
    let order = match request.param("order").unwrap_or("chronological") {
        "chronological" => Order::Chronological,
        "reverse_chronological" => Order::ReverseChronological,
        other => {
            return Err(ApiError::param(&format!(
                "(#100) param order must be one of {{chronological, reverse_chronological}} - got \"{other}\""
            )));
        }
    };
    // Graph cuts a page before it drops what the token may no longer see: deleted comments
    // still take their slot, so pages around them come back short (or empty) with `next`.
    let mut items: Vec<(Position, Node)> = ids
        .iter()
        .filter(|&&c| s.comments[c].timestamp <= request.now)
        .map(|&c| {
            let at = Position::new(s.comments[c].timestamp, s.comments[c].key);
            (at, Node::Comment(c))
        })
        .collect();
    items.sort_by_key(|&(at, _)| std::cmp::Reverse(at));
    if order == Order::Chronological {
        // Oldest first: the same cut over mirrored positions.
        items = items
            .into_iter()
            .rev()
            .map(|(at, node)| (mirrored(at), node))
            .collect();
    }
    let total = items
        .iter()
        .filter(|(_, node)| listed(s, *node, request.now))
        .count();
    let summary = (request.param("summary") == Some("true")).then(|| {
        json!({
            "order": order.name(),
            "total_count": total,
            "can_comment": true,
        })
    });
    let fields = fields.unwrap_or_else(|| default_fields(Node::Comment(0)));
    list_page(state, items, order.edge(), limit, &fields, request, summary)
}

/// Whether a listed item is shown: everything but comments gone by now.
fn listed(s: &Scenario, node: Node, now: DateTime<Utc>) -> bool {
    match node {
        Node::Comment(c) => s.comments[c].visible_at(now),
        Node::Account(_) | Node::Brand | Node::Media(_) => true,
    }
}

/// Position in the mirrored space where older items sort higher.
fn mirrored(at: Position) -> Position {
    Position {
        millis: -at.millis,
        key: u64::MAX - at.key,
    }
}

fn post_position(s: &Scenario, m: usize) -> Position {
    let media = &s.media[m];
    let key = media
        .id
        .rsplit('_')
        .next()
        .and_then(|tail| tail.parse().ok())
        .unwrap_or_default();
    Position::new(media.timestamp, key)
}

/// Cuts, renders and wraps one page in Graph's envelope.
fn list_page(
    state: &SimState,
    items: Vec<(Position, Node)>,
    edge: Edge,
    limit: usize,
    fields: &FieldList,
    request: &Request<'_>,
    summary: Option<Value>,
) -> Result<Value, ApiError> {
    let after = request.cursor("after", edge)?;
    let before = if after.is_none() {
        request.cursor("before", edge)?
    } else {
        None
    };
    let page: Page<Node> = if limit == 0 {
        Page {
            items: Vec::new(),
            first: None,
            last: None,
            has_more: false,
        }
    } else {
        cut_page(items, after, before, limit)
    };
    let data = page
        .items
        .iter()
        .filter(|&&node| listed(&state.scenario, node, request.now))
        .map(|&node| render(state, node, fields, request))
        .collect::<Result<Vec<Value>, ApiError>>()?;
    let mut body = Map::new();
    body.insert("data".to_owned(), Value::Array(data));
    if let (Some(first), Some(last)) = (page.first, page.last) {
        let mut paging = json!({
            "cursors": {
                "before": encode_cursor(edge, first),
                "after": encode_cursor(edge, last),
            }
        });
        if page.has_more {
            let mut pairs: Vec<(String, String)> = request
                .query
                .iter()
                .filter(|(name, _)| name != "after" && name != "before")
                .cloned()
                .collect();
            pairs.push(("after".to_owned(), encode_cursor(edge, last)));
            if !pairs.iter().any(|(name, _)| name == "access_token") {
                pairs.push(("access_token".to_owned(), request.token.to_owned()));
            }
            paging["next"] = Value::String(format!(
                "{}{}?{}",
                state.origin,
                request.path,
                encode_query(&pairs)
            ));
        }
        body.insert("paging".to_owned(), paging);
    }
    if let Some(summary) = summary {
        body.insert("summary".to_owned(), summary);
    }
    Ok(Value::Object(body))
}

fn node_type(node: Node) -> &'static str {
    match node {
        Node::Account(_) | Node::Brand => "Page",
        Node::Media(_) => "PagePost",
        Node::Comment(_) => "Comment",
    }
}

/// `104567890123456_788812345678901` → (`104567890123456`, `788812345678901`).
fn split_id(id: &str) -> (&str, &str) {
    id.split_once('_').unwrap_or(("", id))
}

fn post_permalink(post_id: &str) -> String {
    let (page, post) = split_id(post_id);
    format!("https://www.facebook.com/{page}/posts/{post}")
}

fn render_page(state: &SimState, k: usize, fields: &FieldList) -> Result<Value, ApiError> {
    let s = &state.scenario;
    let account = &s.accounts[k];
    let mut out = Map::new();
    for field in &fields.fields {
        let value = match field.name.as_str() {
            "id" => json!(account.id),
            "name" => json!(account.username),
            "username" => json!(account.username),
            "link" => json!(format!("https://www.facebook.com/{}", account.id)),
            "followers_count" | "fan_count" => json!(s.followers[k]),
            other => return Err(ApiError::no_field(other, "Page")),
        };
        out.insert(field.name.clone(), value);
    }
    Ok(Value::Object(out))
}

fn render_post(
    state: &SimState,
    m: usize,
    fields: &FieldList,
    request: &Request<'_>,
) -> Result<Value, ApiError> {
    let s = &state.scenario;
    let media = &s.media[m];
    let account = &s.accounts[media.account];
    let mut out = Map::new();
    for field in &fields.fields {
        let value = match field.name.as_str() {
            "id" => json!(media.id),
            "message" => json!(media.caption),
            "created_time" => json!(graph_time(media.timestamp)),
            "updated_time" => json!(graph_time(media.timestamp)),
            "permalink_url" => json!(post_permalink(&media.id)),
            "is_hidden" => json!(false),
            "is_published" => json!(true),
            "status_type" => json!("added_photos"),
            "from" => sub_object(
                field,
                &[("id", &account.id), ("name", &account.username)],
                "Page",
            )?,
            "comments" => {
                let limit = field.limit.unwrap_or(DEFAULT_NESTED_LIMIT);
                match nested_edge(state, Node::Media(m), limit, field, request)? {
                    Some(edge) => edge,
                    None => continue,
                }
            }
            other => return Err(ApiError::no_field(other, "PagePost")),
        };
        out.insert(field.name.clone(), value);
    }
    Ok(Value::Object(out))
}

fn render_comment(
    state: &SimState,
    c: usize,
    fields: &FieldList,
    request: &Request<'_>,
) -> Result<Value, ApiError> {
    let now = request.now;
    let s = &state.scenario;
    let comment = &s.comments[c];
    let media = &s.media[comment.media];
    let mut out = Map::new();
    for field in &fields.fields {
        let value = match field.name.as_str() {
            "id" => json!(comment.id),
            "message" => json!(comment.text_at(now)),
            "created_time" => json!(graph_time(comment.timestamp)),
            "from" => {
                if author_hidden(s, c) {
                    continue;
                }
                sub_object(
                    field,
                    &[("id", &comment.from_id), ("name", &comment.username)],
                    "User",
                )?
            }
            "comment_count" => json!(reply_count(s, c, now)),
            "like_count" => json!(comment.like_count),
            "is_hidden" => json!(comment.hidden),
            "is_private" => json!(false),
            "can_comment" | "can_like" | "can_remove" | "can_hide" => json!(true),
            "can_reply_privately" => json!(comment.parent.is_none()),
            "parent" => match comment.parent {
                Some(p) => {
                    let parent = &s.comments[p];
                    let time = graph_time(parent.timestamp);
                    sub_object(
                        field,
                        &[
                            ("id", &parent.id),
                            ("message", parent.text_at(now)),
                            ("created_time", &time),
                        ],
                        "Comment",
                    )?
                }
                None => continue,
            },
            "object" => sub_object(field, &[("id", &media.id)], "PagePost")?,
            "comments" => {
                let limit = state.options.nested_reply_page(field.limit);
                match nested_edge(state, Node::Comment(c), limit, field, request)? {
                    Some(edge) => edge,
                    None => continue,
                }
            }
            "permalink_url" => {
                let (_, tail) = split_id(&comment.id);
                json!(format!("{}?comment_id={tail}", post_permalink(&media.id)))
            }
            other => return Err(ApiError::no_field(other, "Comment")),
        };
        out.insert(field.name.clone(), value);
    }
    Ok(Value::Object(out))
}

/// A `comments` edge asked for as a field of a post or a comment, with its modifiers as
/// parameters: `comments.filter(stream).limit(0).summary(true)` on posts is how a client reads
/// every post's comment count in the posts listing, and `comments{…}` on comments embeds the
/// first page of each thread's replies (at most [`SimOptions::nested_replies_cap`], with its own
/// `paging.next`). Omitted, like every empty Graph edge, unless a summary was asked for.
///
/// [`SimOptions::nested_replies_cap`]: super::SimOptions::nested_replies_cap
fn nested_edge(
    state: &SimState,
    parent: Node,
    limit: usize,
    field: &Field,
    request: &Request<'_>,
) -> Result<Option<Value>, ApiError> {
    let parent_id = match parent {
        Node::Media(m) => &state.scenario.media[m].id,
        Node::Comment(c) => &state.scenario.comments[c].id,
        Node::Account(_) | Node::Brand => return Ok(None),
    };
    let mut query: Vec<(String, String)> = field.modifiers.clone();
    query.push(("limit".to_owned(), limit.to_string()));
    if let Some(children) = &field.children {
        query.push(("fields".to_owned(), children.raw.clone()));
    }
    query.push(("access_token".to_owned(), request.token.to_owned()));
    let path = format!("/{}/{parent_id}/comments", request.version());
    let nested = request.nested(&path, &query);
    let edge = list_edge(state, parent, "comments", &nested)?;
    let empty = edge["data"].as_array().is_none_or(Vec::is_empty) && edge.get("summary").is_none();
    Ok((!empty).then_some(edge))
}

/// Replies visible now, from anyone.
fn reply_count(s: &Scenario, c: usize, now: DateTime<Utc>) -> usize {
    s.replies_by_comment.get(&c).map_or(0, |list| {
        list.iter()
            .filter(|&&r| s.comments[r].visible_at(now))
            .count()
    })
}
