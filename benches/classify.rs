//! Throughput of the classifier on one thread, printed as comments per second.
//!
//! Comments are generated deterministically here (never taken from a corpus): about 100 bytes of
//! mixed English and Spanish with emoji, about 15% product questions. The same comments are then
//! stripped to ASCII to show that emoji and accents cost little more than plain text, and finally
//! `classify_jsonl` runs end to end on in-memory JSON Lines.
//!
//! Run with `cargo bench --bench classify`.

use std::hint::black_box;
use std::time::Instant;

use comment_triage::classify::{Classifier, classify_jsonl};

const COMMENTS: usize = 1_000_000;
const JSON_LINES: usize = 300_000;

/// A small deterministic generator (xorshift), so every run measures the same text.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const OPENERS: [&str; 12] = [
    "Omg",
    "Honestly",
    "Wow",
    "Jajaja",
    "Girl",
    "Bro",
    "Ok so",
    "Literally",
    "Qué",
    "Mira",
    "Ayyy",
    "Lol",
];
const STATEMENTS: [&str; 16] = [
    "this looks amazing on you 😍😍",
    "me encanta el color, se ve increíble ✨",
    "the packaging is so pretty I can't even 💖",
    "I've been using it for a week and my skin feels great",
    "qué bonito te queda, me fascina 🔥",
    "love the vibe of this video, keep going!!",
    "tu piel se ve perfecta con esto 😭💕",
    "best review on this whole app, subscribed 🙌",
    "my sister bought it last month and she loves it",
    "la música del video está buenísima 🎶",
    "this is giving summer energy ☀️🌴",
    "no puedo dejar de verlo, qué lindo todo",
    "that transition at the end was so clean 👏",
    "mi mamá también lo usa desde hace años",
    "@maria_22 look at this one 👀",
    "I need a whole collection of these ngl",
];
const TAILS: [&str; 8] = [
    "💕💕",
    "fr fr",
    "ngl 😂",
    "gracias!!",
    "🔥🔥🔥",
    "besos 😘",
    "no cap",
    "✨ thanks",
];
const QUESTIONS: [&str; 12] = [
    "how much is the serum? 💸",
    "link pls 🙏🙏",
    "¿cuánto cuesta y hacen envíos a México?",
    "do you ship to Canada?",
    "is it vegan and cruelty free? 🌱",
    "my code doesn't work at checkout 😩",
    "¿dónde lo puedo comprar? 😍",
    "what shade are you wearing?",
    "does it work for oily skin?",
    "my order never came and it's been 3 weeks",
    "necesito el link porfa 🙏",
    "when will it be back in stock??",
];

fn generate(count: usize) -> Vec<String> {
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    (0..count)
        .map(|_| {
            let opener = rng.pick(&OPENERS);
            let first = rng.pick(&STATEMENTS);
            let tail = rng.pick(&TAILS);
            if rng.next() % 100 < 15 {
                format!("{opener} {first} {} {tail}", rng.pick(&QUESTIONS))
            } else {
                format!("{opener} {first} {} {tail}", rng.pick(&STATEMENTS))
            }
        })
        .collect()
}

fn to_ascii(text: &str) -> String {
    let mut ascii: String = text.chars().filter(char::is_ascii).collect();
    // Keep the length comparable: pad with spaces where multi-byte characters were removed.
    while ascii.len() < text.len() {
        ascii.push(' ');
    }
    ascii
}

fn measure(name: &str, classifier: &Classifier, comments: &[String]) -> f64 {
    // Warm up the lazy DFA's cache once, as a long-running service would.
    for comment in comments.iter().take(10_000) {
        black_box(classifier.classify(comment));
    }
    let bytes: usize = comments.iter().map(String::len).sum();
    let started = Instant::now();
    let mut product_questions = 0usize;
    for comment in comments {
        let verdict = classifier.classify(black_box(comment));
        product_questions += usize::from(verdict.label.is_product_question());
        black_box(verdict.label.category());
    }
    let seconds = started.elapsed().as_secs_f64();
    let per_second = comments.len() as f64 / seconds;
    println!(
        "{name:<28} {:>9} comments, {:>5.1} bytes avg, {:>6.1}% product questions: {:>10.0} comments/s ({:.0} MB/s)",
        comments.len(),
        bytes as f64 / comments.len() as f64,
        100.0 * product_questions as f64 / comments.len() as f64,
        per_second,
        bytes as f64 / seconds / 1e6,
    );
    per_second
}

fn measure_jsonl(classifier: &Classifier, comments: &[String]) {
    let mut input = String::new();
    for (index, comment) in comments.iter().take(JSON_LINES).enumerate() {
        let line =
            serde_json::json!({ "id": format!("c{index}"), "text": comment, "platform": "tiktok" });
        input.push_str(&line.to_string());
        input.push('\n');
    }
    let mut output = Vec::with_capacity(input.len());
    let mut errors = Vec::new();
    let started = Instant::now();
    let stats = classify_jsonl(classifier, input.as_bytes(), &mut output, &mut errors)
        .expect("in-memory I/O does not fail");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(stats.bad, 0);
    println!(
        "{:<28} {:>9} lines: {:>10.0} comments/s end to end",
        "classify_jsonl",
        stats.good,
        stats.good as f64 / seconds
    );
}

fn main() {
    let classifier = Classifier::builtin().expect("built-in rules compile");
    let mixed = generate(COMMENTS);
    let ascii: Vec<String> = mixed.iter().map(|c| to_ascii(c)).collect();
    let mixed_rate = measure("mixed en/es with emoji", &classifier, &mixed);
    let ascii_rate = measure("same comments, ASCII only", &classifier, &ascii);
    println!(
        "{:<28} emoji/accents cost {:.2}x the ASCII time",
        "",
        ascii_rate / mixed_rate
    );
    measure_jsonl(&classifier, &mixed);
}
