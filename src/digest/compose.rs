//! Gathers one recipient's digest from the store: open questions in scope, which were shown
//! before, totals, and connection health.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::build::{
    Digest, DigestInput, DigestOptions, DiscountAlert, HealthNote, build_digest, comment_link,
};
use crate::classify::discount::{DiscountKind, detect_discount};
use crate::config::{RecipientScope, RecipientSettings, Settings};
use crate::store::{QuestionScope, Store, StoreError};

/// A channel is reported in the digest once its delivery failed this many times in a row.
const FAILING_DELIVERY_ATTEMPTS: u32 = 3;

/// The account names a recipient's digest covers.
pub fn accounts_in_scope(settings: &Settings, recipient: &RecipientSettings) -> Vec<String> {
    match recipient.scope() {
        RecipientScope::Influencer { accounts } => accounts,
        RecipientScope::Brand { campaign } => settings
            .campaign(&campaign)
            .map(|c| c.accounts.clone())
            .unwrap_or_default(),
    }
}

/// Builds the recipient's digest as of `now`.
///
/// # Errors
/// The store cannot be read.
pub async fn compose_digest(
    store: &Store,
    settings: &Settings,
    recipient: &RecipientSettings,
    now: DateTime<Utc>,
) -> Result<Digest, StoreError> {
    let scope = match recipient.scope() {
        RecipientScope::Influencer { accounts } => QuestionScope::Accounts(accounts),
        RecipientScope::Brand { campaign } => QuestionScope::Campaign(campaign),
    };
    let questions = store.open_product_questions(&scope).await?;
    let keys: Vec<i64> = questions.iter().map(|q| q.comment_key).collect();
    let listed_before = store.listed_before(&recipient.name, &keys).await?;
    let totals = store.totals(&scope).await?;
    let health = health_notes(store, settings, recipient, now).await?;
    let discount_alerts = discount_alerts(store, settings, recipient, &scope, now).await?;
    let options = DigestOptions {
        recipient: recipient.name.clone(),
        timezone: recipient.timezone,
        language: recipient.language,
        min_age: Duration::minutes(recipient.min_question_age_minutes as i64),
        sla: Duration::hours(recipient.sla_hours as i64),
        templates: settings
            .campaigns
            .iter()
            .map(|c| (c.name.clone(), c.answer_templates.clone()))
            .collect::<HashMap<_, _>>(),
    };
    let input = DigestInput {
        questions,
        listed_before,
        totals,
        health,
        discount_alerts,
    };
    Ok(build_digest(&options, input, now))
}

/// Comments of the last day in the scope that say a discount code does not work.
async fn discount_alerts(
    store: &Store,
    settings: &Settings,
    recipient: &RecipientSettings,
    scope: &QuestionScope,
    now: DateTime<Utc>,
) -> Result<Vec<DiscountAlert>, StoreError> {
    let accounts = accounts_in_scope(settings, recipient);
    let codes: Vec<String> = settings
        .campaigns
        .iter()
        .filter(|c| c.accounts.iter().any(|a| accounts.contains(a)))
        .flat_map(|c| c.discount_codes.iter().cloned())
        .collect();
    let recent = store
        .recent_audience_comments(scope, now - Duration::hours(24))
        .await?;
    Ok(recent
        .into_iter()
        .filter_map(|c| {
            let (kind, code) = detect_discount(&c.text, c.label, &codes)?;
            (kind == DiscountKind::BrokenCode).then(|| DiscountAlert {
                link: c
                    .post_permalink
                    .as_deref()
                    .map(|p| comment_link(&c.platform, p, &c.comment_external_id)),
                account: c.account,
                author: c.author_handle,
                text: c.text,
                code,
                age: (now - c.created_at).max(Duration::zero()),
            })
        })
        .collect())
}

/// The silent failures in the recipient's scope: failing or stale polls, posts where the platform
/// shows more comments than were fetched, and this recipient's failing channels.
async fn health_notes(
    store: &Store,
    settings: &Settings,
    recipient: &RecipientSettings,
    now: DateTime<Utc>,
) -> Result<Vec<HealthNote>, StoreError> {
    let accounts = accounts_in_scope(settings, recipient);
    let stale_after = Duration::seconds((settings.worker.poll_interval_secs as i64 * 3).max(3600));
    let mut notes = Vec::new();
    for health in store.account_health().await? {
        if !accounts.contains(&health.name) {
            continue;
        }
        let last_success = health
            .last_success_at
            .and_then(|t| DateTime::from_timestamp(t, 0));
        if let Some(note) = token_note(&health, now) {
            let dead = matches!(note, HealthNote::TokenDead { .. });
            notes.push(note);
            if dead {
                // The poll failure says the same thing.
                continue;
            }
        }
        if health.fail_count > 0 {
            notes.push(HealthNote::PollFailing {
                account: health.name.clone(),
                failures: health.fail_count,
                error: health.last_error.clone().unwrap_or_default(),
            });
        } else if last_success.is_none_or(|t| now - t > stale_after) {
            notes.push(HealthNote::PollStale {
                account: health.name.clone(),
                last_success,
            });
        }
    }
    notes.extend(
        store
            .count_gaps(&accounts)
            .await?
            .into_iter()
            .map(HealthNote::CountGap),
    );
    notes.extend(
        store
            .failing_deliveries(&recipient.name, FAILING_DELIVERY_ATTEMPTS)
            .await?
            .into_iter()
            .map(HealthNote::DeliveryFailing),
    );
    Ok(notes)
}

/// A dead token, or one the worker cannot renew that expires within
/// [`EXPIRY_WARNING_DAYS`](crate::credentials::EXPIRY_WARNING_DAYS) (or has expired).
fn token_note(health: &crate::store::AccountHealth, now: DateTime<Utc>) -> Option<HealthNote> {
    let token = health.token.as_ref()?;
    if let Some(reason) = &token.dead_reason {
        return Some(HealthNote::TokenDead {
            account: health.name.clone(),
            reason: reason.clone(),
        });
    }
    let expires_at = token.expires_at?;
    let warn = Duration::days(crate::credentials::EXPIRY_WARNING_DAYS);
    (!token.refreshable && expires_at - now <= warn).then(|| HealthNote::TokenExpiring {
        account: health.name.clone(),
        expires_at,
        now,
    })
}
