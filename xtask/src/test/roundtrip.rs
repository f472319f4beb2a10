//! The distro leg of the dist round trip (`cargo xtask test --ci`): build → dist → prebuilt
//! install → the calling app links against the installed SDK.
//!
//! `dist` packs `source` SDKs only (a `system` SDK is a manifest pointing into `/usr`, with
//! nothing of its own to ship), and there is no upstream build in the distro leg. So the
//! "build" here makes a `source` SDK dir out of the real distro libwebrtc: the `system`
//! SDK's manifest with `provider = "source"`, tg_owt's headers and `libtg_owt.a` copied in
//! and the paths made relative, the Debian copyright file as `LICENSES.md` — what
//! `cargo xtask build` would have written for that library. Then, through the real
//! commands: `dist` twice (the same bytes), `sdk --provider prebuilt` of the archive with
//! its checksum, and `cargo build -p mobilertc-call` with `WEBRTC_SDK_DIR` on the installed
//! SDK, in the workspace's own target dir (only webrtc-sys and what depends on it rebuild).
//! The upstream leg does the same on the real M150 `source` SDK (crate::upstream_leg).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use webrtc_sdk::{Manifest, Provider};
use xshell::{cmd, Shell};

/// The one triple `dist --target linux` packs with webrtc.toml's `[targets] linux = ["x64"]`.
pub const TRIPLE: &str = "x86_64-unknown-linux-gnu";
/// Where the distro's licence text for libtgowt-dev is.
const COPYRIGHT: &str = "/usr/share/doc/libtgowt-dev/copyright";

/// Under `target/dist-roundtrip/`: `system/`, `source/`, `a/`, `b/`, `installed/`.
pub fn dir(target_dir: &Path) -> PathBuf {
    target_dir.join("dist-roundtrip")
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for e in fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let e = e?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let kind = e.file_type()?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else {
            fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
        }
    }
    Ok(())
}

/// A `source` SDK dir at `out` made from the `system` SDK at `system`: include dirs under
/// `<usr_include>/<x>` (`/usr/include`, not itself) copied to `include/<x>`, the static
/// libraries to `lib/`, `licences` as LICENSES.md. Other paths stay as they are (the system
/// libraries and abseil's headers: the installing machine has them, as dist notes).
pub fn source_from_system(
    system: &Path,
    out: &Path,
    licences: &Path,
    usr_include: &Path,
) -> Result<Manifest> {
    let mut m = Manifest::load(system)?;
    ensure!(
        m.provider == Provider::System,
        "{} is not a `system` SDK",
        system.display()
    );
    let _ = fs::remove_dir_all(out);
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut copied: Vec<(PathBuf, PathBuf)> = Vec::new();
    for d in m.compile.include_dirs.iter_mut() {
        if let Some((from, to)) = copied.iter().find(|(from, _)| d.starts_with(from)) {
            *d = to.join(d.strip_prefix(from).expect("checked"));
            continue;
        }
        let Ok(rel) = d.strip_prefix(usr_include) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let to = Path::new("include").join(rel);
        copy_tree(d, &out.join(&to))?;
        copied.push((d.clone(), to.clone()));
        *d = to;
    }
    fs::create_dir_all(out.join("lib"))?;
    for lib in &m.link.static_libs {
        let name = format!("lib{lib}.a");
        let found = m
            .link
            .search_paths
            .iter()
            .map(|p| p.join(&name))
            .find(|p| p.is_file())
            .with_context(|| format!("{name} is in none of the system SDK's search paths"))?;
        fs::copy(&found, out.join("lib").join(&name))
            .with_context(|| format!("copying {}", found.display()))?;
    }
    m.link.search_paths.insert(0, PathBuf::from("lib"));
    m.provider = Provider::Source;
    fs::copy(licences, out.join("LICENSES.md"))
        .with_context(|| format!("copying {}", licences.display()))?;
    fs::write(
        out.join("VERSIONS"),
        format!(
            "distro libwebrtc (libtgowt-dev {}, M{}) repacked as a source SDK by cargo xtask \
             test's dist round trip\n",
            m.webrtc.revision, m.webrtc.milestone
        ),
    )?;
    let path = out.join(webrtc_sdk::MANIFEST_FILE);
    m.validate(&path)?;
    fs::write(&path, m.to_toml()?).with_context(|| format!("writing {}", path.display()))?;
    crate::sdk::install::load_checked(out)
}

/// The whole round trip, running the `xtask` binary given. `default_sdk` is the
/// workspace's SDK dir for [`TRIPLE`].
pub fn run(
    sh: &Shell,
    xtask: &Path,
    root: &Path,
    target_dir: &Path,
    default_sdk: &Path,
) -> Result<()> {
    let rt = dir(target_dir);
    let system = match Manifest::load(default_sdk) {
        Ok(m) if m.provider == Provider::System => default_sdk.to_owned(),
        _ => {
            let out = rt.join("system").join(TRIPLE);
            cmd!(
                sh,
                "{xtask} sdk --provider system --triple {TRIPLE} --out {out}"
            )
            .run()?;
            out
        }
    };
    let source_root = rt.join("source");
    let m = source_from_system(
        &system,
        &source_root.join(TRIPLE),
        Path::new(COPYRIGHT),
        Path::new("/usr/include"),
    )?;
    eprintln!(
        "source SDK from the distro libwebrtc (M{}, {}) in {}",
        m.webrtc.milestone,
        m.webrtc.revision,
        source_root.join(TRIPLE).display()
    );
    let archive = |run: &str| rt.join(run).join(crate::dist::archive_name(TRIPLE));
    for run in ["a", "b"] {
        let out = rt.join(run);
        let _ = fs::remove_dir_all(&out);
        cmd!(
            sh,
            "{xtask} dist --target linux --sdk-root {source_root} --out {out}"
        )
        .run()?;
    }
    let (a, b) = (archive("a"), archive("b"));
    if fs::read(&a)? != fs::read(&b)? {
        bail!(
            "dist is not reproducible: {} and {} differ (the same SDK packed twice)",
            a.display(),
            b.display()
        );
    }
    let line = fs::read_to_string(format!("{}.sha256", a.display()))?;
    let sha = line.split_whitespace().next().unwrap_or_default();
    let installed = rt.join("installed").join(TRIPLE);
    cmd!(
        sh,
        "{xtask} sdk --provider prebuilt --path {a} --sha256 {sha} --out {installed}"
    )
    .run()?;
    {
        let _sdk = sh.push_env(webrtc_sdk::SDK_DIR_ENV, &installed);
        let _dir = sh.push_dir(root);
        cmd!(sh, "cargo build --locked -p mobilertc-call --bins").run()?;
    }
    // webrtc-sys's build script said where it linked libwebrtc from.
    let want = format!(
        "cargo:rustc-link-search=native={}",
        installed.join("lib").display()
    );
    let linked = fs::read_dir(target_dir.join("debug/build"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("webrtc-sys-"))
        .any(|e| {
            fs::read_to_string(e.path().join("output")).is_ok_and(|o| o.lines().any(|l| l == want))
        });
    ensure!(
        linked,
        "the calling app built, but no webrtc-sys build output says `{want}`"
    );
    eprintln!(
        "the calling app links libtg_owt.a from the installed prebuilt SDK {}",
        installed.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_sdk_becomes_a_relocatable_source_sdk() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        // A stand-in /usr, and the fixture system manifest pointed at it.
        let inc = t.join("usr/include");
        fs::create_dir_all(inc.join("tg_owt/third_party/libyuv/include")).unwrap();
        fs::create_dir_all(inc.join("tg_owt/api")).unwrap();
        fs::write(inc.join("tg_owt/api/peer.h"), "// peer").unwrap();
        fs::create_dir_all(t.join("usr/lib")).unwrap();
        fs::write(t.join("usr/lib/libtg_owt.a"), b"!<arch>\n").unwrap();
        let system = t.join("system");
        fs::create_dir_all(&system).unwrap();
        let text = include_str!("../../tests/fixtures/sdk/webrtc-sdk.toml")
            .replace("\"/usr/include/", &format!("\"{}/", inc.display()))
            .replace(
                "search_paths = [\"/usr/lib/x86_64-linux-gnu\"]",
                &format!("search_paths = [\"{}/usr/lib\"]", t.display()),
            );
        fs::write(system.join(webrtc_sdk::MANIFEST_FILE), text).unwrap();
        fs::write(t.join("copyright"), "Format: dep5").unwrap();

        let out = t.join("source");
        let m = source_from_system(&system, &out, &t.join("copyright"), &inc).unwrap();
        assert_eq!(m.provider, Provider::Source);
        assert_eq!(
            m.compile.include_dirs,
            [
                PathBuf::from("include/tg_owt"),
                PathBuf::from("include/tg_owt/third_party/libyuv/include")
            ]
        );
        assert_eq!(
            m.link.search_paths,
            [PathBuf::from("lib"), t.join("usr/lib")]
        );
        assert!(out.join("include/tg_owt/api/peer.h").is_file());
        assert!(out.join("lib/libtg_owt.a").is_file());
        assert_eq!(
            fs::read_to_string(out.join("LICENSES.md")).unwrap(),
            "Format: dep5"
        );
        // What dist accepts (a system SDK it refuses: dist::tests).
        crate::dist::check_sdk(&out).unwrap();
    }
}
