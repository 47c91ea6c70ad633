//! From "which rules fired" to one verdict. Kept apart from matching so the precedence between
//! kinds of evidence is written down in one place.
//!
//! Candidates: the best negative rule; the best product rule (a standalone one, or any one when the
//! comment has a question form, or a campaign product term in a question); the best other-question
//! rule (standalone or in a question); and the plain question form. The candidate with the highest
//! `priority` wins; on equal priority, negative beats other-question beats product beats a plain
//! question. Within one kind the highest priority, then the earliest rule, represents the kind.

use aho_corasick::AhoCorasick;

use super::rules::RuleKind;
use super::{CompiledRule, FixedIds};
use crate::domain::{Category, Label, RuleId, Verdict};

/// The best rule of each kind that fired on one comment (indices into the rule list).
#[derive(Default)]
pub(super) struct Evidence {
    negative: Option<usize>,
    product_standalone: Option<usize>,
    product: Option<usize>,
    other_standalone: Option<usize>,
    other: Option<usize>,
    question: Option<usize>,
}

fn keep_best(slot: &mut Option<usize>, candidate: usize, rules: &[CompiledRule]) {
    let better = match *slot {
        None => true,
        Some(current) => {
            let (a, b) = (&rules[candidate], &rules[current]);
            a.priority > b.priority || (a.priority == b.priority && candidate < current)
        }
    };
    if better {
        *slot = Some(candidate);
    }
}

/// Tie-break rank on equal priority.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Question,
    Product,
    Other,
    Negative,
}

impl Evidence {
    pub(super) fn add_with(&mut self, index: usize, rules: &[CompiledRule]) {
        let rule = &rules[index];
        let slot = match (rule.kind, rule.standalone) {
            (RuleKind::Negative, _) => &mut self.negative,
            (RuleKind::Product, true) => &mut self.product_standalone,
            (RuleKind::Product, false) => &mut self.product,
            (RuleKind::OtherQuestion, true) => &mut self.other_standalone,
            (RuleKind::OtherQuestion, false) => &mut self.other,
            (RuleKind::Question, _) => &mut self.question,
        };
        keep_best(slot, index, rules);
    }

    pub(super) fn decide(
        &self,
        rules: &[CompiledRule],
        names_product_term: bool,
        ids: &FixedIds,
    ) -> Verdict {
        let is_question = self.question.is_some();
        let mut product = self.product_standalone;
        if is_question && let Some(index) = self.product {
            keep_best(&mut product, index, rules);
        }
        let mut other = self.other_standalone;
        if is_question && let Some(index) = self.other {
            keep_best(&mut other, index, rules);
        }

        // (priority, rank, label, rule id)
        let mut candidates: [Option<(i32, Rank, Label, &RuleId)>; 4] = [None; 4];
        if let Some(index) = self.negative {
            candidates[0] = Some((
                rules[index].priority,
                Rank::Negative,
                Label::NotQuestion,
                &rules[index].id,
            ));
        }
        if let Some(index) = product {
            let rule = &rules[index];
            let category = rule.category.unwrap_or(Category::Other);
            candidates[1] = Some((
                rule.priority,
                Rank::Product,
                Label::ProductQuestion(category),
                &rule.id,
            ));
        } else if is_question && names_product_term {
            candidates[1] = Some((
                0,
                Rank::Product,
                Label::ProductQuestion(Category::Other),
                &ids.product_term,
            ));
        }
        if let Some(index) = other {
            candidates[2] = Some((
                rules[index].priority,
                Rank::Other,
                Label::OtherQuestion,
                &rules[index].id,
            ));
        }
        if let Some(index) = self.question {
            candidates[3] = Some((
                rules[index].priority,
                Rank::Question,
                Label::OtherQuestion,
                &rules[index].id,
            ));
        }
        let winner = candidates
            .iter()
            .flatten()
            .max_by_key(|(priority, rank, _, _)| (*priority, *rank));
        match winner {
            None => verdict_without_rule(ids.no_question.clone()),
            Some(&(_, Rank::Negative, label, id)) => {
                // The strongest positive match the negative rule beat, so "why is this not a
                // question?" names both sides.
                let beaten = candidates[1..]
                    .iter()
                    .flatten()
                    .max_by_key(|(priority, rank, _, _)| (*priority, *rank));
                Verdict {
                    label,
                    rule: id.clone(),
                    overruled: beaten.map(|(_, _, _, beaten)| (*beaten).clone()),
                }
            }
            Some(&(_, _, label, id)) => Verdict {
                label,
                rule: id.clone(),
                overruled: None,
            },
        }
    }
}

/// `not_question`, decided by the absence of any evidence.
pub(super) fn verdict_without_rule(rule: RuleId) -> Verdict {
    Verdict {
        label: Label::NotQuestion,
        rule,
        overruled: None,
    }
}

/// Whether `lexicon` finds a term in `text` that stands as a whole word (no letter or digit right
/// before or after it), so "gel" does not fire inside "angel" but does in "gel?" and "gels".
pub(super) fn has_whole_word_match(lexicon: &AhoCorasick, text: &str) -> bool {
    lexicon.find_iter(text).any(|found| {
        let before = text[..found.start()].chars().next_back();
        let mut rest = text[found.end()..].chars();
        let mut after = rest.next();
        if matches!(after, Some('s' | 'S')) {
            after = rest.next();
        }
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}
