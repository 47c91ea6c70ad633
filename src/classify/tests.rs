use super::*;
use crate::domain::Label;

fn classifier() -> Classifier {
    Classifier::builtin().expect("built-in rules compile")
}

fn label(c: &Classifier, text: &str) -> Label {
    c.classify(text).label
}

#[test]
fn builtin_rules_compile() {
    assert!(classifier().rule_count() > 10);
}

#[test]
fn product_questions_with_and_without_question_marks() {
    let c = classifier();
    for (text, category) in [
        ("how much is the big bottle?", Category::Price),
        ("link pls 🙏", Category::Availability),
        ("drop the link", Category::Availability),
        ("do you ship to Canada?", Category::Shipping),
        (
            "what size should I get, I'm usually an M?",
            Category::Sizing,
        ),
        ("is it vegan?", Category::Ingredients),
        ("my code doesn't work at checkout", Category::Discount),
        ("@shop my order never came", Category::OrderIssue),
        ("does it work with android?", Category::Compatibility),
        ("how do I clean the filter?", Category::Usage),
        ("harga brp kak", Category::Price),
        ("¿cuánto cuesta?", Category::Price),
    ] {
        assert_eq!(label(&c, text), Label::ProductQuestion(category), "{text}");
    }
}

#[test]
fn other_questions_and_non_questions() {
    let c = classifier();
    assert_eq!(label(&c, "what's the song at 0:15?"), Label::OtherQuestion);
    assert_eq!(
        label(&c, "can you make a video on your morning routine?"),
        Label::OtherQuestion
    );
    assert_eq!(
        label(&c, "this looks amazing on you 😍"),
        Label::NotQuestion
    );
    assert_eq!(label(&c, "😍😍😍"), Label::NotQuestion);
    assert_eq!(label(&c, "@anna @ben @carla"), Label::NotQuestion);
}

#[test]
fn negative_rule_overrules_and_is_named() {
    let verdict = classifier().classify("who else thinks this is the best one?");
    assert_eq!(verdict.label, Label::NotQuestion);
    assert_eq!(verdict.rule.as_str(), "neg.rhetorical");
    let beaten = verdict.overruled.expect("names the question rule it beat");
    assert_ne!(beaten.as_str(), "neg.rhetorical");
}

#[test]
fn normalisation_reaches_the_rules() {
    let c = classifier();
    assert!(label(&c, "linkkk pleaseee").is_product_question());
    assert!(label(&c, "ｌｉｎｋ ｐｌｓ").is_product_question());
    assert!(label(&c, "li\u{200B}nk pls").is_product_question());
    assert!(label(&c, "I can’t find this anywhere").is_product_question());
}

#[test]
fn user_rule_file_overrides_a_builtin_rule_by_id() {
    let c = classifier();
    assert!(label(&c, "who else wants one?").kind_str() == "not_question");
    let user = r#"
        [[rule]]
        id = "neg.rhetorical"
        lang = "en"
        kind = "negative"
        priority = 40
        patterns = ['{b}zzzz never matches zzzz']
        [[rule]]
        id = "brand.bundle"
        lang = "en"
        kind = "product"
        category = "discount"
        standalone = true
        priority = 30
        patterns = ['{b}bundle deal']
    "#;
    let custom = ClassifierBuilder::new()
        .rule_text("brand.toml", user)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(custom.rule_count(), c.rule_count() + 1);
    assert!(label(&custom, "who else wants one?").is_question());
    let verdict = custom.classify("bundle deal still on");
    assert_eq!(verdict.label, Label::ProductQuestion(Category::Discount));
    assert_eq!(verdict.rule.as_str(), "brand.bundle");
}

#[test]
fn rule_file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(
        &path,
        "[[rule]]\nid = \"slow\"\nlang = \"en\"\nkind = \"question\"\npatterns = ['\\bwhy\\b']\n",
    )
    .unwrap();
    let err = ClassifierBuilder::new().rule_file(&path).err().unwrap();
    let msg = err.to_string();
    assert!(
        msg.contains("mine.toml") && msg.contains("rule slow"),
        "{msg}"
    );
    assert!(matches!(err, RulesError::UnicodeWordBoundary { .. }));
    let missing = ClassifierBuilder::new()
        .rule_file(dir.path().join("absent.toml"))
        .err()
        .unwrap();
    assert!(missing.to_string().contains("absent.toml"), "{missing}");
}

#[test]
fn product_lexicon_turns_questions_about_its_terms_into_product_questions() {
    let plain = classifier();
    let text = "is the GlowLab nice on older ladies?";
    assert_eq!(label(&plain, text), Label::OtherQuestion);
    let campaign = ClassifierBuilder::new()
        .product_terms(&["GlowLab".to_owned(), "hoodie".to_owned()])
        .build()
        .unwrap();
    let verdict = campaign.classify(text);
    assert_eq!(verdict.label, Label::ProductQuestion(Category::Other));
    assert_eq!(verdict.rule.as_str(), "builtin.product_term");
    // Whole words only, and a statement stays a statement.
    assert_eq!(
        label(
            &campaign,
            "is the glowlabs-free thing nice on older ladies?"
        ),
        Label::ProductQuestion(Category::Other)
    );
    assert_eq!(
        label(&campaign, "is the xglowlab nice on older ladies?"),
        Label::OtherQuestion
    );
    assert_eq!(label(&campaign, "love my GlowLab"), Label::NotQuestion);
}

#[test]
fn hostile_text_is_classified_without_panicking() {
    let c = classifier();
    let long = "how much ".repeat(1_200);
    assert!(long.len() > 10_000);
    assert!(label(&c, &long).is_product_question());
    let emoji_wall = "😍".repeat(5_000);
    assert_eq!(label(&c, &emoji_wall), Label::NotQuestion);
    for text in [
        "\u{0000}\u{0007}\u{001B}[31m link pls",
        "\u{202E}slp knil\u{202C}",
        "מה המחיר؟ \u{200F}",
        "<script>alert('how much?')</script>",
        "\u{200B}\u{200C}\u{200D}\u{FEFF}",
        "",
        "   \n\t ",
        "@",
        "http://",
    ] {
        let verdict = c.classify(text);
        assert!(!verdict.rule.as_str().is_empty(), "{text:?}");
    }
    assert!(label(&c, "\u{0000}\u{0007} link pls").is_product_question());
    assert!(label(&c, "مה המחיר؟").is_question());
}

#[test]
fn classifier_is_send_and_sync_and_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Classifier>();
    let c = std::sync::Arc::new(classifier());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || c.classify("link pls").label.is_product_question())
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
}

#[test]
fn product_questions_in_spanish_portuguese_french_german_indonesian_arabic_and_hebrew() {
    let c = classifier();
    for (text, category) in [
        ("¿dónde la consigo? 🙏", Category::Availability),
        ("link por favor", Category::Availability),
        ("le lien svp", Category::Availability),
        ("wo bekomme ich das?", Category::Availability),
        ("איפה קונים את זה?", Category::Availability),
        ("qual é o preço?", Category::Price),
        ("wie teuer war das?", Category::Price),
        ("كم سعر هذا؟", Category::Price),
        ("berapa sis?", Category::Price),
        ("¿hacen envíos a Perú?", Category::Shipping),
        ("vocês enviam para Angola?", Category::Shipping),
        ("liefert ihr auch nach Deutschland?", Category::Shipping),
        ("ongkir ke medan berapa kak?", Category::Shipping),
        ("combien de ml dans le flacon ?", Category::Sizing),
        ("welche Farbe ist das?", Category::Sizing),
        ("¿sirve para piel grasa?", Category::Ingredients),
        ("é vegana?", Category::Ingredients),
        ("aman buat bumil ga kak?", Category::Ingredients),
        ("¿se puede usar de noche?", Category::Usage),
        ("¿cuánto dura en los labios?", Category::Usage),
        ("tu l'appliques avant ou après la crème ?", Category::Usage),
        ("tem cupom de desconto?", Category::Discount),
        ("el cupón no sirve", Category::Discount),
        ("kemasan baru ya kak?", Category::Other),
        (
            "compré hace tres semanas y todavía nada",
            Category::OrderIssue,
        ),
        (
            "comprei faz duas semanas e até agora nada",
            Category::OrderIssue,
        ),
    ] {
        assert_eq!(label(&c, text), Label::ProductQuestion(category), "{text}");
    }
}

#[test]
fn english_product_questions_without_a_question_mark() {
    let c = classifier();
    for (text, category) in [
        ("omg is it alcohol free", Category::Ingredients),
        ("does the serum contain fragrance?", Category::Ingredients),
        ("hi is delivery free", Category::Shipping),
        ("do you guys ship to ireland", Category::Shipping),
        ("how long does delivery take to the uk?", Category::Shipping),
        ("ok so what shade are you wearing", Category::Sizing),
        ("wait is it sold at boots", Category::Availability),
        ("could i find it on ebay?", Category::Availability),
        ("HOW MUCH 😭", Category::Price),
        ("day or night?", Category::Usage),
        ("is there a discount code", Category::Discount),
        ("MAYA20 says invalid", Category::Discount),
        ("did they change the formula?", Category::Other),
    ] {
        assert_eq!(label(&c, text), Label::ProductQuestion(category), "{text}");
    }
}

#[test]
fn questions_about_the_creator_or_a_place_and_wishes_are_not_product_questions() {
    let c = classifier();
    for text in [
        "how old are you?",
        "what mic do you use?",
        "which editing app do you use?",
        "tempatnya dimana kak?",
        "¿dónde es ese lugar?",
        "where is this beach?",
        "gibt es ein Video dazu?",
        "onde você mora?",
    ] {
        assert_eq!(label(&c, text), Label::OtherQuestion, "{text}");
    }
    assert_eq!(
        label(&c, "need this in my collection 😍"),
        Label::NotQuestion
    );
    assert_eq!(
        label(&c, "need this in black"),
        Label::ProductQuestion(Category::Availability)
    );
}

#[test]
fn song_links_opinion_asks_and_no_answer_complaints() {
    let c = classifier();
    assert_eq!(
        label(&c, "where can I get the full version of this song?"),
        Label::OtherQuestion
    );
    assert_eq!(
        label(&c, "so pretty!! btw does it stain the lips?"),
        Label::ProductQuestion(Category::Usage)
    );
    assert!(label(&c, "just ordered one, do you recommend the case too").is_product_question());
    assert_eq!(
        label(&c, "@shop still haven't had any reply from you about it"),
        Label::ProductQuestion(Category::OrderIssue)
    );
    assert_eq!(
        label(&c, "lol because you talk like a robot? 😂"),
        Label::NotQuestion
    );
}
