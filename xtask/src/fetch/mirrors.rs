//! `[mirrors]` in webrtc.toml: every git URL of the checkout (the solution, depot_tools, each
//! DEPS dep on whatever host, gclient's cache fetches) is rewritten from a prefix to a mirror,
//! for users behind a firewall.
//!
//! git's own `url.<mirror>.insteadOf <prefix>`, given to every child process through the
//! environment (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`, git ≥ 2.31): a
//! private git config that touches neither the user's ~/.gitconfig nor the checkout, and that
//! gclient and every git it starts inherit. The URLs gclient records (webrtc.lock) stay the
//! upstream ones, so a lock is the same through any mirror.

use std::collections::BTreeMap;

/// The environment that maps each prefix to its mirror (empty when there are none).
pub fn env(mirrors: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if mirrors.is_empty() {
        return env;
    }
    env.insert("GIT_CONFIG_COUNT".to_owned(), mirrors.len().to_string());
    for (i, (from, to)) in mirrors.iter().enumerate() {
        env.insert(format!("GIT_CONFIG_KEY_{i}"), format!("url.{to}.insteadOf"));
        env.insert(format!("GIT_CONFIG_VALUE_{i}"), from.clone());
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_prefix_maps_to_its_mirror() {
        assert!(env(&BTreeMap::new()).is_empty());
        let m = BTreeMap::from([
            (
                "https://chromium.googlesource.com/".to_owned(),
                "https://git.example.org/chromium/".to_owned(),
            ),
            (
                "https://webrtc.googlesource.com/".to_owned(),
                "file:///srv/webrtc/".to_owned(),
            ),
        ]);
        let e = env(&m);
        assert_eq!(e["GIT_CONFIG_COUNT"], "2");
        assert_eq!(
            e["GIT_CONFIG_KEY_0"],
            "url.https://git.example.org/chromium/.insteadOf"
        );
        assert_eq!(
            e["GIT_CONFIG_VALUE_0"],
            "https://chromium.googlesource.com/"
        );
        assert_eq!(e["GIT_CONFIG_KEY_1"], "url.file:///srv/webrtc/.insteadOf");
    }
}
