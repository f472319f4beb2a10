//! `fetch-webrtc --tarball/--debian-source --dry-run`: every step, its state, and every
//! command it may run, with cwd and env.

use crate::fetch::steps::RouteStep;
use std::fmt::Write as _;

use super::source::Origin;
use super::{first_pending, unpack, Plan, Step};
use crate::host::Host;
use crate::patches;
use crate::state::Stamps;

/// `--dry-run` output.
pub fn render(plan: &Plan, stamps: &Stamps, host: &Host) -> String {
    let first = first_pending(plan, stamps);
    let n = plan.steps.len();
    let cfg = &plan.cfg;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "fetch-webrtc plan, tarball route (dry run: nothing is run)"
    );
    let _ = writeln!(o, "  config:    {}", cfg.file.display());
    let _ = writeln!(o, "  webrtc:    {}", cfg.describe_revision());
    let _ = writeln!(o, "  work dir:  {}", cfg.work_dir.display());
    let _ = writeln!(o, "  lock file: {}", cfg.lock_file.display());
    for (i, p) in plan.steps.iter().enumerate() {
        let state = if i < first {
            "done, skipped"
        } else {
            "will run"
        };
        let _ = writeln!(o, "[{}/{n}] {} ({state})", i + 1, p.step.title());
        match &p.step {
            Step::Tarball(origin, debian_tar) => {
                let _ = writeln!(o, "    {}", origin.describe());
                if let Some(d) = debian_tar {
                    let _ = writeln!(o, "    Debian's patches from {}", d.display());
                }
                if let Origin::Debian { apt, .. } = origin {
                    let _ = writeln!(
                        o,
                        "    private apt config {} (skipped when the cache has both files)",
                        apt.conf_path().display()
                    );
                }
                for c in origin.commands(&plan.env) {
                    let _ = write!(o, "{c}");
                }
                let _ = writeln!(o, "    check sha256");
            }
            Step::Unpack {
                extract,
                debian_patches,
            } => {
                let _ = writeln!(
                    o,
                    "    extract {} entries in one xz pass into {}:",
                    extract.len(),
                    unpack::staging(&cfg.work_dir).display()
                );
                let _ = writeln!(o, "    | {}", extract.join(" "));
                let _ = writeln!(
                    o,
                    "    check chrome/VERSION (milestone) and DEPS (WebRTC @ {})",
                    crate::config::short(&cfg.revision)
                );
                if debian_patches.is_empty() {
                    let _ = writeln!(o, "    no Debian patches");
                } else {
                    let _ = writeln!(
                        o,
                        "    {} Debian patches (patch -p1 -F 0, cut to the extracted files):",
                        debian_patches.len()
                    );
                    let _ = writeln!(o, "    | {}", debian_patches.join(" "));
                }
                let _ = writeln!(
                    o,
                    "    re-root third_party/webrtc -> src/, the rest -> src/<path>; write build/config/gclient_args.gni; git init + one commit"
                );
            }
            Step::Patches(series) => {
                let _ = writeln!(o, "    {} patch(es), each:", series.len());
                for p in series {
                    for c in patches::planned_commands(&cfg.src_dir(), &plan.env, &p.path) {
                        let _ = write!(o, "{c}");
                    }
                }
            }
            Step::Lock(path) => {
                let _ = writeln!(
                    o,
                    "    write {} (tarball version + sha256, WebRTC revision)",
                    path.display()
                );
            }
        }
    }
    let _ = host;
    o
}
