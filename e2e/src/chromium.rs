//! Finding and starting headless Chromium.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cdp::{Connection, Page};

/// How long Chromium may take to open its DevTools port (cold start on a busy 2-core box).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the tests look for a browser, after `MOBILERTC_CHROMIUM`.
const CANDIDATES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

#[derive(Debug, thiserror::Error)]
pub enum ChromiumError {
    #[error("MOBILERTC_CHROMIUM={0} is not an executable file")]
    BadOverride(PathBuf),
    #[error(
        "no Chromium found (looked for {} on PATH); install it with `apt-get install chromium` \
         or point MOBILERTC_CHROMIUM at a Chromium/Chrome binary",
        CANDIDATES.join(", ")
    )]
    NotFound,
}

/// The browser binary: `MOBILERTC_CHROMIUM` if set, else the first of [`CANDIDATES`] on PATH.
pub fn find_chromium() -> Result<PathBuf, ChromiumError> {
    if let Some(path) = std::env::var_os("MOBILERTC_CHROMIUM") {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(ChromiumError::BadOverride(path))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in CANDIDATES {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(ChromiumError::NotFound)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The flags every test browser gets; see docs/browser.md for why each is there.
pub fn flags(root: bool) -> Vec<String> {
    let mut flags: Vec<String> = [
        "--headless=new",
        // A fake camera (test pattern) and microphone (a beep every second), no prompt.
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        // Remote audio plays (and reaches WebAudio) without a click.
        "--autoplay-policy=no-user-gesture-required",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--disable-extensions",
        "--disable-sync",
        "--disable-component-update",
        "--disable-background-networking",
        // Several tabs of one browser stay foreground-fast (page-to-page tests).
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        "--password-store=basic",
        "--use-mock-keychain",
        "--remote-debugging-port=0",
    ]
    .map(String::from)
    .to_vec();
    if root {
        // Chromium refuses to start its sandbox as root.
        flags.push("--no-sandbox".into());
    }
    flags
}

/// A running headless Chromium. Dropping it kills the browser's whole process group and
/// deletes its profile directory.
pub struct Chromium {
    // Field order is drop order: the socket, then the processes, then their profile.
    conn: Connection,
    process: Group,
    profile: tempfile::TempDir,
}

/// A child in its own process group; dropping it kills the group. The group id is the
/// child's pid (`process_group(0)`). SIGKILL: a test that failed must not leave a browser
/// behind, and nothing in a test profile is worth a clean shutdown.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: killpg only sends a signal.
        unsafe {
            libc::killpg(self.0.id() as libc::pid_t, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

impl Chromium {
    /// Starts `binary` headless with a fresh profile and connects to its DevTools endpoint.
    pub fn launch(binary: &Path) -> Result<Chromium> {
        Chromium::launch_with(binary, &[])
    }

    /// [`Chromium::launch`] with more command-line flags (e.g.
    /// `--ignore-certificate-errors-spki-list=…` to trust a test server's certificate).
    pub fn launch_with(binary: &Path, extra: &[String]) -> Result<Chromium> {
        let profile = tempfile::Builder::new()
            .prefix("mobilertc-chromium-")
            .tempdir()
            .context("creating a Chromium profile directory")?;
        let log_path = profile.path().join("chromium.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let mut cmd = Command::new(binary);
        cmd.args(flags(root))
            .args(extra)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("duplicating the log file handle")?)
            .stderr(log)
            // Its own process group: Drop kills the renderers and GPU/zygote helpers too.
            .process_group(0);
        let mut process = Group(
            cmd.spawn()
                .with_context(|| format!("starting {}", binary.display()))?,
        );
        let ws_url = wait_for_devtools(&mut process.0, profile.path())?;
        let conn = Connection::connect(&ws_url)
            .with_context(|| format!("connecting to Chromium's DevTools at {ws_url}"))?;
        Ok(Chromium {
            conn,
            process,
            profile,
        })
    }

    /// Opens a new tab at `url` and returns a handle to evaluate JavaScript in it.
    pub fn open(&self, url: &str) -> Result<Page> {
        Page::open(&self.conn, url)
    }

    /// The last lines of Chromium's stdout/stderr, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(self.profile.path())
    }

    /// The browser's pid, also its process group id.
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }
}

/// Chromium writes `DevToolsActivePort` (port, then browser path) into the profile once its
/// DevTools server listens: no fixed port, no race with other tests.
fn wait_for_devtools(child: &mut Child, profile: &Path) -> Result<String> {
    let file = profile.join("DevToolsActivePort");
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                return Ok(format!("ws://127.0.0.1:{port}{path}"));
            }
        }
        if let Some(status) = child.try_wait().context("waiting for Chromium")? {
            bail!(
                "Chromium exited ({status}) before opening DevTools; its log:\n{}",
                log_tail(profile)
            );
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            bail!(
                "Chromium did not open DevTools within {STARTUP_TIMEOUT:?}; its log:\n{}",
                log_tail(profile)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_tail(profile: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(profile.join("chromium.log")) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
