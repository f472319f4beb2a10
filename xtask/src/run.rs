//! Running child processes for the pipeline: planned commands ([`Cmd`]), their output in a
//! log file under the work dir (streamed too with `-v`), the log's tail on failure, and the
//! step lines with a spinner.
//!
//! Commands are built with xshell (so they carry the Shell's cwd/env handling) and then
//! turned into `std::process::Command`, because xshell 0.2 cannot send a child's output to a
//! file while also streaming it.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use xshell::Shell;

/// One command of the plan: what `--dry-run` prints and what the runner spawns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// A bare name (looked up on the child's PATH) or a path.
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// Variables set on top of the inherited environment.
    pub env: BTreeMap<String, String>,
}

impl Cmd {
    pub fn new(
        program: impl Into<String>,
        args: &[&str],
        cwd: &Path,
        env: &BTreeMap<String, String>,
    ) -> Cmd {
        Cmd {
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            cwd: cwd.to_owned(),
            env: env.clone(),
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Cmd {
        self.args.push(a.into());
        self
    }

    /// The command line alone, shell-quoted where needed.
    pub fn line(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for Cmd {
    /// `$ cmd args` then its cwd and env, as `--dry-run` shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "    $ {}", self.line())?;
        writeln!(f, "      cwd: {}", self.cwd.display())?;
        for (k, v) in &self.env {
            writeln!(f, "      env: {k}={}", quote(v))?;
        }
        Ok(())
    }
}

fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A child process that exited unsuccessfully.
#[derive(Debug, thiserror::Error)]
#[error("`{line}` failed ({status}) in {cwd}\n--- last lines of {log} ---\n{tail}--- full log: {log} ---")]
pub struct CommandFailed {
    pub line: String,
    pub status: String,
    pub cwd: String,
    pub log: String,
    pub tail: String,
}

/// Output settings for one invocation of the xtask.
pub struct Runner<'a> {
    sh: &'a Shell,
    /// Stream child output to stderr as well as to the log.
    pub verbose: bool,
    /// Draw spinners (stderr is a tty, or forced with MOBILERTC_PROGRESS=1).
    pub progress: bool,
    /// Append one line per spawned process here (MOBILERTC_TRACE): lets tests assert that a
    /// rerun spawned nothing.
    pub trace: Option<PathBuf>,
    /// `PATH` of the child processes, for looking bare program names up.
    pub child_path: Option<String>,
    pub host_cwd: PathBuf,
    /// Tests only (MOBILERTC_TEST_KILL_AT=`<step>:unstamped|stamped`): the xtask kills itself
    /// with SIGKILL at that step boundary, so a test can interrupt a run exactly there.
    pub kill_at: Option<String>,
}

const TAIL_LINES: usize = 25;

/// Draw spinners and bars: stderr is a terminal, or MOBILERTC_PROGRESS says (`0`: never).
pub fn progress_wanted(host: &crate::host::Host) -> bool {
    match host.var("MOBILERTC_PROGRESS") {
        Some(v) => v != "0",
        None => std::io::stderr().is_terminal(),
    }
}

impl<'a> Runner<'a> {
    pub fn new(sh: &'a Shell, verbose: bool, host: &crate::host::Host) -> Runner<'a> {
        let progress = progress_wanted(host);
        crate::proc::kill_children_on_signal();
        // Without a spinner, a "still running" line keeps CI's no-output timeouts away.
        let every = match host.var("MOBILERTC_HEARTBEAT_SECS") {
            Some(v) => v.parse().unwrap_or(DEFAULT_HEARTBEAT_SECS),
            None => DEFAULT_HEARTBEAT_SECS,
        };
        HEARTBEAT_SECS.store(
            if progress && !verbose { 0 } else { every },
            Ordering::SeqCst,
        );
        Runner {
            sh,
            verbose,
            progress: progress && !verbose,
            trace: host.var("MOBILERTC_TRACE").map(PathBuf::from),
            child_path: host.var("PATH").map(str::to_owned),
            host_cwd: host.cwd.clone(),
            kill_at: host.var("MOBILERTC_TEST_KILL_AT").map(str::to_owned),
        }
    }

    /// Die here (SIGKILL, as `kill -9` would) if MOBILERTC_TEST_KILL_AT names this point.
    pub fn kill_point(&self, step: &str, when: &str) {
        if self.kill_at.as_deref() == Some(&format!("{step}:{when}")) {
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
        }
    }

    fn command(&self, cmd: &Cmd) -> Result<Command> {
        // Look the program up on the PATH the child gets (depot_tools first), not ours.
        let path = cmd
            .env
            .get("PATH")
            .cloned()
            .or_else(|| self.child_path.clone());
        let program = if cmd.program.contains('/') {
            PathBuf::from(&cmd.program)
        } else {
            which::which_in(&cmd.program, path, &self.host_cwd).with_context(|| {
                format!(
                    "`{}` not found on PATH (needed for `{}`)",
                    cmd.program,
                    cmd.line()
                )
            })?
        };
        let own_group = program.file_name().is_none_or(|n| n != "sudo");
        let xcmd = self.sh.cmd(program).args(&cmd.args).envs(&cmd.env);
        let mut c = Command::from(xcmd);
        c.current_dir(&cmd.cwd);
        crate::proc::prepare(&mut c, own_group);
        Ok(c)
    }

    /// Spawn `c`, recording its process group for [`crate::proc`] until the guard drops.
    fn spawn(&self, c: &mut Command, cmd: &Cmd) -> Result<(std::process::Child, Group)> {
        let own_group = Path::new(&cmd.program)
            .file_name()
            .is_none_or(|n| n != "sudo");
        let child = c
            .spawn()
            .with_context(|| format!("starting `{}`", cmd.line()))?;
        crate::proc::started(child.id(), own_group);
        let group = Group {
            pid: child.id(),
            own_group,
        };
        Ok((child, group))
    }

    fn trace(&self, cmd: &Cmd) -> Result<()> {
        if let Some(t) = &self.trace {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(t)
                .with_context(|| format!("opening the trace file {}", t.display()))?;
            writeln!(f, "spawn\t{}\t{}", cmd.cwd.display(), cmd.line())?;
        }
        Ok(())
    }

    /// Run `cmd` with its output appended to `log`; on failure the error carries the tail.
    pub fn run(&self, cmd: &Cmd, log: &Path) -> Result<()> {
        let mut logf = open_log(log)?;
        writeln!(logf, "\n$ {}\n  (cwd {})", cmd.line(), cmd.cwd.display())?;
        let mut c = self.command(cmd)?;
        c.stdin(Stdio::null());
        self.trace(cmd)?;
        set_current_log(Some(log));
        let status = if self.verbose {
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
            let (mut child, _group) = self.spawn(&mut c, cmd)?;
            let logf = Arc::new(Mutex::new(logf));
            let pumps: Vec<_> = [
                child
                    .stdout
                    .take()
                    .map(|o| Box::new(o) as Box<dyn Read + Send>),
                child
                    .stderr
                    .take()
                    .map(|e| Box::new(e) as Box<dyn Read + Send>),
            ]
            .into_iter()
            .flatten()
            .map(|r| {
                let logf = Arc::clone(&logf);
                std::thread::spawn(move || {
                    for line in BufReader::new(r).split(b'\n').map_while(Result::ok) {
                        let mut l = logf.lock().unwrap_or_else(|p| p.into_inner());
                        let _ = l.write_all(&line);
                        let _ = l.write_all(b"\n");
                        let mut e = std::io::stderr().lock();
                        let _ = e.write_all(&line);
                        let _ = e.write_all(b"\n");
                    }
                })
            })
            .collect();
            let status = child
                .wait()
                .with_context(|| format!("waiting for `{}`", cmd.line()))?;
            for p in pumps {
                let _ = p.join();
            }
            status
        } else {
            let err = logf
                .try_clone()
                .context("duplicating the log file handle")?;
            c.stdout(Stdio::from(logf)).stderr(Stdio::from(err));
            let (mut child, _group) = self.spawn(&mut c, cmd)?;
            child
                .wait()
                .with_context(|| format!("waiting for `{}`", cmd.line()))?
        };
        set_current_log(None);
        if status.success() {
            return Ok(());
        }
        Err(CommandFailed {
            line: cmd.line(),
            status: status.to_string(),
            cwd: cmd.cwd.display().to_string(),
            log: log.display().to_string(),
            tail: tail(log, TAIL_LINES),
        }
        .into())
    }

    /// Run `cmd` for its output (also logged). Returns (success, stdout, stderr); a failure
    /// to start is an error, a non-zero exit is not (the caller interprets it).
    pub fn probe(&self, cmd: &Cmd, log: &Path) -> Result<(bool, String, String)> {
        let mut c = self.command(cmd)?;
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.trace(cmd)?;
        let (child, _group) = self.spawn(&mut c, cmd)?;
        let out = child
            .wait_with_output()
            .with_context(|| format!("waiting for `{}`", cmd.line()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let mut logf = open_log(log)?;
        writeln!(
            logf,
            "\n$ {}\n  (cwd {}) -> {}\n{stdout}{stderr}",
            cmd.line(),
            cmd.cwd.display(),
            out.status
        )?;
        Ok((out.status.success(), stdout, stderr))
    }
}

/// A spawned child's process group, forgotten (and emptied) when dropped.
struct Group {
    pid: u32,
    own_group: bool,
}

impl Drop for Group {
    fn drop(&mut self) {
        crate::proc::finished(self.pid, self.own_group);
    }
}

fn open_log(log: &Path) -> Result<File> {
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir)
            .with_context(|| format!("creating the log directory {}", dir.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening the log file {}", log.display()))
}

/// The last `n` lines of a file (lossy), for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let Ok(bytes) = fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for l in &lines[lines.len().saturating_sub(n)..] {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Seconds between "still running" lines when no spinner is drawn (0: none).
static HEARTBEAT_SECS: AtomicU64 = AtomicU64::new(0);
const DEFAULT_HEARTBEAT_SECS: u64 = 60;
/// The log of the child running now: its last line says what is being done.
static CURRENT_LOG: Mutex<Option<PathBuf>> = Mutex::new(None);

fn set_current_log(log: Option<&Path>) {
    *CURRENT_LOG.lock().unwrap_or_else(|e| e.into_inner()) = log.map(Path::to_owned);
}

/// The last non-empty line of the running child's log (git's `\r` progress included),
/// shortened: "Receiving objects:  45% (1234/2742), 1.20 GiB | 5.00 MiB/s".
fn current_activity() -> Option<String> {
    let log = CURRENT_LOG
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()?;
    let mut f = File::open(log).ok()?;
    let len = f.metadata().ok()?.len();
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(len.saturating_sub(4096)))
        .ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let last = text
        .split(['\n', '\r'])
        .map(str::trim)
        .rfind(|l| !l.is_empty())?;
    Some(last.chars().take(120).collect())
}

/// The line (and spinner) of one step: `[3/7] gclient sync   2m14s`.
pub struct StepLine {
    label: String,
    started: Instant,
    bar: ProgressBar,
    /// The "still running" printer; stopped by dropping the sender.
    heartbeat: Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl StepLine {
    pub fn start(index: usize, total: usize, name: &str, progress: bool) -> StepLine {
        let label = format!("[{index}/{total}] {name:<20}");
        let bar = ProgressBar::with_draw_target(
            None,
            if progress {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if progress {
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("static template"),
            );
            bar.set_message(label.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        let started = Instant::now();
        let every = HEARTBEAT_SECS.load(Ordering::SeqCst);
        let heartbeat = (every > 0).then(|| {
            let (tx, rx) = mpsc::channel::<()>();
            let label = label.clone();
            let t = std::thread::spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    rx.recv_timeout(Duration::from_secs(every))
                {
                    let doing = current_activity().map_or(String::new(), |a| format!(": {a}"));
                    eprintln!(
                        "{label} still running, {}{doing}",
                        format_duration(started.elapsed())
                    );
                }
            });
            (tx, t)
        });
        StepLine {
            label,
            started,
            bar,
            heartbeat,
        }
    }

    fn stop_heartbeat(&mut self) {
        if let Some((tx, t)) = self.heartbeat.take() {
            drop(tx);
            let _ = t.join();
        }
    }

    /// Replace the spinner with the final line.
    pub fn finish(mut self, outcome: &str) {
        self.stop_heartbeat();
        self.bar.finish_and_clear();
        eprintln!("{} {outcome}", self.label);
    }

    pub fn finish_timed(self) {
        let t = format_duration(self.started.elapsed());
        self.finish(&t);
    }

    /// Print a note under the step without breaking the spinner.
    pub fn note(&self, msg: &str) {
        self.bar.suspend(|| eprintln!("      {msg}"));
    }
}

impl Drop for StepLine {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("src@abc"), "src@abc");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(134)), "2m14s");
        assert_eq!(format_duration(Duration::from_secs(3700)), "1h01m");
    }

    #[test]
    fn tail_keeps_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        fs::write(&p, (1..=30).map(|i| format!("l{i}\n")).collect::<String>()).unwrap();
        let t = tail(&p, 3);
        assert_eq!(t, "l28\nl29\nl30\n");
    }

    #[test]
    fn failure_carries_tail_and_log_path() {
        let dir = tempfile::tempdir().unwrap();
        let sh = Shell::new().unwrap();
        let host = crate::host::Host::from_process(dir.path().to_owned());
        let r = Runner::new(&sh, false, &host);
        let log = dir.path().join("logs/x.log");
        let cmd = Cmd::new(
            "sh",
            &["-c", "echo boom-out; echo boom-err >&2; exit 3"],
            dir.path(),
            &BTreeMap::new(),
        );
        let err = r.run(&cmd, &log).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("boom-out") && msg.contains("boom-err"),
            "{msg}"
        );
        assert!(msg.contains("exit status: 3"), "{msg}");
        assert!(msg.contains(&log.display().to_string()), "{msg}");
    }
}
