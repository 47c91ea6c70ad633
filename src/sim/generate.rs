//! Texts and names of the simulated world: captions, usernames, comments, replies.
//!
//! Texts are built from parts (a core phrase per language and category, plus openers, closers,
//! casing and emoji) so that a classifier cannot pass by memorising a dozen strings. Each function
//! returns text only; the caller records the intended label it asked for. The few hostile texts
//! every scenario must contain come from [`planted_texts`].

use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::domain::{Category, Label};

pub(crate) type SimRng = ChaCha8Rng;

/// The brand sponsoring every campaign.
pub(crate) const BRAND_USERNAME: &str = "glowlab";

/// Languages comments are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Lang {
    En,
    Es,
    Pt,
    Id,
    Fr,
    De,
}

/// A product a sponsored post promotes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Product {
    pub(crate) name: &'static str,
    /// How commenters call it in English ("the serum").
    pub(crate) noun: &'static str,
    pub(crate) price_usd: u32,
}

pub(crate) const PRODUCTS: [Product; 4] = [
    Product {
        name: "Dewy Drops Serum",
        noun: "serum",
        price_usd: 34,
    },
    Product {
        name: "Cloud Lip Tint",
        noun: "lip tint",
        price_usd: 18,
    },
    Product {
        name: "Barrier Balm",
        noun: "balm",
        price_usd: 26,
    },
    Product {
        name: "Sun Veil SPF 50",
        noun: "sunscreen",
        price_usd: 29,
    },
];

fn pick<'a>(rng: &mut SimRng, items: &'a [&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or("")
}

fn chance(rng: &mut SimRng, p: f64) -> bool {
    rng.random_bool(p.clamp(0.0, 1.0))
}

pub(crate) fn pick_lang(rng: &mut SimRng) -> Lang {
    let roll = rng.random_range(0..100u32);
    match roll {
        0..50 => Lang::En,
        50..62 => Lang::Es,
        62..74 => Lang::Pt,
        74..86 => Lang::Id,
        86..93 => Lang::Fr,
        _ => Lang::De,
    }
}

pub(crate) fn pick_product_category(rng: &mut SimRng) -> Category {
    let roll = rng.random_range(0..100u32);
    match roll {
        0..22 => Category::Price,
        22..44 => Category::Availability,
        44..54 => Category::Shipping,
        54..64 => Category::Sizing,
        64..72 => Category::Ingredients,
        72..80 => Category::Usage,
        80..87 => Category::Discount,
        87..93 => Category::Compatibility,
        93..98 => Category::OrderIssue,
        _ => Category::Other,
    }
}

const FIRST_NAMES_EN: &[&str] = &[
    "jess", "emma", "olivia", "ava", "mia", "chloe", "sophie", "lily", "grace", "zoe", "hannah",
    "kate", "lucy", "ella", "maddie", "taylor", "brianna", "ashley", "sam", "josh", "ryan",
    "tyler", "megan", "rachel", "kayla", "jordan",
];
const FIRST_NAMES_ES: &[&str] = &[
    "maria",
    "lucia",
    "sofia",
    "valentina",
    "camila",
    "andrea",
    "paula",
    "carla",
    "daniela",
    "javi",
    "ale",
    "fer",
    "vale",
    "majo",
];
const FIRST_NAMES_PT: &[&str] = &[
    "ana", "bia", "julia", "larissa", "gabi", "leticia", "mariana", "bruna", "thais", "duda",
];
const FIRST_NAMES_ID: &[&str] = &[
    "ayu", "putri", "dewi", "sari", "nadia", "rina", "indah", "siti", "fitri", "dinda", "tasya",
    "nabila",
];
const FIRST_NAMES_FR: &[&str] = &[
    "chloe", "lea", "manon", "camille", "ines", "jade", "lou", "clara", "elise", "margaux",
];
const FIRST_NAMES_DE: &[&str] = &[
    "lena", "hannah", "anna", "laura", "lisa", "marie", "jana", "nina", "paula", "frieda",
];
const SURNAMES: &[&str] = &[
    "lopez", "garcia", "silva", "santos", "wijaya", "martin", "dubois", "mueller", "schmidt",
    "nguyen", "smith", "kim", "lee", "rossi", "costa", "pratama", "moreau", "weber", "brown",
];
const HANDLE_WORDS: &[&str] = &[
    "beauty", "glow", "skin", "makeup", "vibes", "daily", "loves", "xo", "diaries", "mua", "style",
    "life", "art",
];

fn first_names(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::En => FIRST_NAMES_EN,
        Lang::Es => FIRST_NAMES_ES,
        Lang::Pt => FIRST_NAMES_PT,
        Lang::Id => FIRST_NAMES_ID,
        Lang::Fr => FIRST_NAMES_FR,
        Lang::De => FIRST_NAMES_DE,
    }
}

/// A creator handle such as `glowwithjess`, and the first name it was built from.
pub(crate) fn creator_username(rng: &mut SimRng, index: usize) -> (String, String) {
    let name = if index == 0 {
        "jess"
    } else {
        pick(rng, FIRST_NAMES_EN)
    };
    let handle = match rng.random_range(0..6u32) {
        _ if index == 0 => format!("glowwith{name}"),
        0 => format!("glowwith{name}"),
        1 => format!("skinby{name}"),
        2 => format!("makeupwith{name}"),
        3 => format!("dewy{name}"),
        4 => format!("{name}.glows"),
        _ => format!("beautyby{name}"),
    };
    (handle, name.to_owned())
}

/// A commenter handle; the caller makes it unique.
pub(crate) fn commenter_username(rng: &mut SimRng, lang: Lang) -> String {
    let first = pick(rng, first_names(lang));
    let n = rng.random_range(1..100u32);
    match rng.random_range(0..7u32) {
        0 => format!("{first}.{}", pick(rng, SURNAMES)),
        1 => format!("{first}_{}{n}", pick(rng, HANDLE_WORDS)),
        2 => format!("its{first}{}", pick(rng, &["", "x", "_", "xo"])),
        3 => format!("{first}{n}"),
        4 => format!("{first}.{}", pick(rng, HANDLE_WORDS)),
        5 => format!("{first}_{}_", pick(rng, SURNAMES)),
        _ => format!("the{first}{}", pick(rng, HANDLE_WORDS)),
    }
}

/// The caption of a post.
pub(crate) fn caption(rng: &mut SimRng, product: &Product, sponsored: bool, code: &str) -> String {
    if !sponsored {
        let line = pick(
            rng,
            &[
                "sunday reset 🧺☀️",
                "golden hour never misses 🌅",
                "get ready with me for my best friend's wedding 💍",
                "a little photo dump from this week 📸",
                "my honest morning routine, no filter",
                "trying the viral pasta recipe 🍝 verdict in comments",
            ],
        );
        let tags = pick(
            rng,
            &["#vlog #dayinmylife", "#grwm", "#photodump", "#weekend"],
        );
        return format!("{line}\n\n{tags}");
    }
    let hook = pick(
        rng,
        &[
            "Obsessed with my new @glowlab {name} ✨",
            "POV: you finally found the {noun} that works 😮‍💨 @glowlab {name}",
            "Week 3 of using the @glowlab {name} and my skin has never looked this glassy",
            "Okay I didn't expect to love the @glowlab {name} this much 🫶",
            "Morning routine ft. the @glowlab {name} ☀️",
        ],
    );
    let hook = hook
        .replace("{name}", product.name)
        .replace("{noun}", product.noun);
    let code_line = if chance(rng, 0.7) {
        format!("\nCode {code} for 15% off 💛")
    } else {
        String::new()
    };
    let tags = pick(
        rng,
        &[
            "#ad #glowlab #skincare",
            "#ad #glowlabpartner #skintok",
            "#ad #sponsored #glassskin",
        ],
    );
    format!("{hook}{code_line}\n\n{tags}")
}

fn question_cores(lang: Lang, category: Category) -> &'static [&'static str] {
    use Category as C;
    match (lang, category) {
        (Lang::En, C::Price) => &[
            "how much",
            "how much is it",
            "how much is the {p}",
            "price",
            "what's the price",
            "how much does the {p} cost",
            "is it expensive",
            "price pls",
            "how much for the {p} in the US",
            "whats the price in euros",
        ],
        (Lang::En, C::Availability) => &[
            "link",
            "link pls",
            "where can I buy this",
            "where do I get the {p}",
            "is it at sephora",
            "is the {p} sold in stores",
            "is it back in stock",
            "where can i find this in the uk",
            "can i get it on amazon",
            "need the link",
        ],
        (Lang::En, C::Shipping) => &[
            "do you ship to Canada 🇨🇦",
            "does it ship to australia",
            "how long does shipping take",
            "do they ship internationally",
            "is shipping free",
            "do they ship to the philippines",
            "how long did delivery take for you",
        ],
        (Lang::En, C::Sizing) => &[
            "which shade are you wearing",
            "what shade is that",
            "does the {p} come in a bigger size",
            "how many ml is it",
            "is there a shade for darker skin",
            "which shade for fair skin",
            "what size is the bottle",
        ],
        (Lang::En, C::Ingredients) => &[
            "is it vegan",
            "is it cruelty free",
            "does the {p} have fragrance",
            "is it safe for pregnancy",
            "does it contain niacinamide",
            "is it fragrance free",
            "what are the ingredients",
            "is it ok for sensitive skin",
            "does the {p} work for oily skin",
            "is it good for acne prone skin",
            "is it safe for teens",
        ],
        (Lang::En, C::Usage) => &[
            "how do you use it",
            "do you put it on before or after moisturizer",
            "morning or night",
            "how often do you use the {p}",
            "can you use it under makeup",
            "how many drops do you use",
        ],
        (Lang::En, C::Discount) => &[
            "code not working",
            "is there a discount code",
            "does your code still work",
            "{code} says invalid",
            "any promo code",
            "is there a sale rn",
        ],
        (Lang::En, C::Compatibility) => &[
            "can I use it with retinol",
            "can i use it with vitamin c",
            "does the {p} have spf",
            "is the finish matte or dewy",
        ],
        (Lang::En, C::OrderIssue) => &[
            "my order never came",
            "i ordered 2 weeks ago and still nothing",
            "got the wrong shade, who do i contact",
            "my package arrived broken",
            "still waiting for my refund",
            "tracking hasn't updated in 10 days",
        ],
        (Lang::En, C::Other) => &[
            "is this the same as the old formula",
            "did they change the packaging",
            "is this the new version",
        ],
        (Lang::Es, C::Price) => &[
            "¿cuánto cuesta?",
            "precio?",
            "cuánto sale",
            "¿qué precio tiene?",
        ],
        (Lang::Es, C::Availability) => {
            &["¿dónde lo compro?", "link porfa", "¿lo venden en México?"]
        }
        (Lang::Es, C::Shipping) => &["¿hacen envíos a Argentina?", "¿envían a Chile?"],
        (Lang::Es, C::Sizing) => &["¿qué tono usas?", "¿cuántos ml trae?"],
        (Lang::Es, C::Ingredients) => &[
            "¿es vegano?",
            "¿tiene fragancia?",
            "¿sirve para piel sensible?",
        ],
        (Lang::Es, C::Usage) => &["¿cómo se usa?", "¿se usa de día o de noche?"],
        (Lang::Es, C::Discount) => &["el código no funciona", "¿hay código de descuento?"],
        (Lang::Es, C::Compatibility) => &["¿tiene protector solar?"],
        (Lang::Es, C::OrderIssue) => &["mi pedido nunca llegó", "pedí hace un mes y nada"],
        (Lang::Es, C::Other) => &["¿es la fórmula nueva?"],
        (Lang::Pt, C::Price) => &["quanto custa?", "qual o valor?", "preço?"],
        (Lang::Pt, C::Availability) => &["onde compra?", "link por favor", "tem no Brasil?"],
        (Lang::Pt, C::Shipping) => &["entrega no Brasil?", "envia pra Portugal?"],
        (Lang::Pt, C::Sizing) => &["qual a cor que você tá usando?", "qual o tamanho?"],
        (Lang::Pt, C::Ingredients) => &["é vegano?", "tem perfume?", "serve pra pele oleosa?"],
        (Lang::Pt, C::Usage) => &["como usa?", "usa antes do hidratante?"],
        (Lang::Pt, C::Discount) => &["o cupom não funciona", "tem cupom?"],
        (Lang::Pt, C::Compatibility) => &["tem proteção solar?"],
        (Lang::Pt, C::OrderIssue) => &["meu pedido não chegou", "comprei e até agora nada"],
        (Lang::Pt, C::Other) => &["mudaram a embalagem?"],
        (Lang::Id, C::Price) => &[
            "berapa harganya kak",
            "harga?",
            "harganya berapa ya",
            "brp kak",
        ],
        (Lang::Id, C::Availability) => &["beli dimana kak", "link dong", "ada di shopee ga?"],
        (Lang::Id, C::Shipping) => &["bisa kirim ke Surabaya?", "ongkirnya berapa ke Bali?"],
        (Lang::Id, C::Sizing) => &["shade apa yg dipake kak?", "ukurannya berapa ml?"],
        (Lang::Id, C::Ingredients) => &[
            "udah halal belum kak?",
            "ada alkoholnya ga?",
            "aman buat kulit sensitif ga?",
        ],
        (Lang::Id, C::Usage) => &["cara pakainya gimana kak?", "dipake pagi atau malam?"],
        (Lang::Id, C::Discount) => &["kodenya ga bisa kak", "ada kode diskon ga?"],
        (Lang::Id, C::Compatibility) => &["ada spf nya ga kak?"],
        (Lang::Id, C::OrderIssue) => &["pesananku belum sampai kak", "paketku ga dateng2"],
        (Lang::Id, C::Other) => &["ini formula baru ya kak?"],
        (Lang::Fr, C::Price) => &["c'est combien ?", "quel prix ?", "combien ça coûte ?"],
        (Lang::Fr, C::Availability) => &[
            "où est-ce qu'on peut l'acheter ?",
            "le lien stp",
            "dispo en France ?",
        ],
        (Lang::Fr, C::Shipping) => &[
            "vous livrez en Belgique ?",
            "livraison en Suisse possible ?",
        ],
        (Lang::Fr, C::Sizing) => &["quelle teinte tu portes ?", "c'est combien de ml ?"],
        (Lang::Fr, C::Ingredients) => &[
            "c'est vegan ?",
            "il y a du parfum dedans ?",
            "ça convient aux peaux sensibles ?",
        ],
        (Lang::Fr, C::Usage) => &["tu l'utilises comment ?", "matin ou soir ?"],
        (Lang::Fr, C::Discount) => &["le code ne marche pas", "il y a un code promo ?"],
        (Lang::Fr, C::Compatibility) => &["il a un SPF ?"],
        (Lang::Fr, C::OrderIssue) => &[
            "ma commande n'est jamais arrivée",
            "toujours pas reçu mon colis",
        ],
        (Lang::Fr, C::Other) => &["c'est la nouvelle formule ?"],
        (Lang::De, C::Price) => &["was kostet das?", "wie teuer ist es?", "preis?"],
        (Lang::De, C::Availability) => &[
            "wo kann man das kaufen?",
            "link bitte",
            "gibt's das bei dm?",
        ],
        (Lang::De, C::Shipping) => &["liefert ihr nach Österreich?", "versand in die Schweiz?"],
        (Lang::De, C::Sizing) => &["welche Nuance trägst du?", "wie viel ml sind das?"],
        (Lang::De, C::Ingredients) => &[
            "ist das vegan?",
            "ist da Parfum drin?",
            "geht das auch bei empfindlicher Haut?",
        ],
        (Lang::De, C::Usage) => &["wie benutzt du das?", "morgens oder abends?"],
        (Lang::De, C::Discount) => &["der Code funktioniert nicht", "gibt es einen Rabattcode?"],
        (Lang::De, C::Compatibility) => &["hat das einen LSF?"],
        (Lang::De, C::OrderIssue) => &[
            "meine Bestellung ist nie angekommen",
            "warte seit 3 Wochen auf mein Paket",
        ],
        (Lang::De, C::Other) => &["ist das die neue Formel?"],
    }
}

fn opener(rng: &mut SimRng, lang: Lang) -> &'static str {
    if !chance(rng, 0.35) {
        return "";
    }
    match lang {
        Lang::En => pick(
            rng,
            &[
                "omg ",
                "hi! ",
                "wait ",
                "ok but ",
                "@glowlab ",
                "girl ",
                "hey ",
            ],
        ),
        Lang::Es => pick(rng, &["hola ", "amiga ", "holaa "]),
        Lang::Pt => pick(rng, &["oi ", "gente ", "amiga "]),
        Lang::Id => pick(rng, &["kak ", "halo kak ", "kakk "]),
        Lang::Fr => pick(rng, &["coucou ", "salut ", "bonjour "]),
        Lang::De => pick(rng, &["hallo ", "hey ", "huhu "]),
    }
}

fn closer(rng: &mut SimRng, ends_with_question_mark: bool) -> &'static str {
    if ends_with_question_mark {
        pick(rng, &["", "", "?", " 🙏", " 😍", " 🥺", "??"])
    } else {
        pick(
            rng,
            &[
                "?", "??", "???", "", " 🙏", "? 😍", "?!", " pls", "?? 🥺", " ✨",
            ],
        )
    }
}

/// A question about the promoted product, in `lang`, about `category`.
pub(crate) fn product_question(
    rng: &mut SimRng,
    lang: Lang,
    category: Category,
    product: &Product,
    code: &str,
) -> String {
    let core = pick(rng, question_cores(lang, category))
        .replace("{p}", product.noun)
        .replace("{code}", code);
    let mut open = opener(rng, lang);
    if core.contains("kak") && open.contains("kak") {
        open = "";
    }
    let close = closer(rng, core.ends_with('?'));
    let mut text = format!("{open}{core}{close}");
    let style = rng.random_range(0..100u32);
    if style < 15 {
        text = text.to_lowercase();
    } else if style < 20 && lang == Lang::En {
        text = text.to_uppercase();
    } else if style < 45 {
        let mut chars = text.chars();
        if let Some(first) = chars.next() {
            text = first.to_uppercase().chain(chars).collect();
        }
    }
    text
}

/// A question that is not about the product.
pub(crate) fn other_question(rng: &mut SimRng, lang: Lang) -> String {
    let core = match lang {
        Lang::En => pick(
            rng,
            &[
                "what song is this?",
                "song name??",
                "where is this place?",
                "where did you film this?",
                "what camera do you use?",
                "is that your dog?? 😍",
                "when is the next vlog?",
                "are you going to the LA meetup?",
                "where's your top from?",
                "how tall are you?",
            ],
        ),
        Lang::Es => pick(rng, &["¿qué canción es?", "¿dónde es eso?"]),
        Lang::Pt => pick(rng, &["qual o nome da música?", "onde é esse lugar?"]),
        Lang::Id => pick(rng, &["lagunya apa kak?", "ini dimana kak?"]),
        Lang::Fr => pick(rng, &["c'est quoi la musique ?", "c'est où ?"]),
        Lang::De => pick(rng, &["wie heißt der Song?", "wo ist das?"]),
    };
    if chance(rng, 0.2) {
        core.to_lowercase()
    } else {
        core.to_owned()
    }
}

/// A comment that asks nothing: compliments, emoji, tags, rhetorical questions, giveaway entries.
pub(crate) fn not_question(rng: &mut SimRng, lang: Lang, friends: &[String]) -> String {
    let friend = |rng: &mut SimRng| -> String {
        friends
            .choose(rng)
            .cloned()
            .unwrap_or_else(|| "bestie".to_owned())
    };
    match rng.random_range(0..100u32) {
        0..34 => {
            let base = match lang {
                Lang::En => pick(
                    rng,
                    &[
                        "obsessed",
                        "you look stunning",
                        "this is so pretty",
                        "love this!!",
                        "your skin is glowing",
                        "queen",
                        "need this in my life",
                        "ok this is gorgeous",
                        "the glow!!!",
                        "bought it last week and I love it",
                        "can't wait to try it",
                        "this made my day",
                        "first!",
                        "same",
                    ],
                ),
                Lang::Es => pick(rng, &["precioso", "que linda", "me encanta", "lo necesito"]),
                Lang::Pt => pick(rng, &["lindaaa", "amei!!", "perfeita", "que pele"]),
                Lang::Id => pick(rng, &["cantik bgt kak", "glowing bgt", "suka bgt"]),
                Lang::Fr => pick(rng, &["trop belle", "magnifique", "j'adore"]),
                Lang::De => pick(rng, &["wunderschön", "so schön", "liebe es"]),
            };
            let emoji = pick(
                rng,
                &["", " 😍", " ✨", " 🔥", " 💕", " 👑", " 😭😭", " 🫶🏼"],
            );
            format!("{base}{emoji}")
        }
        34..50 => pick(
            rng,
            &[
                "😍😍😍",
                "🔥🔥",
                "✨",
                "🙌🏽",
                "💖💖💖💖",
                "😭😭😭",
                "👩🏽‍🦱💕",
                "🫶🏻🫶🏻",
                "👏👏👏",
                "🤩",
            ],
        )
        .to_owned(),
        50..64 => match rng.random_range(0..3u32) {
            0 => format!("@{}", friend(rng)),
            1 => format!("@{} @{}", friend(rng), friend(rng)),
            _ => format!("@{} 👀", friend(rng)),
        },
        64..80 => {
            let text = match lang {
                Lang::Es => pick(
                    rng,
                    &[
                        "¿por qué eres tan linda?! 😭",
                        "¿cómo es posible tanta belleza?!",
                    ],
                ),
                Lang::Pt => pick(rng, &["como pode ser tão linda?! 😍"]),
                _ => pick(
                    rng,
                    &[
                        "who else is obsessed?!",
                        "why is this so cute?!",
                        "how are you this pretty?? 😭",
                        "can you BE any cuter?!",
                        "is there anything you can't pull off?!",
                        "why am I just now seeing this?!",
                        "who's here after the tiktok? 😂",
                    ],
                ),
            };
            text.to_owned()
        }
        80..94 => match rng.random_range(0..4u32) {
            0 => format!("done! @{} @{} 🤞", friend(rng), friend(rng)),
            1 => format!("entered 🙏 @{}", friend(rng)),
            2 => "pick me pls 🥺🥺".to_owned(),
            _ => format!(
                "followed and shared! @{} @{} @{}",
                friend(rng),
                friend(rng),
                friend(rng)
            ),
        },
        94..97 => String::new(),
        _ => pick(rng, &["lol", "haha", "real", "this is me every morning 😂"]).to_owned(),
    }
}

/// Spam the account hides or deletes.
pub(crate) fn spam(rng: &mut SimRng) -> String {
    pick(
        rng,
        &[
            "💰 DM me to earn $500/day from home 💰",
            "Check my page for free followers 🔥🔥",
            "Promote it on @viral.promo.page 🚀",
            "Nice pic! Send it to @collab.shop.official to be featured ⭐",
            "I made $3k this week with crypto, ask me how 📈",
        ],
    )
    .to_owned()
}

/// The creator answering a product question.
pub(crate) fn owner_answer(
    rng: &mut SimRng,
    lang: Lang,
    category: Category,
    product: &Product,
    code: &str,
) -> String {
    if lang != Lang::En && chance(rng, 0.5) {
        return match lang {
            Lang::Es => pick(rng, &["¡hola! link en mi bio 💕", "¡sí! está en su web 💛"]),
            Lang::Pt => pick(rng, &["link na bio amiga 💕", "tem no site deles 💛"]),
            Lang::Id => pick(
                rng,
                &["link di bio ya kak 💕", "ada di website mereka kak 💛"],
            ),
            Lang::Fr => pick(rng, &["le lien est dans ma bio 💕"]),
            _ => pick(rng, &["Link ist in meiner Bio 💕"]),
        }
        .to_owned();
    }
    use Category as C;
    let text = match category {
        C::Price => pick(
            rng,
            &[
                "it's ${price} on their site 💕",
                "${price}! worth every cent",
                "${price}, and my code makes it cheaper",
            ],
        ),
        C::Availability => pick(
            rng,
            &[
                "link in my bio babe 🔗",
                "glowlab.com or Sephora!",
                "it's on their website 💛",
            ],
        ),
        C::Shipping => pick(
            rng,
            &[
                "yes they ship worldwide!",
                "they ship to Canada yes 🇨🇦",
                "check their site, shipping depends on the country",
            ],
        ),
        C::Sizing => pick(
            rng,
            &[
                "I'm wearing shade 03 Honey",
                "it's 30ml",
                "they have 12 shades!",
            ],
        ),
        C::Ingredients => pick(
            rng,
            &[
                "yes it's vegan and cruelty free 🐰",
                "fragrance free!",
                "full list is on their site",
            ],
        ),
        C::Usage => pick(
            rng,
            &[
                "2-3 drops after toner ✨",
                "morning and night!",
                "I use it under moisturizer",
            ],
        ),
        C::Discount => pick(
            rng,
            &[
                "try {code} in caps!",
                "DM'd you babe",
                "should work again now, let me know",
            ],
        ),
        C::Compatibility => pick(
            rng,
            &[
                "I use it with retinol, no problem, but patch test first",
                "yes, SPF 30!",
            ],
        ),
        C::OrderIssue => pick(
            rng,
            &[
                "so sorry! please DM @glowlab with your order number",
                "tagging @glowlab so they can help 💛",
            ],
        ),
        C::Other => pick(rng, &["yes!", "not sure tbh, asking them"]),
    };
    text.replace("{price}", &product.price_usd.to_string())
        .replace("{code}", code)
}

/// The creator reacting to something that is not a question.
pub(crate) fn owner_thanks(rng: &mut SimRng) -> String {
    pick(
        rng,
        &[
            "thank you 🥰",
            "love you!!",
            "🥹💕",
            "aww thanks babe",
            "haha yes!!",
            "you're the sweetest",
        ],
    )
    .to_owned()
}

/// The brand's account answering.
pub(crate) fn brand_answer(rng: &mut SimRng, category: Category) -> String {
    use Category as C;
    let text = match category {
        C::Shipping => "We ship to 30+ countries! 🌍 Check glowlab.com/shipping",
        C::OrderIssue => "So sorry about this! Please DM us your order number 💛",
        C::Discount => "Try GLOW10 at checkout for 10% off! 💛",
        C::Price | C::Availability => pick(
            rng,
            &[
                "Hi love! It's available at glowlab.com 💛",
                "Find it at glowlab.com and Sephora ✨",
            ],
        ),
        _ => pick(
            rng,
            &[
                "Great question! DM us and we'll help 💛",
                "Hi! Everything is on glowlab.com ✨",
            ],
        ),
    };
    text.to_owned()
}

/// Someone else replying in a thread: echoes, hints, or a question of their own.
pub(crate) fn audience_reply(rng: &mut SimRng, asker: &str) -> (String, Label) {
    match rng.random_range(0..100u32) {
        0..25 => (
            pick(
                rng,
                &[
                    "same question!!",
                    "+1",
                    "following",
                    "I want to know too 👀",
                    "same 😭",
                ],
            )
            .to_owned(),
            Label::NotQuestion,
        ),
        25..45 => (
            format!(
                "@{asker} {}",
                pick(
                    rng,
                    &[
                        "it's like $30 I think",
                        "link in her bio",
                        "it's on their website",
                        "I got mine at sephora"
                    ]
                )
            ),
            Label::NotQuestion,
        ),
        45..60 => (
            pick(rng, &["also does it ship to the UK?", "and is it vegan??"]).to_owned(),
            if rng.random_bool(0.5) {
                Label::ProductQuestion(Category::Shipping)
            } else {
                Label::ProductQuestion(Category::Ingredients)
            },
        ),
        _ => (
            pick(rng, &["😍", "omg yes", "lol", "💯", "agreed!!"]).to_owned(),
            Label::NotQuestion,
        ),
    }
}

/// Texts every scenario contains at least once, with what they are meant to be: markup, formula
/// starters, RTL scripts, invisible characters, emoji sequences and one 2,000-character comment.
pub(crate) fn planted_texts() -> Vec<(String, Label)> {
    use Category as C;
    let pq = Label::ProductQuestion;
    let texts: Vec<(&str, Label)> = vec![
        ("<script>alert(1)</script>", Label::NotQuestion),
        (
            "=HYPERLINK(\"http://evil.example\",\"click\")",
            Label::NotQuestion,
        ),
        ("=cmd|' /C calc'!A0", Label::NotQuestion),
        ("+1 where can I buy this?", pq(C::Availability)),
        ("-- how much is it??", pq(C::Price)),
        ("@glowlab is it vegan?", pq(C::Ingredients)),
        ("كم سعره؟ 😍", pq(C::Price)),
        ("جميلة جدا ❤️", Label::NotQuestion),
        ("איפה אפשר לקנות את זה?", pq(C::Availability)),
        ("מהמם!!", Label::NotQuestion),
        ("price? / السعر؟", pq(C::Price)),
        ("link\u{200B} pls", pq(C::Availability)),
        ("how\u{200D} much?", pq(C::Price)),
        ("\u{FEFF}lo\u{200C}ve it", Label::NotQuestion),
        ("👩‍👩‍👧‍👦❤️‍🔥🏳️‍🌈", Label::NotQuestion),
        ("do you ship to 🇨🇦 or 🇲🇽?", pq(C::Shipping)),
        ("🧑🏽‍🤝‍🧑🏻 my bff and I need this", Label::NotQuestion),
        ("omg\n\nhow much is it?\nand where do I buy", pq(C::Price)),
    ];
    let mut out: Vec<(String, Label)> = texts
        .into_iter()
        .map(|(text, label)| (text.to_owned(), label))
        .collect();
    out.push((long_comment(), pq(C::Shipping)));
    out
}

/// Exactly 2,000 characters: a rambling review with a shipping question at the very end.
fn long_comment() -> String {
    const TOTAL: usize = 2000;
    let ending = " anyway sorry for the essay 😅 does it ship to Canada?";
    let story = [
        "Okay so I have to tell you my whole skincare journey because this post hit different. ",
        "I have struggled with dry patches and redness for years, tried everything from drugstore to luxury, ",
        "and nothing ever stuck for more than a couple of weeks. My dermatologist told me to simplify, ",
        "so I cut my routine down to cleanser, moisturizer and sunscreen, and honestly it helped a bit, ",
        "but my skin still looked dull in photos and I kept hiding under foundation. ",
        "Then I saw your stories last month and started paying attention to how your skin looks without makeup. ",
    ]
    .concat();
    let budget = TOTAL - ending.chars().count();
    let body: String = story.chars().cycle().take(budget).collect();
    format!("{body}{ending}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn long_comment_is_two_thousand_characters() {
        assert_eq!(long_comment().chars().count(), 2000);
    }

    #[test]
    fn every_language_and_category_has_cores() {
        for lang in [Lang::En, Lang::Es, Lang::Pt, Lang::Id, Lang::Fr, Lang::De] {
            for category in Category::ALL {
                assert!(!question_cores(lang, category).is_empty());
            }
        }
    }

    #[test]
    fn product_questions_vary() {
        let mut rng = SimRng::seed_from_u64(7);
        let texts: std::collections::HashSet<String> = (0..200)
            .map(|_| {
                let lang = pick_lang(&mut rng);
                let category = pick_product_category(&mut rng);
                product_question(&mut rng, lang, category, &PRODUCTS[0], "JESS15")
            })
            .collect();
        assert!(texts.len() > 100, "only {} distinct texts", texts.len());
    }
}
