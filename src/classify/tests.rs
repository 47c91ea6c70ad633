use super::*;

fn classifier() -> Classifier {
    Classifier::builtin().expect("built-in rules compile")
}

#[test]
fn builtin_rules_compile() {
    assert!(classifier().rule_count() > 10);
}
