//! `--provider prebuilt`: an SDK the user brings, as a directory holding `webrtc-sdk.toml`
//! or an archive of one (`.tar.gz`/`.tgz`, `.tar`, `.zip`). The manifest may sit at the top
//! of the archive or inside a single top-level directory.
//!
//! Order of operations, so that a bad input never replaces a good SDK:
//! 1. `--sha256`: hash the archive and compare, before reading a single entry;
//! 2. extract (or copy) into a staging directory next to the destination, refusing entries
//!    that would land outside it (`..`, absolute paths, links pointing out);
//! 3. load and validate the manifest there (errors name the field);
//! 4. rename into place, keeping the previous SDK until the new one is there.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use webrtc_sdk::{Provider, MANIFEST_FILE};

use super::install::{self, Staging};

pub struct Request<'a> {
    pub path: &'a Path,
    pub sha256: Option<&'a str>,
    pub out: Option<&'a Path>,
    pub triple: Option<&'a str>,
    pub dry_run: bool,
}

/// What `--path` points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Dir,
    TarGz,
    Tar,
    Zip,
}

fn source_kind(path: &Path) -> Result<Source> {
    let meta = fs::metadata(path)
        .with_context(|| format!("--path {}: no such file or directory", path.display()))?;
    if meta.is_dir() {
        return Ok(Source::Dir);
    }
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_ascii_lowercase();
    Ok(if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Source::TarGz
    } else if name.ends_with(".tar") {
        Source::Tar
    } else if name.ends_with(".zip") {
        Source::Zip
    } else if name.ends_with(".tar.zst") || name.ends_with(".tar.xz") || name.ends_with(".tar.bz2")
    {
        bail!(
            "{}: only .tar.gz/.tgz, .tar and .zip archives are supported; repack it, e.g. \
             `tar -xf {name} && tar -czf sdk.tar.gz <dir>`",
            path.display()
        )
    } else {
        bail!(
            "{}: not a directory or a .tar.gz/.tgz/.tar/.zip archive of an SDK",
            path.display()
        )
    })
}

pub fn run(req: &Request<'_>, root: &Path) -> Result<()> {
    let kind = source_kind(req.path)?;
    match (kind, req.sha256) {
        (Source::Dir, Some(_)) => bail!(
            "--sha256 verifies an archive; {} is a directory",
            req.path.display()
        ),
        (_, Some(expected)) => verify_sha256(req.path, expected)?,
        _ => {}
    }

    // Stage beside the destination. Without --out the destination depends on the triple
    // in the manifest we have not read yet, but every default SDK dir is a child of the
    // same directory, so stage there.
    let staging_parent = match req.out {
        Some(out) => install::parent_of(out)?,
        None => webrtc_sdk::default_sdk_dir(root, "x")
            .parent()
            .expect("default_sdk_dir has a parent")
            .to_owned(),
    };
    let staging = Staging::in_dir(&staging_parent)?;
    let unpacked = staging.path().join("unpacked");
    fs::create_dir(&unpacked).with_context(|| format!("creating {}", unpacked.display()))?;
    match kind {
        Source::Dir => copy_dir(req.path, &unpacked)?,
        Source::TarGz => {
            let file = open(req.path)?;
            extract_tar(
                flate2::read::GzDecoder::new(BufReader::new(file)),
                &unpacked,
            )
        }
        .with_context(|| format!("extracting {}", req.path.display()))?,
        Source::Tar => extract_tar(BufReader::new(open(req.path)?), &unpacked)
            .with_context(|| format!("extracting {}", req.path.display()))?,
        Source::Zip => extract_zip(open(req.path)?, &unpacked)
            .with_context(|| format!("extracting {}", req.path.display()))?,
    }
    let sdk_root = find_sdk_root(&unpacked)
        .with_context(|| format!("looking for {MANIFEST_FILE} in {}", req.path.display()))?;
    let manifest = install::load_checked(&sdk_root)?;

    let triple = &manifest.target.triple;
    if let Some(want) = req.triple {
        if want != triple {
            bail!(
                "--triple {want} was asked for, but {} is an SDK for {triple}",
                req.path.display()
            );
        }
    }
    let dest = match req.out {
        Some(out) => out.to_owned(),
        None => webrtc_sdk::default_sdk_dir(root, triple),
    };
    let summary = format!(
        "provider {}, M{}, revision {}, {triple}",
        manifest.provider, manifest.webrtc.milestone, manifest.webrtc.revision
    );
    if manifest.provider != Provider::Prebuilt {
        println!(
            "note: {} declares provider `{}`; installing it as it is",
            req.path.display(),
            manifest.provider
        );
    }
    if req.dry_run {
        println!(
            "would install {} ({summary}) to {}",
            req.path.display(),
            dest.display()
        );
        return Ok(());
    }
    staging.commit(&sdk_root, &dest)?;
    println!(
        "installed {} ({summary}) to {}",
        req.path.display(),
        dest.display()
    );
    if req.out.is_some() {
        println!(
            "webrtc-sys looks in the default location; point it here with {}={}",
            webrtc_sdk::SDK_DIR_ENV,
            dest.display()
        );
    }
    Ok(())
}

fn open(path: &Path) -> Result<File> {
    File::open(path).with_context(|| format!("opening {}", path.display()))
}

/// Compare the file's SHA-256 with `expected` (hex, any case, optional `sha256:` prefix).
fn verify_sha256(path: &Path, expected: &str) -> Result<()> {
    let expected = expected.trim();
    let expected = expected
        .strip_prefix("sha256:")
        .unwrap_or(expected)
        .to_ascii_lowercase();
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--sha256 `{expected}` is not 64 hex digits");
    }
    let actual = sha256_file(path)?;
    if actual != expected {
        bail!(
            "checksum mismatch for {}:\n  expected sha256 {expected}\n  actual   sha256 {actual}\n\
             The download may be truncated or not the file you meant; nothing was extracted.",
            path.display()
        );
    }
    Ok(())
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    io::copy(&mut open(path)?, &mut hasher)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// The directory holding the manifest: the top of the extraction, or its single
/// top-level directory (`webrtc-sdk-m120/webrtc-sdk.toml`).
fn find_sdk_root(unpacked: &Path) -> Result<PathBuf> {
    if unpacked.join(MANIFEST_FILE).is_file() {
        return Ok(unpacked.to_owned());
    }
    let entries: Vec<PathBuf> = fs::read_dir(unpacked)
        .with_context(|| format!("listing {}", unpacked.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    if let [only] = entries.as_slice() {
        if only.is_dir() && only.join(MANIFEST_FILE).is_file() {
            return Ok(only.clone());
        }
    }
    let mut names: Vec<String> = entries
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    bail!(
        "no {MANIFEST_FILE} at the top level or inside a single top-level directory \
         (top level holds: {})",
        if names.is_empty() {
            "nothing".to_owned()
        } else {
            names.join(", ")
        }
    )
}

/// An archive entry's path as a safe relative path, or an error naming it.
fn safe_relative(path: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => bail!(
                "refusing archive entry `{}`: it would be written outside the SDK directory",
                path.display()
            ),
        }
    }
    Ok(out)
}

/// A symbolic link at `entry` (relative to the SDK root) pointing at `target` must stay
/// inside the SDK.
fn check_link(entry: &Path, target: &Path) -> Result<()> {
    let refuse = || {
        anyhow::anyhow!(
            "refusing archive entry `{}`: link to `{}` points outside the SDK directory",
            entry.display(),
            target.display()
        )
    };
    let mut depth = entry.parent().map_or(0, |p| p.components().count());
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => depth = depth.checked_sub(1).ok_or_else(refuse)?,
            Component::RootDir | Component::Prefix(_) => return Err(refuse()),
        }
    }
    Ok(())
}

fn extract_tar(reader: impl Read, dest: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    for entry in archive.entries().context("reading the archive")? {
        let mut entry = entry.context("reading an archive entry")?;
        let raw = entry
            .path()
            .context("an archive entry has an invalid path")?
            .into_owned();
        let rel = safe_relative(&raw)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            let target = entry
                .link_name()?
                .with_context(|| format!("symlink {} has no target", raw.display()))?;
            check_link(&rel, &target)?;
        } else if kind.is_hard_link() {
            let target = entry
                .link_name()?
                .with_context(|| format!("hard link {} has no target", raw.display()))?;
            safe_relative(&target)?;
        }
        // unpack_in also refuses to write through symlinks that leave `dest`.
        if !entry
            .unpack_in(dest)
            .with_context(|| format!("extracting {}", raw.display()))?
        {
            bail!(
                "refusing archive entry `{}`: it would be written outside the SDK directory",
                raw.display()
            );
        }
    }
    Ok(())
}

fn extract_zip(file: File, dest: &Path) -> Result<()> {
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).context("reading the zip index")?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).context("reading a zip entry")?;
        let name = entry.name().to_owned();
        // Check our way first, for the same message as tar; enclosed_name is zip's own guard.
        let rel = safe_relative(Path::new(&name))?;
        if entry.enclosed_name().is_none() {
            bail!("refusing archive entry `{name}`: it would be written outside the SDK directory");
        }
        let out = dest.join(&rel);
        if entry.is_dir() {
            fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            continue;
        }
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        if entry.is_symlink() {
            let mut target = String::new();
            entry.read_to_string(&mut target)?;
            check_link(&rel, Path::new(&target))?;
            std::os::unix::fs::symlink(&target, &out)
                .with_context(|| format!("creating symlink {}", out.display()))?;
            continue;
        }
        let mut file = File::create(&out).with_context(|| format!("creating {}", out.display()))?;
        io::copy(&mut entry, &mut file).with_context(|| format!("extracting {name}"))?;
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&out, fs::Permissions::from_mode(mode & 0o777))
                .with_context(|| format!("setting permissions of {}", out.display()))?;
        }
    }
    Ok(())
}

/// Copy a directory tree; symlinks are copied as symlinks.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let target = fs::read_link(&src)?;
            std::os::unix::fs::symlink(&target, &dst)
                .with_context(|| format!("creating symlink {}", dst.display()))?;
        } else if kind.is_dir() {
            fs::create_dir(&dst).with_context(|| format!("creating {}", dst.display()))?;
            copy_dir(&src, &dst)?;
        } else {
            fs::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A prebuilt SDK's manifest: relative paths, as a relocatable archive has them.
    const MANIFEST: &str = r#"schema = 1
provider = "prebuilt"

[webrtc]
revision = "branch-heads/6099"
milestone = 120

[target]
triple = "aarch64-linux-android"
android_abi = "arm64-v8a"
android_api = 24

[compile]
include_dirs = ["include", "include/third_party/abseil-cpp"]
defines = ["WEBRTC_POSIX", "WEBRTC_LINUX", "WEBRTC_ANDROID", "NDEBUG"]
cxx_std = "c++20"

[cxx_stdlib]
kind = "ndk-libcxx"
namespace = "std::__ndk1"
link = ["static=c++_static", "dylib=c++abi"]

[link]
search_paths = ["lib"]
static_libs = ["webrtc"]
system_libs = ["log", "OpenSLES"]
"#;

    const TRIPLE: &str = "aarch64-linux-android";

    /// `dir/{webrtc-sdk.toml, include/api/x.h, include/third_party/abseil-cpp/, lib/libwebrtc.a}`
    fn make_sdk(dir: &Path, manifest: &str) {
        fs::create_dir_all(dir.join("include/api")).unwrap();
        fs::create_dir_all(dir.join("include/third_party/abseil-cpp")).unwrap();
        fs::create_dir_all(dir.join("lib")).unwrap();
        fs::write(dir.join(MANIFEST_FILE), manifest).unwrap();
        fs::write(dir.join("include/api/x.h"), "// header\n").unwrap();
        fs::write(dir.join("lib/libwebrtc.a"), b"!<arch>\n").unwrap();
    }

    fn tar_gz_of(dir: &Path, prefix: &str, archive: &Path) {
        let gz = flate2::write::GzEncoder::new(
            File::create(archive).unwrap(),
            flate2::Compression::fast(),
        );
        let mut b = tar::Builder::new(gz);
        b.append_dir_all(prefix, dir).unwrap();
        b.into_inner().unwrap().finish().unwrap();
    }

    fn zip_of(dir: &Path, archive: &Path) {
        let mut z = zip::ZipWriter::new(File::create(archive).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        for rel in [MANIFEST_FILE, "include/api/x.h", "lib/libwebrtc.a"] {
            z.start_file(rel, opts).unwrap();
            z.write_all(&fs::read(dir.join(rel)).unwrap()).unwrap();
        }
        z.add_directory("include/third_party/abseil-cpp/", opts)
            .unwrap();
        z.finish().unwrap();
    }

    struct Env {
        tmp: tempfile::TempDir,
    }

    impl Env {
        fn new() -> Self {
            Self {
                tmp: tempfile::tempdir().unwrap(),
            }
        }
        fn root(&self) -> &Path {
            self.tmp.path()
        }
        fn dest(&self) -> PathBuf {
            webrtc_sdk::default_sdk_dir(self.root(), TRIPLE)
        }
        fn install(&self, path: &Path, sha256: Option<&str>) -> Result<()> {
            run(
                &Request {
                    path,
                    sha256,
                    out: None,
                    triple: None,
                    dry_run: false,
                },
                self.root(),
            )
        }
        fn assert_installed(&self) {
            let dest = self.dest();
            let m = webrtc_sdk::Manifest::load(&dest).unwrap();
            assert_eq!(m.webrtc.milestone, 120);
            assert!(dest.join("lib/libwebrtc.a").is_file());
            assert!(dest.join("include/api/x.h").is_file());
            self.assert_no_staging_left();
        }
        fn assert_no_staging_left(&self) {
            let parent = self.dest().parent().unwrap().to_owned();
            if let Ok(rd) = fs::read_dir(parent) {
                let left: Vec<_> = rd
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(".webrtc-sdk-"))
                    .collect();
                assert!(left.is_empty(), "{left:?}");
            }
        }
    }

    #[test]
    fn from_a_directory() {
        let env = Env::new();
        let src = env.root().join("my-sdk");
        make_sdk(&src, MANIFEST);
        env.install(&src, None).unwrap();
        env.assert_installed();
        // The source is copied, not moved.
        assert!(src.join(MANIFEST_FILE).is_file());
    }

    #[test]
    fn from_a_tar_gz_with_a_top_level_dir_and_checksum() {
        let env = Env::new();
        let src = env.root().join("src");
        make_sdk(&src, MANIFEST);
        let archive = env.root().join("webrtc-m120.tar.gz");
        tar_gz_of(&src, "webrtc-m120", &archive);
        let sum = sha256_file(&archive).unwrap();
        env.install(&archive, Some(&sum.to_ascii_uppercase()))
            .unwrap();
        env.assert_installed();
    }

    #[test]
    fn from_a_zip() {
        let env = Env::new();
        let src = env.root().join("src");
        make_sdk(&src, MANIFEST);
        let archive = env.root().join("sdk.zip");
        zip_of(&src, &archive);
        env.install(&archive, None).unwrap();
        env.assert_installed();
    }

    #[test]
    fn bad_checksum_names_both_hashes_and_keeps_the_old_sdk() {
        let env = Env::new();
        let src = env.root().join("src");
        make_sdk(&src, MANIFEST);
        env.install(&src, None).unwrap();
        fs::write(env.dest().join("marker"), "old").unwrap();

        let archive = env.root().join("sdk.tgz");
        tar_gz_of(&src, ".", &archive);
        let actual = sha256_file(&archive).unwrap();
        let wrong = "0".repeat(64);
        let err = format!("{:#}", env.install(&archive, Some(&wrong)).unwrap_err());
        assert!(err.contains(&wrong) && err.contains(&actual), "{err}");
        assert!(env.dest().join("marker").is_file(), "old SDK untouched");
        env.assert_no_staging_left();

        let err = format!("{:#}", env.install(&archive, Some("abc")).unwrap_err());
        assert!(err.contains("64 hex digits"), "{err}");
        let err = format!("{:#}", env.install(&src, Some(&actual)).unwrap_err());
        assert!(err.contains("is a directory"), "{err}");
    }

    #[test]
    fn malformed_manifest_names_the_field() {
        let env = Env::new();
        let cases = [
            (
                MANIFEST.replace("milestone = 120", "milestone = 7"),
                "webrtc.milestone",
            ),
            (
                MANIFEST.replace("namespace = \"std::__ndk1\"", "namespace = \"std::__Cr\""),
                "cxx_stdlib.namespace",
            ),
            (
                MANIFEST.replace("search_paths = [\"lib\"]", "search_paths = [\"lib64\"]"),
                "link.search_paths",
            ),
            (
                MANIFEST.replace("static_libs = [\"webrtc\"]\n", ""),
                "static_libs",
            ),
        ];
        for (i, (text, field)) in cases.iter().enumerate() {
            let src = env.root().join(format!("bad{i}"));
            make_sdk(&src, text);
            let archive = env.root().join(format!("bad{i}.zip"));
            zip_of(&src, &archive);
            let err = format!("{:#}", env.install(&archive, None).unwrap_err());
            assert!(err.contains(field), "{field}: {err}");
            assert!(!env.dest().exists(), "nothing installed");
            env.assert_no_staging_left();
        }
    }

    #[test]
    fn archive_without_a_manifest_says_what_it_found() {
        let env = Env::new();
        let src = env.root().join("src");
        make_sdk(&src, MANIFEST);
        fs::remove_file(src.join(MANIFEST_FILE)).unwrap();
        let archive = env.root().join("sdk.tar.gz");
        tar_gz_of(&src, ".", &archive);
        let err = format!("{:#}", env.install(&archive, None).unwrap_err());
        assert!(
            err.contains("no webrtc-sdk.toml") && err.contains("include, lib"),
            "{err}"
        );
    }

    /// A raw tar with one entry named `name` (tar::Builder refuses `..`, so write the header
    /// by hand, as a malicious archive would).
    fn raw_tar(name: &str, kind: tar::EntryType, link: Option<&str>) -> Vec<u8> {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_mode(0o644);
        let body = b"pwned";
        header.set_size(if kind.is_file() { body.len() as u64 } else { 0 });
        header.set_cksum();
        let mut out = header.as_bytes().to_vec();
        if kind.is_file() {
            out.extend_from_slice(body);
            out.resize(1024, 0);
        }
        out.extend_from_slice(&[0; 1024]);
        out
    }

    #[test]
    fn traversal_entries_are_rejected() {
        let env = Env::new();
        let cases = [
            ("../evil", tar::EntryType::Regular, None),
            ("sdk/../../evil", tar::EntryType::Regular, None),
            ("/tmp/evil", tar::EntryType::Regular, None),
            ("sdk/link", tar::EntryType::Symlink, Some("../../etc")),
            ("sdk/abs", tar::EntryType::Symlink, Some("/etc/passwd")),
            ("sdk/hard", tar::EntryType::Link, Some("../x")),
        ];
        for (i, (name, kind, link)) in cases.into_iter().enumerate() {
            let archive = env.root().join(format!("evil{i}.tar"));
            fs::write(&archive, raw_tar(name, kind, link)).unwrap();
            let err = format!("{:#}", env.install(&archive, None).unwrap_err());
            assert!(err.contains("refusing archive entry"), "{name}: {err}");
            assert!(!env.root().join("evil").exists());
            env.assert_no_staging_left();
        }
        // zip: the same through the zip reader.
        let archive = env.root().join("evil.zip");
        let mut z = zip::ZipWriter::new(File::create(&archive).unwrap());
        z.start_file("../evil", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"pwned").unwrap();
        z.finish().unwrap();
        let err = format!("{:#}", env.install(&archive, None).unwrap_err());
        assert!(err.contains("refusing archive entry `../evil`"), "{err}");
        assert!(!env.root().join("evil").exists());
    }

    #[test]
    fn links_inside_the_sdk_are_fine() {
        check_link(Path::new("lib/libwebrtc.so"), Path::new("libwebrtc.so.1")).unwrap();
        check_link(Path::new("include/a/b.h"), Path::new("../c.h")).unwrap();
        assert!(check_link(Path::new("a.h"), Path::new("../a.h")).is_err());
    }

    #[test]
    fn triple_mismatch_and_dry_run() {
        let env = Env::new();
        let src = env.root().join("src");
        make_sdk(&src, MANIFEST);
        let mut req = Request {
            path: &src,
            sha256: None,
            out: None,
            triple: Some("x86_64-unknown-linux-gnu"),
            dry_run: false,
        };
        let err = format!("{:#}", run(&req, env.root()).unwrap_err());
        assert!(err.contains("is an SDK for aarch64-linux-android"), "{err}");
        req.triple = Some(TRIPLE);
        req.dry_run = true;
        run(&req, env.root()).unwrap();
        assert!(!env.dest().exists());
        env.assert_no_staging_left();
    }

    #[test]
    fn unsupported_archive_formats_say_what_to_do() {
        let env = Env::new();
        let p = env.root().join("sdk.tar.zst");
        fs::write(&p, b"").unwrap();
        let err = format!("{:#}", env.install(&p, None).unwrap_err());
        assert!(err.contains(".tar.gz") && err.contains("repack"), "{err}");
        let err = format!(
            "{:#}",
            env.install(&env.root().join("nope.zip"), None).unwrap_err()
        );
        assert!(err.contains("no such file"), "{err}");
    }
}
