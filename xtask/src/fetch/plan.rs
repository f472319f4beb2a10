//! The typed plan of `fetch-webrtc`: computed from the config and the host before anything
//! runs, printed by `--dry-run`, then executed step by step by [`super::execute`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::depot_tools::DepotTools;
use super::install_deps::{self, InstallDeps};
use super::sync::Sync;
use super::{gclient, hooks, verify};
use crate::config::Config;
use crate::fetch::steps::RouteStep;
use crate::host::{prepend_path, Host};
use crate::patches::{self, Patch};
use crate::run::Cmd;
use crate::state::Stamps;

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    DepotTools(DepotTools),
    Gclient { path: PathBuf, text: String },
    Sync(Sync),
    InstallDeps(InstallDeps),
    RunHooks(Cmd),
    Patches { dir: PathBuf, series: Vec<Patch> },
    Lock { revinfo: Cmd, path: PathBuf },
}

impl crate::fetch::steps::RouteStep for Step {
    fn id(&self) -> &'static str {
        match self {
            Step::DepotTools(_) => "depot_tools",
            Step::Gclient { .. } => "gclient",
            Step::Sync(_) => "sync",
            Step::InstallDeps(_) => "install_deps",
            Step::RunHooks(_) => "runhooks",
            Step::Patches { .. } => "patches",
            Step::Lock { .. } => "lock",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Step::DepotTools(_) => "depot_tools",
            Step::Gclient { .. } => ".gclient",
            Step::Sync(_) => "gclient sync",
            Step::InstallDeps(_) => "install-build-deps",
            Step::RunHooks(_) => "gclient runhooks",
            Step::Patches { .. } => "patches",
            Step::Lock { .. } => "webrtc.lock",
        }
    }

    fn inputs(&self, cfg: &Config) -> Vec<String> {
        match self {
            Step::DepotTools(dt) => dt.inputs(),
            Step::Gclient { path, text } => vec![path.display().to_string(), text.clone()],
            Step::Sync(s) => vec![cfg.revision.clone(), s.cmd.line()],
            // Deliberately not the mode (run/sudo/skip/manual): once the packages are in (or
            // the user said they are, with --skip-install-deps), a rerun without the flag
            // must not ask again for the same revision.
            Step::InstallDeps(_) => vec![cfg.targets.has_android().to_string()],
            Step::RunHooks(c) => vec![c.line()],
            Step::Patches { series, .. } => series
                .iter()
                .map(|p| format!("{} {}", p.name, p.sha256))
                .collect(),
            Step::Lock { path, .. } => vec![path.display().to_string()],
        }
    }
}

pub type Planned = crate::fetch::steps::Planned<Step>;

#[derive(Debug, Clone)]
pub struct Plan {
    pub cfg: Config,
    /// `--force`: every step runs again, the sync with `--reset --force`.
    pub redo: bool,
    /// Variables set for every child process (on top of the inherited environment).
    pub env: BTreeMap<String, String>,
    pub steps: Vec<Planned>,
}

/// Environment additions for child processes: depot_tools first on PATH (for them only),
/// and no depot_tools self-update when it is pinned. Pure: unit-tested below.
pub fn child_env(host: &Host, dt: &DepotTools) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_owned(), prepend_path(dt.dir(), host.var("PATH")));
    if dt.pinned() {
        env.insert("DEPOT_TOOLS_UPDATE".to_owned(), "0".to_owned());
    }
    env
}

pub struct Options {
    pub redo: bool,
    pub skip_install_deps: bool,
    pub sudo: bool,
    pub os_release: Option<String>,
}

pub fn make(root: &Path, cfg: &Config, host: &Host, opts: &Options) -> Result<Plan> {
    let dt = DepotTools::resolve(cfg, host)?;
    let mut env = child_env(host, &dt);
    env.extend(super::mirrors::env(&cfg.mirrors));
    let gclient = dt.gclient();
    let text = gclient::load_and_render(root, cfg)?;
    let steps = vec![
        Step::DepotTools(dt),
        Step::Gclient {
            path: cfg.work_dir.join(".gclient"),
            text,
        },
        Step::Sync(Sync::plan(cfg, &gclient, &env)),
        Step::InstallDeps(install_deps::plan(
            cfg,
            host,
            &env,
            install_deps::Inputs {
                skip: opts.skip_install_deps,
                sudo: opts.sudo,
                os_release: opts.os_release.as_deref(),
            },
        )),
        Step::RunHooks(hooks::runhooks(&cfg.work_dir, &gclient, &env)),
        Step::Patches {
            dir: cfg.patches_dir.clone(),
            series: patches::load_series(&cfg.patches_dir)?,
        },
        Step::Lock {
            revinfo: Cmd::new(&gclient, &["revinfo"], &cfg.work_dir, &env),
            path: cfg.lock_file.clone(),
        },
    ];
    let steps = super::steps::chain(steps, cfg);
    Ok(Plan {
        cfg: cfg.clone(),
        redo: opts.redo,
        env,
        steps,
    })
}

impl Plan {
    /// Index of the first step that has to run (== steps.len() when all are done), and why
    /// when it is earlier than the stamps say. The stamps are not trusted alone: the disk is
    /// checked cheaply ([`verify::quick`]: HEADs against the pins, the git cache, the patched
    /// files), and `--force` redoes everything.
    pub fn first_pending(&self, stamps: &Stamps) -> (usize, Option<String>) {
        if self.redo {
            return (0, Some("--force: every step runs again".into()));
        }
        let first = self
            .steps
            .iter()
            .position(|p| !stamps.is_done(p.step.id(), &p.key))
            .unwrap_or(self.steps.len());
        let gclient_text = self.steps.iter().find_map(|p| match &p.step {
            Step::Gclient { text, .. } => Some(text.as_str()),
            _ => None,
        });
        if let Some((step, why)) = gclient_text.and_then(|t| verify::quick(&self.cfg, t)) {
            if let Some(i) = self.steps.iter().position(|p| p.step.id() == step) {
                if i < first {
                    return (i, Some(why));
                }
            }
        }
        (first, None)
    }

    /// `--dry-run` output: every step, its state, and every command with cwd and env.
    pub fn render(&self, stamps: &Stamps, host: &Host) -> String {
        let (first, why) = self.first_pending(stamps);
        let n = self.steps.len();
        let cfg = &self.cfg;
        let mut o = String::new();
        let _ = writeln!(o, "fetch-webrtc plan (dry run: nothing is run)");
        let _ = writeln!(o, "  config:    {}", cfg.file.display());
        let _ = writeln!(
            o,
            "  webrtc:    {} @ {}",
            cfg.webrtc_url,
            cfg.describe_revision()
        );
        let _ = writeln!(o, "  work dir:  {}", cfg.work_dir.display());
        let _ = writeln!(o, "  lock file: {}", cfg.lock_file.display());
        if let Some(w) = why {
            let _ = writeln!(o, "  note: {w}");
        }
        for (i, p) in self.steps.iter().enumerate() {
            let state = if i < first {
                "done, skipped"
            } else {
                "will run"
            };
            let _ = writeln!(o, "[{}/{n}] {} ({state})", i + 1, p.step.title());
            let cmds: Vec<Cmd> = match &p.step {
                Step::DepotTools(dt) => {
                    let _ = writeln!(o, "    {}", dt.describe());
                    dt.commands(&cfg.work_dir, &self.env)
                }
                Step::Gclient { path, text } => {
                    let _ = writeln!(o, "    write {}:", path.display());
                    for l in text.lines() {
                        let _ = writeln!(o, "    | {l}");
                    }
                    vec![]
                }
                Step::Sync(s) => {
                    let _ = writeln!(
                        o,
                        "    revert recorded patches first; + --reset --force when resuming an unfinished sync or with --force; {} attempt(s), backoff {}s doubling",
                        s.attempts,
                        s.backoff.as_secs()
                    );
                    vec![s.cmd.clone()]
                }
                Step::InstallDeps(InstallDeps::Run(c)) => vec![c.clone()],
                Step::InstallDeps(InstallDeps::Skip(why)) => {
                    let _ = writeln!(o, "    skipped: {why}");
                    vec![]
                }
                Step::InstallDeps(InstallDeps::Manual(msg)) => {
                    let _ = writeln!(o, "    stops here: {}", msg.replace('\n', "\n    "));
                    vec![]
                }
                Step::RunHooks(c) => vec![c.clone()],
                Step::Patches { dir, series } => {
                    let _ = writeln!(
                        o,
                        "    {} patch(es) from {}, each:",
                        series.len(),
                        dir.display()
                    );
                    series
                        .iter()
                        .flat_map(|p| patches::planned_commands(&cfg.src_dir(), &self.env, &p.path))
                        .collect()
                }
                Step::Lock { revinfo, path } => {
                    let _ = writeln!(
                        o,
                        "    write {} (drift against the previous one is reported)",
                        path.display()
                    );
                    vec![revinfo.clone()]
                }
            };
            for c in cmds {
                let _ = write!(o, "{c}");
            }
        }
        // The inherited PATH is host noise; show where depot_tools goes instead.
        match host.var("PATH") {
            Some(p) => o.replace(&format!(":{p}"), ":$PATH"),
            None => o,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::test_host;

    #[test]
    fn child_env_prepends_depot_tools_and_pins_updates() {
        let host = test_host(&[("PATH", "/usr/bin:/bin"), ("HOME", "/root")]);
        let pinned = DepotTools::Clone {
            url: "u".into(),
            revision: Some("a".repeat(40)),
            dir: "/w/depot_tools".into(),
        };
        let env = child_env(&host, &pinned);
        assert_eq!(env["PATH"], "/w/depot_tools:/usr/bin:/bin");
        assert_eq!(env["DEPOT_TOOLS_UPDATE"], "0");
        assert_eq!(
            env.len(),
            2,
            "only additions, the rest is inherited: {env:?}"
        );

        let floating = DepotTools::Clone {
            url: "u".into(),
            revision: None,
            dir: "/w/depot_tools".into(),
        };
        assert!(!child_env(&host, &floating).contains_key("DEPOT_TOOLS_UPDATE"));

        let existing = DepotTools::Existing {
            dir: "/opt/dt".into(),
            source: "PATH",
        };
        assert_eq!(child_env(&test_host(&[]), &existing)["PATH"], "/opt/dt");
    }
}
