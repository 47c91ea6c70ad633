//! The digest's own words in each supported language. Comment text is never translated.

use chrono::Duration;

use super::build::{Digest, HealthNote, Language, format_age};
use crate::domain::Category;

/// Phrases of one language.
pub struct Words {
    pub language: Language,
}

impl Words {
    pub fn of(language: Language) -> Words {
        Words { language }
    }

    fn pick(&self, en: &'static str, es: &'static str) -> &'static str {
        match self.language {
            Language::En => en,
            Language::Es => es,
        }
    }

    /// `@handle`, or a placeholder when the platform hid the author (Facebook without
    /// `pages_read_user_content`), so a line never shows a bare `@`.
    pub fn author(&self, handle: &str) -> String {
        if handle.is_empty() {
            self.pick(
                "author hidden by the platform",
                "autor oculto por la plataforma",
            )
            .to_owned()
        } else {
            format!("@{handle}")
        }
    }

    pub fn title(&self, recipient: &str, date: &str, tz: &str) -> String {
        match self.language {
            Language::En => format!("Digest for {recipient} · {date} ({tz})"),
            Language::Es => format!("Resumen para {recipient} · {date} ({tz})"),
        }
    }

    pub fn summary(&self, digest: &Digest) -> String {
        let (n, posts, new) = (
            digest.question_count(),
            digest.posts.len(),
            digest.new_count(),
        );
        let Some(oldest) = digest.oldest_age() else {
            return self
                .pick(
                    "No open product questions. Nothing to answer today.",
                    "No hay preguntas de producto pendientes. Nada que responder hoy.",
                )
                .to_owned();
        };
        let oldest = format_age(oldest);
        let overdue = digest.overdue_count();
        match self.language {
            Language::En => format!(
                "{n} open product question{} on {posts} post{} · {new} new · oldest waiting {oldest}{}",
                plural_s(n),
                plural_s(posts),
                if overdue > 0 {
                    format!(" · {overdue} overdue")
                } else {
                    String::new()
                }
            ),
            Language::Es => format!(
                "{n} pregunta{} de producto sin responder en {posts} publicaci{} · {new} nueva{} · la más antigua espera {oldest}{}",
                plural_s(n),
                if posts == 1 { "ón" } else { "ones" },
                plural_s(new),
                if overdue > 0 {
                    format!(" · {overdue} atrasada{}", plural_s(overdue))
                } else {
                    String::new()
                }
            ),
        }
    }

    pub fn subject(&self, digest: &Digest) -> String {
        let (n, new) = (digest.question_count(), digest.new_count());
        match self.language {
            Language::En => format!(
                "{n} open product question{} ({new} new) · comment-triage",
                plural_s(n)
            ),
            Language::Es => format!(
                "{n} pregunta{} de producto sin responder ({new} nueva{}) · comment-triage",
                plural_s(n),
                plural_s(new)
            ),
        }
    }

    pub fn ago(&self, age: Duration) -> String {
        match self.language {
            Language::En => format!("{} ago", format_age(age)),
            Language::Es => format!("hace {}", format_age(age)),
        }
    }

    pub fn new_marker(&self) -> &'static str {
        self.pick("new", "nueva")
    }

    pub fn reminder_marker(&self) -> &'static str {
        self.pick("reminder", "recordatorio")
    }

    pub fn overdue_marker(&self) -> &'static str {
        self.pick("overdue", "atrasada")
    }

    pub fn suggested_reply(&self) -> &'static str {
        self.pick("Suggested reply", "Respuesta sugerida")
    }

    pub fn private_reply(&self, left: Duration) -> String {
        match self.language {
            Language::En => format!("private reply possible for {} more", format_age(left)),
            Language::Es => format!("respuesta privada posible durante {} más", format_age(left)),
        }
    }

    pub fn group(&self, count: usize, category: Category) -> String {
        let category = self.category(category);
        match self.language {
            Language::En => format!(
                "{count} people asked about {category} on this post: answer once, pin a reply or add it to the caption"
            ),
            Language::Es => format!(
                "{count} personas preguntaron por {category} en esta publicación: responde una vez, fija una respuesta o añádelo a la descripción"
            ),
        }
    }

    pub fn too_recent(&self, count: usize, min_age: &str) -> String {
        match self.language {
            Language::En => format!(
                "{count} newer question{} will appear once {} {min_age}.",
                plural_s(count),
                if count == 1 { "it is" } else { "they are" }
            ),
            Language::Es => format!(
                "{count} pregunta{} más reciente{} aparecerá{} cuando tenga{} {min_age}.",
                plural_s(count),
                plural_s(count),
                if count == 1 { "" } else { "n" },
                if count == 1 { "" } else { "n" }
            ),
        }
    }

    pub fn discount_title(&self) -> &'static str {
        self.pick(
            "Discount code reported broken: fix it first, a broken code loses every sale it touches",
            "Código de descuento que no funciona: arréglalo primero, pierde cada venta que toca",
        )
    }

    pub fn health_title(&self) -> &'static str {
        self.pick("Connection health", "Estado de las conexiones")
    }

    pub fn health_ok(&self) -> &'static str {
        self.pick(
            "All accounts polled fine and every channel delivers.",
            "Todas las cuentas se consultaron bien y todos los canales entregan.",
        )
    }

    pub fn health_note(&self, note: &HealthNote) -> String {
        match (note, self.language) {
            (
                HealthNote::PollFailing {
                    account,
                    failures,
                    error,
                },
                Language::En,
            ) => {
                format!("{account}: the last {failures} poll(s) failed: {error}")
            }
            (
                HealthNote::PollFailing {
                    account,
                    failures,
                    error,
                },
                Language::Es,
            ) => {
                format!("{account}: las últimas {failures} consulta(s) fallaron: {error}")
            }
            (
                HealthNote::PollStale {
                    account,
                    last_success: None,
                },
                Language::En,
            ) => {
                format!("{account}: never polled successfully")
            }
            (
                HealthNote::PollStale {
                    account,
                    last_success: None,
                },
                Language::Es,
            ) => {
                format!("{account}: nunca se consultó con éxito")
            }
            (
                HealthNote::PollStale {
                    account,
                    last_success: Some(at),
                },
                Language::En,
            ) => {
                format!(
                    "{account}: no successful poll since {}",
                    at.format("%Y-%m-%d %H:%M UTC")
                )
            }
            (
                HealthNote::PollStale {
                    account,
                    last_success: Some(at),
                },
                Language::Es,
            ) => {
                format!(
                    "{account}: ninguna consulta con éxito desde {}",
                    at.format("%Y-%m-%d %H:%M UTC")
                )
            }
            (HealthNote::TokenDead { account, reason }, Language::En) => {
                format!("{account}: token dead, polling stopped: {reason}")
            }
            (HealthNote::TokenDead { account, reason }, Language::Es) => {
                format!("{account}: token inválido, consultas detenidas: {reason}")
            }
            (
                HealthNote::TokenExpiring {
                    account,
                    expires_at,
                    now,
                },
                Language::En,
            ) => {
                let when = expires_at.format("%Y-%m-%d %H:%M UTC");
                if expires_at <= now {
                    format!(
                        "{account}: the access token expired on {when}; create a new one and export it"
                    )
                } else {
                    format!(
                        "{account}: the access token expires in {} ({when}) and cannot be renewed automatically; create a new one and export it",
                        days_left(*expires_at - *now, Language::En)
                    )
                }
            }
            (
                HealthNote::TokenExpiring {
                    account,
                    expires_at,
                    now,
                },
                Language::Es,
            ) => {
                let when = expires_at.format("%Y-%m-%d %H:%M UTC");
                if expires_at <= now {
                    format!(
                        "{account}: el token de acceso caducó el {when}; crea uno nuevo y expórtalo"
                    )
                } else {
                    format!(
                        "{account}: el token de acceso caduca en {} ({when}) y no se puede renovar solo; crea uno nuevo y expórtalo",
                        days_left(*expires_at - *now, Language::Es)
                    )
                }
            }
            (HealthNote::CountGap(gap), Language::En) => format!(
                "{}: post {} shows {} comments on the platform, {} fetched (restricted or filtered comments, or a poll that has not caught up)",
                gap.account, gap.post_external_id, gap.platform_count, gap.stored
            ),
            (HealthNote::CountGap(gap), Language::Es) => format!(
                "{}: la publicación {} muestra {} comentarios en la plataforma, {} recuperados",
                gap.account, gap.post_external_id, gap.platform_count, gap.stored
            ),
            (HealthNote::DeliveryFailing(d), Language::En) => format!(
                "delivery to {} keeps failing ({} attempts): {}; the digest is kept and retried",
                d.channel,
                d.attempts,
                d.last_error.as_deref().unwrap_or("unknown error")
            ),
            (HealthNote::DeliveryFailing(d), Language::Es) => format!(
                "la entrega a {} sigue fallando ({} intentos): {}; el resumen se guarda y se reintenta",
                d.channel,
                d.attempts,
                d.last_error.as_deref().unwrap_or("error desconocido")
            ),
        }
    }

    pub fn category(&self, category: Category) -> &'static str {
        match self.language {
            Language::En => match category {
                Category::Price => "price",
                Category::Availability => "availability",
                Category::Shipping => "shipping",
                Category::Sizing => "size and shade",
                Category::Ingredients => "ingredients",
                Category::Usage => "usage",
                Category::Discount => "discount",
                Category::Compatibility => "compatibility",
                Category::OrderIssue => "order issue",
                Category::Other => "other",
            },
            Language::Es => match category {
                Category::Price => "precio",
                Category::Availability => "disponibilidad",
                Category::Shipping => "envío",
                Category::Sizing => "talla y tono",
                Category::Ingredients => "ingredientes",
                Category::Usage => "uso",
                Category::Discount => "descuento",
                Category::Compatibility => "compatibilidad",
                Category::OrderIssue => "problema con un pedido",
                Category::Other => "otro",
            },
        }
    }
}

fn plural_s(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// "3 days", "1 day", "5 hours" (under a day).
fn days_left(left: chrono::Duration, language: Language) -> String {
    let days = left.num_days();
    let hours = left.num_hours().max(1);
    match (language, days) {
        (Language::En, 0) => format!("{hours} hour{}", if hours == 1 { "" } else { "s" }),
        (Language::En, 1) => "1 day".to_owned(),
        (Language::En, d) => format!("{d} days"),
        (Language::Es, 0) => format!("{hours} hora{}", if hours == 1 { "" } else { "s" }),
        (Language::Es, 1) => "1 día".to_owned(),
        (Language::Es, d) => format!("{d} días"),
    }
}
