//! Gives every account its platform and rewrites the ids of non-Instagram accounts into their
//! platform's shapes (§6 of the platform reference), after the world has been generated.
//!
//! Doing it as a separate pass with its own random stream keeps an Instagram-only world exactly
//! what it was before platforms existed (same ids, same texts, same times), while a mixed world
//! gets realistic ids: YouTube channel ids `UC…` (24 chars), 11-char video ids, thread ids
//! `Ugz…4AaABAg` and reply ids `<thread>.<suffix>`; TikTok 19-digit ids and `-000…` open ids;
//! Facebook Page ids, post ids `{page-id}_{post-id}` and comment ids `{post-id}_{comment-id}`.
//! A commenter gets one id per platform (the same person on YouTube and TikTok has two).

use std::collections::{HashMap, HashSet};

use rand::{RngExt, SeedableRng};

use crate::domain::Platform;

use super::ScenarioParams;
use super::generate::SimRng;
use super::scenario::{Node, Scenario};

const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

struct IdMaker {
    rng: SimRng,
    used: HashSet<String>,
}

impl IdMaker {
    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| char::from(alphabet[self.rng.random_range(0..alphabet.len())]))
            .collect()
    }

    fn digits(&mut self, prefix: &str, n: usize) -> String {
        let mut id = prefix.to_owned();
        while id.len() < n {
            id.push(char::from(b'0' + self.rng.random_range(0..10u8)));
        }
        id
    }

    fn unique(&mut self, make: impl Fn(&mut Self) -> String) -> String {
        loop {
            let id = make(self);
            if self.used.insert(id.clone()) {
                return id;
            }
        }
    }

    fn user_id(&mut self, platform: Platform) -> String {
        self.unique(|m| match platform {
            Platform::Youtube => format!("UC{}", m.chars(BASE64URL, 22)),
            Platform::Tiktok => m.digits("6", 19),
            Platform::Facebook => m.digits("1", 16),
            Platform::Instagram => m.digits("178414", 17),
        })
    }

    fn account_id(&mut self, platform: Platform) -> String {
        self.unique(|m| match platform {
            Platform::Youtube => format!("UC{}", m.chars(BASE64URL, 22)),
            Platform::Tiktok => format!("-000{}", m.chars(ALNUM, 16)),
            Platform::Facebook => m.digits("10", 15),
            Platform::Instagram => m.digits("178414", 17),
        })
    }

    fn token(&mut self, platform: Platform) -> String {
        match platform {
            Platform::Youtube => format!("ya29.a0{}", self.chars(BASE64URL, 120)),
            Platform::Tiktok => format!("act.{}", self.chars(ALNUM, 56)),
            Platform::Facebook => format!("EAAB{}", self.chars(ALNUM, 120)),
            Platform::Instagram => format!("IGAA{}", self.chars(ALNUM, 56)),
        }
    }

    fn media_id(&mut self, platform: Platform, account_id: &str) -> String {
        self.unique(|m| match platform {
            Platform::Youtube => m.chars(BASE64URL, 11),
            Platform::Tiktok => m.digits("73", 19),
            Platform::Facebook => format!("{account_id}_{}", m.digits("7", 15)),
            Platform::Instagram => m.digits("18", 17),
        })
    }

    fn comment_id(&mut self, platform: Platform, media_id: &str, parent: Option<&str>) -> String {
        self.unique(|m| match (platform, parent) {
            (Platform::Youtube, None) => {
                let head = ["Ugz", "Ugw", "Ugx", "Ugy"][m.rng.random_range(0..4usize)];
                format!("{head}{}4AaABAg", m.chars(BASE64URL, 16))
            }
            (Platform::Youtube, Some(parent)) => {
                format!("{parent}.{}", m.chars(BASE64URL, 22))
            }
            (Platform::Tiktok, _) => m.digits("736", 19),
            (Platform::Facebook, _) => {
                let post = media_id.rsplit('_').next().unwrap_or(media_id);
                format!("{post}_{}", m.digits("1", 16))
            }
            (Platform::Instagram, _) => m.digits("17", 17),
        })
    }
}

/// Sets each account's platform from `params.platforms` and rewrites the ids of every
/// non-Instagram account, its media, their comments and their authors.
pub(crate) fn assign_platforms(scenario: &mut Scenario, params: &ScenarioParams) {
    let platforms = if params.platforms.is_empty() {
        vec![Platform::Instagram]
    } else {
        params.platforms.clone()
    };
    for (k, account) in scenario.accounts.iter_mut().enumerate() {
        account.platform = platforms[k % platforms.len()];
    }
    if scenario
        .accounts
        .iter()
        .all(|a| a.platform == Platform::Instagram)
    {
        return;
    }
    let mut maker = IdMaker {
        rng: SimRng::seed_from_u64(params.seed ^ 0x0917_A7F0_4D5E_0002),
        used: scenario.nodes.keys().cloned().collect(),
    };
    // Authors keep one id per platform: (platform, Instagram id) → platform id.
    let mut users: HashMap<(Platform, String), String> = HashMap::new();
    let mut renamed: HashMap<String, String> = HashMap::new();
    for account in scenario.accounts.iter_mut() {
        if account.platform == Platform::Instagram {
            continue;
        }
        let id = maker.account_id(account.platform);
        users.insert((account.platform, account.id.clone()), id.clone());
        renamed.insert(account.id.clone(), id.clone());
        account.id = id;
        account.token = maker.token(account.platform);
    }
    for m in 0..scenario.media.len() {
        let platform = scenario.platform_of_media(m);
        if platform == Platform::Instagram {
            continue;
        }
        let account_id = scenario.accounts[scenario.media[m].account].id.clone();
        let id = maker.media_id(platform, &account_id);
        renamed.insert(std::mem::replace(&mut scenario.media[m].id, id.clone()), id);
    }
    // Parents come before their replies in generation order, so a YouTube reply can embed its
    // thread's new id.
    for c in 0..scenario.comments.len() {
        let media = scenario.comments[c].media;
        let platform = scenario.platform_of_media(media);
        if platform == Platform::Instagram {
            continue;
        }
        let parent = scenario.comments[c]
            .parent
            .map(|p| scenario.comments[p].id.clone());
        let id = maker.comment_id(platform, &scenario.media[media].id, parent.as_deref());
        let from = scenario.comments[c].from_id.clone();
        let from_id = users
            .entry((platform, from))
            .or_insert_with(|| maker.user_id(platform))
            .clone();
        let comment = &mut scenario.comments[c];
        comment.from_id = from_id;
        renamed.insert(std::mem::replace(&mut comment.id, id.clone()), id);
    }
    let nodes: Vec<(String, Node)> = scenario.nodes.drain().collect();
    for (id, node) in nodes {
        let id = renamed.remove(&id).unwrap_or(id);
        scenario.nodes.insert(id, node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mixed() -> Scenario {
        Scenario::build(&ScenarioParams {
            accounts: 4,
            platforms: vec![
                Platform::Instagram,
                Platform::Facebook,
                Platform::Youtube,
                Platform::Tiktok,
            ],
            ..ScenarioParams::default()
        })
    }

    #[test]
    fn instagram_only_worlds_are_untouched() {
        let params = ScenarioParams::default();
        let s = Scenario::build(&params);
        assert!(s.accounts.iter().all(|a| a.platform == Platform::Instagram));
        assert!(s.comments.iter().all(|c| c.id.len() >= 17));
    }

    #[test]
    fn ids_take_their_platforms_shapes() {
        let s = mixed();
        let platforms: Vec<Platform> = s.accounts.iter().map(|a| a.platform).collect();
        assert_eq!(
            platforms,
            [
                Platform::Instagram,
                Platform::Facebook,
                Platform::Youtube,
                Platform::Tiktok
            ]
        );
        assert!(s.accounts[2].id.starts_with("UC") && s.accounts[2].id.len() == 24);
        assert!(s.accounts[3].id.starts_with("-000"));
        for c in &s.comments {
            let media = &s.media[c.media];
            let id = &c.id;
            match s.platform_of_media(c.media) {
                Platform::Youtube => {
                    assert_eq!(media.id.len(), 11);
                    match c.parent {
                        None => assert!(id.starts_with("Ug") && id.ends_with("4AaABAg")),
                        Some(p) => assert!(id.starts_with(&format!("{}.", s.comments[p].id))),
                    }
                    assert!(c.from_id.starts_with("UC"));
                }
                Platform::Tiktok => {
                    assert!(id.len() == 19 && id.bytes().all(|b| b.is_ascii_digit()));
                    assert_eq!(media.id.len(), 19);
                }
                Platform::Facebook => {
                    let post = media.id.split_once('_').unwrap();
                    assert_eq!(post.0, s.accounts[1].id);
                    assert!(id.starts_with(&format!("{}_", post.1)));
                }
                Platform::Instagram => assert!(id.bytes().all(|b| b.is_ascii_digit())),
            }
            assert!(matches!(s.nodes.get(id), Some(Node::Comment(_))));
        }
        let owner = s
            .comments
            .iter()
            .find(|c| {
                s.platform_of_media(c.media) == Platform::Youtube
                    && c.role == super::super::scenario::Role::Owner
            })
            .unwrap();
        assert_eq!(owner.from_id, s.accounts[2].id);
    }
}
