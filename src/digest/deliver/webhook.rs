//! The generic webhook: the digest as versioned JSON, signed with HMAC-SHA256.
//!
//! Signature header: `X-Triage-Signature: t=<unix seconds>,v1=<hex>` where the hex is
//! HMAC-SHA256(secret, "<t>.<raw body>"). The receiver recomputes it over the raw body and rejects
//! a timestamp older than its tolerance (5 minutes is usual): the timestamp inside the signed text
//! is what stops a captured request from being replayed later.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::super::build::Digest;
use super::super::words::Words;

/// Version of the JSON payload's schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

pub fn payload(digest: &Digest, period: &str) -> Value {
    let words = Words::of(digest.language);
    let posts: Vec<Value> = digest
        .posts
        .iter()
        .map(|post| {
            let questions: Vec<Value> = post
                .groups
                .iter()
                .flat_map(|g| g.questions.iter())
                .map(|q| {
                    json!({
                        "author": q.author,
                        "text": q.text,
                        "category": q.category.as_str(),
                        "rule": q.rule,
                        "asked_at": q.asked_at.to_rfc3339(),
                        "age_secs": q.age.num_seconds(),
                        "link": q.link,
                        "reminder": q.reminder,
                        "overdue": q.overdue,
                        "suggested_reply": q.suggested_reply,
                    })
                })
                .collect();
            json!({
                "account": post.account,
                "platform": post.platform,
                "post_id": post.post_id,
                "caption": post.caption,
                "permalink": post.permalink,
                "questions": questions,
            })
        })
        .collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "recipient": digest.recipient,
        "period": period,
        "generated_at": digest.generated_at.to_rfc3339(),
        "summary": {
            "text": words.summary(digest),
            "open": digest.question_count(),
            "new": digest.new_count(),
            "overdue": digest.overdue_count(),
            "oldest_age_secs": digest.oldest_age().map(|a| a.num_seconds()),
        },
        "posts": posts,
        "discount_alerts": digest.discount_alerts.iter().map(|a| json!({
            "account": a.account,
            "author": a.author,
            "text": a.text,
            "code": a.code,
            "link": a.link,
            "age_secs": a.age.num_seconds(),
        })).collect::<Vec<_>>(),
        "health": digest.health.iter().map(|n| words.health_note(n)).collect::<Vec<_>>(),
    })
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // HMAC-SHA256("secret", "1700000000.{}"), computed independently with Python's hmac.
        let sig = signature("secret", 1_700_000_000, b"{}");
        assert_eq!(
            sig,
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
        assert_ne!(sig, signature("other", 1_700_000_000, b"{}"));
        assert_ne!(sig, signature("secret", 1_700_000_001, b"{}"));
    }
}
