//! Email over SMTP with lettre: STARTTLS, implicit TLS, or plain for a local relay; a multipart
//! message with the text and the HTML digest.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Rendered, SendError};
use crate::config::{SmtpSecurity, SmtpSettings};

pub async fn send(
    smtp: &SmtpSettings,
    password: Option<String>,
    to: &str,
    rendered: &Rendered,
    idempotency_key: &str,
) -> Result<(), SendError> {
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|e| SendError::new(format!("invalid [smtp] from address: {e}")))?;
    let to: Mailbox = to
        .parse()
        .map_err(|e| SendError::new(format!("invalid recipient address: {e}")))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(&rendered.subject)
        // The same Message-ID on every attempt: a resend after a crash is recognisably the same
        // message to the receiving server and mail clients.
        .message_id(Some(format!("<{idempotency_key}@comment-triage>")))
        .multipart(MultiPart::alternative_plain_html(
            rendered.text.clone(),
            rendered.html.clone(),
        ))
        .map_err(|e| SendError::new(format!("cannot build the message: {e}")))?;
    let builder = match smtp.security {
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host),
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host),
        SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &smtp.host,
        )),
    }
    .map_err(|e| SendError::new(format!("cannot set up SMTP to {}: {e}", smtp.host)))?;
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(smtp.timeout_secs)));
    if let (Some(user), Some(password)) = (&smtp.username, password) {
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    builder
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| SendError::new(format!("SMTP delivery failed: {e}")))
}
