//! End-to-end tests of mobilertc against a real browser: headless Chromium driven over the
//! DevTools protocol, loading the browser peer page the signaling server serves at `GET /`.
//!
//! [`Chromium`] starts the browser in its own process group (killed on drop, even when a
//! test panics); [`Page`] evaluates JavaScript in one tab and waits for conditions on the
//! page's `window.mobilertc` test hook (docs/browser.md).

mod cdp;
mod chromium;

pub use cdp::Page;
pub use chromium::{find_chromium, Chromium, ChromiumError};

use std::path::PathBuf;

/// The env var that turns a missing Chromium from a skip into a failure (CI sets it).
pub const REQUIRE_BROWSER_ENV: &str = "MOBILERTC_REQUIRE_BROWSER";

/// Chromium for a test, or `None` after printing why the test is skipped. Panics when no
/// Chromium is found and [`REQUIRE_BROWSER_ENV`] is set: CI must not pass by skipping.
pub fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    match find_chromium() {
        Ok(path) => Some(path),
        Err(e) if std::env::var_os(REQUIRE_BROWSER_ENV).is_some() => {
            panic!("{test}: {e} ({REQUIRE_BROWSER_ENV} is set, so this is a failure)")
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: {e} (set {REQUIRE_BROWSER_ENV}=1 to make this a failure)");
            None
        }
    }
}
