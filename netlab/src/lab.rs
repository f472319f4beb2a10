//! A built network: its namespaces, the processes started in them, and their teardown.
//!
//! Teardown happens in three places, so no run leaves namespaces behind: [`Lab`]'s `Drop`
//! (normal end, errors, panics), the SIGINT/SIGTERM handler (which tears down every live
//! lab through a process-wide registry and exits), and `netlab cleanup`, which removes the
//! namespaces of runs whose process is gone (SIGKILL, power loss). Namespace names carry the
//! owning pid for that: `mrtc<pid>-<lab>-<node>`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::topo::{Cmd, Topology};

const PREFIX: &str = "mrtc";

/// Per lab: its namespaces and the pids started in them.
type Live = BTreeMap<String, (Vec<String>, Vec<u32>)>;
/// What the signal handler must undo.
static REGISTRY: Mutex<Live> = Mutex::new(BTreeMap::new());
static NEXT_LAB: AtomicU32 = AtomicU32::new(0);
static SIGNALS: Once = Once::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A SIGINT/SIGTERM arrived: the handler is tearing down and will exit the process.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Called by a main thread that is about to return: if the handler is at work, let it
/// finish and exit (returning first would end the process mid-teardown).
pub fn let_interrupt_finish() {
    while interrupted() {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// On SIGINT/SIGTERM: kill every child of every live lab, delete their namespaces, exit 130.
/// Idempotent; called by [`Lab::build`].
pub fn install_signal_cleanup() {
    SIGNALS.call_once(|| {
        let res = ctrlc::set_handler(|| {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("netlab: interrupted, removing the namespaces");
            let labs = std::mem::take(&mut *REGISTRY.lock().unwrap_or_else(|e| e.into_inner()));
            for (_, (namespaces, pids)) in labs {
                kill_all(&pids);
                for ns in namespaces.iter().rev() {
                    delete_namespace(ns);
                }
            }
            std::process::exit(130);
        });
        if let Err(e) = res {
            // Another handler (e.g. the embedding program's) wins; Drop still cleans up.
            eprintln!("netlab: no SIGINT/SIGTERM cleanup: {e}");
        }
    });
}

fn kill_all(pids: &[u32]) {
    for &pid in pids {
        // SAFETY: kill(2) on a pid we started; a stale pid at worst gets ESRCH.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
}

/// Kill whatever still runs inside `ns` (it would keep the namespace alive), then delete it.
/// Its veths go with it. Errors are reported, not returned: teardown goes on.
fn delete_namespace(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        let pids: Vec<u32> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        kill_all(&pids);
    }
    match Command::new("ip").args(["netns", "del", ns]).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => eprintln!(
            "netlab: ip netns del {ns}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => eprintln!("netlab: ip netns del {ns}: {e}"),
    }
}

/// Namespaces named like ours: (name, owning pid).
pub fn our_namespaces() -> Result<Vec<(String, u32)>> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .context("running `ip netns list` (is iproute2 installed?)")?;
    if !out.status.success() {
        bail!(
            "ip netns list: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(parse_netns_list(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_netns_list(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|name| {
            let rest = name.strip_prefix(PREFIX)?;
            let (pid, _) = rest.split_once('-')?;
            Some((name.to_string(), pid.parse().ok()?))
        })
        .collect()
}

/// Remove the namespaces of runs whose process is gone (all of ours with `all`).
/// Returns the names removed.
pub fn cleanup(all: bool) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for (name, pid) in our_namespaces()? {
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        if all || !alive {
            delete_namespace(&name);
            removed.push(name);
        }
    }
    Ok(removed)
}

pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A started process, its output in files of the lab's directory.
pub struct Proc {
    pub name: String,
    child: Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `None` while it runs.
    pub fn try_wait(&mut self) -> Result<Option<std::process::ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("waiting for {}", self.name))
    }

    /// Wait up to `timeout`; `None` if it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<std::process::ExitStatus>> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for {}", self.name))?
            {
                return Ok(Some(st));
            }
            if Instant::now() >= end {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`.
    pub fn stop(&mut self, grace: Duration) -> Result<()> {
        if self.child.try_wait()?.is_none() {
            // SAFETY: our own child, not yet reaped, so the pid is still ours.
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
            if self.wait_timeout(grace)?.is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        Ok(())
    }

    /// The last `n` lines of stderr and stdout, for failure reports.
    pub fn tail(&self, n: usize) -> String {
        let mut s = String::new();
        for (what, p) in [("stderr", &self.stderr), ("stdout", &self.stdout)] {
            s += &format!("--- {} {what} ({}) ---\n", self.name, p.display());
            s += &tail_file(p, n);
        }
        s
    }
}

pub fn tail_file(p: &Path, n: usize) -> String {
    let text = fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut s = lines[lines.len().saturating_sub(n)..].join("\n");
    s.push('\n');
    s
}

/// A network built from a [`Topology`]. Dropping it kills its processes and deletes its
/// namespaces.
pub struct Lab {
    pub topo: Topology,
    id: String,
    namespaces: Vec<String>,
    procs: Vec<Proc>,
    pub dir: PathBuf,
    keep: bool,
}

impl Lab {
    /// Build `topo`: namespaces, bridges, veths, addresses, routes, NAT rulesets. Files
    /// (rulesets, logs) go to `dir`. On failure everything created so far is removed.
    pub fn build(topo: Topology, dir: &Path) -> Result<Lab> {
        install_signal_cleanup();
        let id = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT_LAB.fetch_add(1, Ordering::Relaxed)
        );
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut lab = Lab {
            topo,
            id,
            namespaces: Vec::new(),
            procs: Vec::new(),
            dir: dir.to_path_buf(),
            keep: false,
        };
        for node in &lab.topo.nodes {
            if let Some(kind) = node.nat {
                let p = lab.nft_file(node.name);
                fs::write(&p, kind.ruleset())
                    .with_context(|| format!("writing {}", p.display()))?;
            }
        }
        let plan = lab
            .topo
            .plan(&|n| lab.ns(n), &|n| lab.nft_file(n).display().to_string());
        for cmd in plan {
            if cmd.0[..3] == ["ip", "netns", "add"] {
                // Registered before it exists: a signal mid-way still removes it.
                lab.namespaces.push(cmd.0[3].clone());
                lab.register();
            }
            run(&cmd)?;
        }
        Ok(lab)
    }

    /// The namespace name of a node or switch.
    pub fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.id)
    }

    fn nft_file(&self, node: &str) -> PathBuf {
        self.dir.join(format!("{node}.nft"))
    }

    /// Leave the namespaces in place at drop (`--keep`, to look around).
    pub fn keep(&mut self) {
        self.keep = true;
    }

    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    fn register(&self) {
        let pids = self.procs.iter().map(Proc::pid).collect();
        REGISTRY
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(self.id.clone(), (self.namespaces.clone(), pids));
    }

    /// Start `argv` inside `node`'s namespace, stdout and stderr to `<dir>/<name>.out|.err`.
    pub fn spawn(&mut self, node: &str, name: &str, argv: &[String]) -> Result<usize> {
        let stdout = self.dir.join(format!("{name}.out"));
        let stderr = self.dir.join(format!("{name}.err"));
        let file = |p: &Path| File::create(p).with_context(|| format!("creating {}", p.display()));
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(node)])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(file(&stdout)?)
            .stderr(file(&stderr)?)
            .spawn()
            .with_context(|| format!("starting {} in {node}", argv.join(" ")))?;
        self.procs.push(Proc {
            name: name.to_string(),
            child,
            stdout,
            stderr,
        });
        self.register();
        Ok(self.procs.len() - 1)
    }

    pub fn proc(&mut self, i: usize) -> &mut Proc {
        &mut self.procs[i]
    }

    /// Run `argv` in `node`'s namespace to completion; its output.
    pub fn exec(
        &self,
        node: &str,
        argv: &[&str],
        timeout: Duration,
    ) -> Result<std::process::Output> {
        let mut cmd = Command::new("timeout");
        cmd.arg(format!("{}", timeout.as_secs_f64()))
            .args(["ip", "netns", "exec", &self.ns(node)])
            .args(argv);
        cmd.output()
            .with_context(|| format!("running {} in {node}", argv.join(" ")))
    }

    /// Run `f` on a scratch thread moved into `node`'s namespace (setns(2)), the process
    /// staying where it is. What `f` creates keeps that namespace: sockets, and threads it
    /// starts (a libwebrtc factory's network thread, for instance).
    pub fn in_namespace<T: Send>(
        &self,
        node: &str,
        f: impl FnOnce() -> Result<T> + Send,
    ) -> Result<T> {
        let path = format!("/run/netns/{}", self.ns(node));
        let ns = File::open(&path).with_context(|| format!("opening {path}"))?;
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns on this thread only, with a namespace fd we hold open.
                if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(std::io::Error::last_os_error())
                        .with_context(|| format!("setns into {path}"));
                }
                f()
            })
            .join()
            .map_err(|_| anyhow::anyhow!("a thread in {node}'s namespace panicked"))?
        })
    }

    /// A UDP socket bound to `addr` inside `node`'s namespace.
    pub fn udp_socket(&self, node: &str, addr: SocketAddr) -> Result<UdpSocket> {
        self.in_namespace(node, || {
            let sock =
                UdpSocket::bind(addr).with_context(|| format!("binding {addr} in {node}"))?;
            sock.set_read_timeout(Some(Duration::from_millis(300)))?;
            Ok(sock)
        })
    }

    /// Stop every process (SIGTERM, then SIGKILL after `grace`).
    pub fn stop_all(&mut self, grace: Duration) {
        for p in self.procs.iter_mut().rev() {
            if let Err(e) = p.stop(grace) {
                eprintln!("netlab: stopping {}: {e:#}", p.name);
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.keep || interrupted() {
            REGISTRY
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.id);
            return;
        }
        self.stop_all(Duration::from_millis(500));
        for ns in self.namespaces.iter().rev() {
            delete_namespace(ns);
        }
        REGISTRY
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// Run one plan command; a failure names the command and its stderr.
pub fn run(cmd: &Cmd) -> Result<()> {
    let out = Command::new(&cmd.0[0])
        .args(&cmd.0[1..])
        .output()
        .with_context(|| format!("running `{cmd}`"))?;
    if !out.status.success() {
        bail!(
            "`{cmd}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Wait until `path` contains `needle` (a process's "ready" line).
pub fn wait_for_text(path: &Path, needle: &str, timeout: Duration) -> Result<bool> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        match fs::read_to_string(path) {
            Ok(t) if t.contains(needle) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_list_parsing_keeps_only_ours_with_their_pid() {
        let text =
            "mrtc123-0-caller (id: 3)\nmrtc123-0-lan\nother\nmrtcx-1-a\nmrtc77-2-pub (id: 0)\n";
        assert_eq!(
            parse_netns_list(text),
            vec![
                ("mrtc123-0-caller".to_string(), 123),
                ("mrtc123-0-lan".to_string(), 123),
                ("mrtc77-2-pub".to_string(), 77)
            ]
        );
    }
}
