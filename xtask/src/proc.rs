//! Child processes die with the xtask.
//!
//! Every child the runner starts leads its own process group (so gclient, the git processes
//! it starts and their children can be signalled together) and gets `PR_SET_PDEATHSIG`
//! (SIGKILL): if the xtask dies, however it dies, the kernel kills the direct child.
//! - Ctrl-C, SIGTERM, SIGHUP: the handler kills the running child's whole group, then the
//!   xtask exits (130 / 143 / 129).
//! - SIGKILL of the xtask alone: the direct child dies with it; what that child started (git
//!   under gclient) may live on in the group. The group is recorded under the work dir's
//!   state dir, and the next run that takes the checkout lock (fetch-webrtc, build, patches
//!   revert) kills what is left of it before doing anything, and says so.
//!
//! `sudo` is the exception: it may ask for a password on the terminal, which a background
//! process group cannot read, so it stays in ours (PDEATHSIG still applies).

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// Process group of the child running now (0: none).
static RUNNING: AtomicI32 = AtomicI32::new(0);
/// Where the groups of this run's children are recorded (set when the lock is taken).
static RECORD: Mutex<Option<PathBuf>> = Mutex::new(None);

/// `<state dir>/children`: one process group id per line.
pub fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join("children")
}

/// Marks every process of a run (inherited down the tree): `<record path>`. A leftover is
/// killed only if it carries the mark of this work dir, so a recycled group id can never
/// point at someone else's processes.
const MARK: &str = "MOBILERTC_CHILD_OF";

/// Set up `cmd` so its process dies with ours (see the module docs).
pub fn prepare(cmd: &mut Command, own_group: bool) {
    if let Some(p) = RECORD.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        cmd.env(MARK, p);
    }
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if own_group {
                rustix::process::setpgid(None, None)?;
            }
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            Ok(())
        });
    }
}

/// A child was started: remember its group (in memory for the signal handler, on disk for
/// the next run).
pub fn started(pid: u32, own_group: bool) {
    if !own_group {
        return;
    }
    let pgid = pid as i32;
    RUNNING.store(pgid, Ordering::SeqCst);
    if let Some(p) = RECORD.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        let _ = fs::write(p, format!("{pgid}\n"));
    }
}

/// The child exited: kill what it left in its group (a gclient that exits leaves nothing;
/// this catches the odd daemonised helper), then forget the group.
pub fn finished(pid: u32, own_group: bool) {
    if !own_group {
        return;
    }
    let pgid = pid as i32;
    if let Some(pg) = Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pg, Signal::KILL);
    }
    RUNNING.store(0, Ordering::SeqCst);
    if let Some(p) = RECORD.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        let _ = fs::remove_file(p);
    }
}

/// Install the Ctrl-C / SIGTERM / SIGHUP handler (once per process).
pub fn kill_children_on_signal() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if let Some(pg) = Pid::from_raw(RUNNING.load(Ordering::SeqCst)) {
                let _ = rustix::process::kill_process_group(pg, Signal::KILL);
            }
            eprintln!("interrupted: stopped the running child processes");
            std::process::exit(130);
        });
    });
}

/// Live (not zombie) processes of group `pgid` carrying our mark for `record`, from /proc.
fn leftovers(pgid: i32, record: &Path) -> Vec<i32> {
    let mut mark = format!("{MARK}={}", record.display()).into_bytes();
    mark.push(0);
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // "pid (comm) S ppid pgrp …": comm may hold spaces, so split after the last ')'.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.first() != Some(&"Z")
                && f.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
                && fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.windows(mark.len()).any(|w| w == mark))
        })
        .collect()
}

/// Called with the checkout lock held: record this run's children in `state_dir`, and kill
/// whatever a previous run (killed itself) left running there. Returns a note if it did.
pub fn adopt_state_dir(state_dir: &Path) -> Option<String> {
    let path = record_path(state_dir);
    let note = fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .filter(|&g| g != rustix::process::getpgrp().as_raw_nonzero().get())
        .and_then(|pgid| {
            let pg = Pid::from_raw(pgid)?;
            let found = leftovers(pgid, &path);
            if found.is_empty() {
                return None;
            }
            let _ = rustix::process::kill_process_group(pg, Signal::KILL);
            let start = Instant::now();
            while !leftovers(pgid, &path).is_empty() && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(format!(
                "killed {} process(es) an interrupted run left running (process group {pgid}, pids {found:?})",
                found.len()
            ))
        });
    let _ = fs::remove_file(&path);
    *RECORD.lock().unwrap_or_else(|e| e.into_inner()) = Some(path);
    note
}
