//! End-to-end tests of `cargo xtask install` against tests/fixtures/adb/adb, a stand-in for
//! platform-tools' adb (see its header), and APKs built here: real shared objects from the
//! distro C compiler (`cc -shared -Wl,-z,max-page-size=…`) in zips written with the `zip`
//! crate or aligned by Debian's real `zipalign -p` (4 KiB pages: what the 16 KB rule rejects).
//! Every run gets its own environment; nothing touches a real device.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A real x86_64 shared object linked for `max_page`-byte pages.
fn shared_object(dir: &Path, max_page: u32) -> Vec<u8> {
    let src = dir.join("lib.c");
    fs::write(&src, "int mobilertc_answer(void) { return 42; }\n").unwrap();
    let out = dir.join(format!("lib{max_page}.so"));
    let st = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .arg(format!("-Wl,-z,max-page-size={max_page}"))
        .status()
        .expect("cc (the distro C compiler) runs");
    assert!(st.success());
    fs::read(out).unwrap()
}

/// An APK-shaped zip: a deflated manifest, then `lib/x86_64/libmobilertc_app.so` stored
/// with the given zip alignment (1: none).
fn apk(dir: &Path, so: &[u8], align: u16) -> PathBuf {
    let path = dir.join(format!("app-{align}.apk"));
    let mut z = zip::ZipWriter::new(fs::File::create(&path).unwrap());
    z.start_file(
        "AndroidManifest.xml",
        SimpleFileOptions::default().compression_method(CompressionMethod::Deflated),
    )
    .unwrap();
    z.write_all(b"<manifest package='dev.mobilertc.app'/>")
        .unwrap();
    z.start_file(
        "lib/x86_64/libmobilertc_app.so",
        SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .with_alignment(align),
    )
    .unwrap();
    z.write_all(so).unwrap();
    z.finish().unwrap();
    path
}

fn so_offset(apk: &Path) -> u64 {
    let mut z = zip::ZipArchive::new(fs::File::open(apk).unwrap()).unwrap();
    let e = z.by_name("lib/x86_64/libmobilertc_app.so").unwrap();
    e.data_start()
}

const ONE: &str = "emulator-5554          device product:sdk_gphone64_x86_64 model:sdk_gphone64_x86_64 device:emu64xa transport_id:1";
const PHONE: &str =
    "R58M123ABC             device usb:1-1 product:a52q model:SM_A525F device:a52q transport_id:2";
const UNAUTH: &str = "R58M123ABC             unauthorized usb:1-1 transport_id:2";
const OFFLINE: &str = "emulator-5556          offline transport_id:3";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn good_apk(&self) -> PathBuf {
        apk(self.path(), &shared_object(self.path(), 16384), 16384)
    }
    fn install(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.arg("install")
            .args(args)
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", fixtures().join("adb").display()),
            )
            .env("HOME", self.path())
            .env("MOBILERTC_PROGRESS", "0")
            .env("FAKE_ADB_LOG", self.path().join("adb.log"))
            .env("FAKE_ADB_STATE", self.path().join("device"));
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
    /// adb's argv, one line per call, without the leading `-s SERIAL`.
    fn adb_calls(&self) -> Vec<String> {
        let text = fs::read_to_string(self.path().join("adb.log")).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: Vec<String> = l
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(", ")
                    .map(|s| s.trim_matches('"').to_owned())
                    .collect();
                v.join(" ")
            })
            .collect()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn installs_grants_and_starts_on_the_only_device() {
    let e = Env::new();
    let apk = e.good_apk();
    let o = e.install(
        &["--apk", apk.to_str().unwrap()],
        &[("FAKE_ADB_DEVICES", ONE)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let a = apk.display();
    assert_eq!(
        e.adb_calls(),
        [
            "devices -l".to_owned(),
            "-s emulator-5554 shell getprop ro.product.cpu.abilist".to_owned(),
            format!("-s emulator-5554 install -r {a}"),
            "-s emulator-5554 shell pm grant dev.mobilertc.app android.permission.RECORD_AUDIO"
                .to_owned(),
            "-s emulator-5554 shell pm grant dev.mobilertc.app android.permission.CAMERA"
                .to_owned(),
            "-s emulator-5554 shell am start -n dev.mobilertc.app/.CallActivity".to_owned(),
        ]
    );
    let err = stderr(&o);
    assert!(
        err.contains("emulator-5554 [device] (sdk_gphone64_x86_64)"),
        "{err}"
    );
    assert!(
        err.contains("installed") && err.contains("started"),
        "{err}"
    );
}

#[test]
fn release_installs_grant_nothing_and_no_start_skips_am() {
    let e = Env::new();
    let apk = e.good_apk();
    let o = e.install(
        &["--apk", apk.to_str().unwrap(), "--release", "--no-start"],
        &[("FAKE_ADB_DEVICES", ONE)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let calls = e.adb_calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls[2].contains("install -r"), "{calls:?}");
}

#[test]
fn device_selection_errors() {
    let e = Env::new();
    let apk = e.good_apk();
    let apk = apk.to_str().unwrap();

    let o = e.install(&["--apk", apk], &[("FAKE_ADB_DEVICES", "")]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no Android device connected"),
        "{}",
        stderr(&o)
    );

    let two = format!("{ONE}\n{PHONE}");
    let o = e.install(&["--apk", apk], &[("FAKE_ADB_DEVICES", &two)]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("2 devices connected") && err.contains("R58M123ABC [device] (SM_A525F)"),
        "{err}"
    );
    assert!(err.contains("--device SERIAL or ANDROID_SERIAL"), "{err}");

    let o = e.install(
        &["--apk", apk],
        &[("FAKE_ADB_DEVICES", &two), ("ANDROID_SERIAL", "R58M123ABC")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(e
        .adb_calls()
        .iter()
        .any(|c| c.starts_with("-s R58M123ABC install -r")));

    let both = format!("{ONE}\n{UNAUTH}\n{OFFLINE}");
    let o = e.install(
        &["--apk", apk, "--device", "R58M123ABC"],
        &[("FAKE_ADB_DEVICES", &both)],
    );
    assert!(
        stderr(&o).contains("device R58M123ABC is unauthorized"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("Allow USB debugging"), "{}", stderr(&o));
    let o = e.install(
        &["--apk", apk, "--device", "emulator-5556"],
        &[("FAKE_ADB_DEVICES", &both)],
    );
    assert!(
        stderr(&o).contains("device emulator-5556 is offline"),
        "{}",
        stderr(&o)
    );
    let o = e.install(
        &["--apk", apk, "--device", "nope"],
        &[("FAKE_ADB_DEVICES", &both), ("ANDROID_SERIAL", "ignored")],
    );
    assert!(
        stderr(&o).contains("device nope (from --device) is not connected"),
        "{}",
        stderr(&o)
    );
    let o = e.install(&["--apk", apk], &[("FAKE_ADB_DEVICES", UNAUTH)]);
    assert!(stderr(&o).contains("unauthorized"), "{}", stderr(&o));
    // None of these got past `adb devices -l` except the ANDROID_SERIAL run.
    let installs = e
        .adb_calls()
        .iter()
        .filter(|c| c.contains(" install "))
        .count();
    assert_eq!(installs, 1);
}

#[test]
fn install_failure_names_the_code_and_stops() {
    let e = Env::new();
    let apk = e.good_apk();
    let o = e.install(
        &["--apk", apk.to_str().unwrap()],
        &[
            ("FAKE_ADB_DEVICES", ONE),
            ("FAKE_ADB_INSTALL", "INSTALL_FAILED_UPDATE_INCOMPATIBLE"),
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("`adb install` failed: INSTALL_FAILED_UPDATE_INCOMPATIBLE"),
        "{err}"
    );
    assert!(err.contains("adb uninstall dev.mobilertc.app"), "{err}");
    assert!(!e.adb_calls().iter().any(|c| c.contains("pm grant")));
}

#[test]
fn a_4k_library_is_refused_before_the_device_is_touched() {
    let e = Env::new();
    let apk = apk(e.path(), &shared_object(e.path(), 4096), 16384);
    let o = e.install(
        &["--apk", apk.to_str().unwrap()],
        &[("FAKE_ADB_DEVICES", ONE)],
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("LOAD segments aligned to 4096 bytes, needs 16384"),
        "{err}"
    );
    assert_eq!(e.adb_calls(), ["devices -l"]);
}

/// Debian's zipalign predates `-P 16`: its `-p` aligns stored .so files to 4 KiB pages,
/// which is exactly what the 16 KB rule rejects.
#[test]
fn a_zip_aligned_by_real_zipalign_p_to_4k_is_refused() {
    let Ok(zipalign) = which::which("zipalign") else {
        eprintln!("SKIPPED: no zipalign on PATH (Debian package `zipalign`)");
        return;
    };
    let e = Env::new();
    let unaligned = apk(e.path(), &shared_object(e.path(), 16384), 1);
    let aligned = e.path().join("zipaligned.apk");
    let st = Command::new(zipalign)
        .args(["-p", "-f", "4"])
        .arg(&unaligned)
        .arg(&aligned)
        .status()
        .unwrap();
    assert!(st.success());
    let off = so_offset(&aligned);
    assert!(
        // 4 KiB- but not 16 KiB-aligned: 12 or 13 trailing zero bits.
        (12..14).contains(&off.trailing_zeros()),
        "zipalign -p put the .so at {off}"
    );
    let o = e.install(
        &["--apk", aligned.to_str().unwrap()],
        &[("FAKE_ADB_DEVICES", ONE)],
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains(&format!("stored at offset {off}, not a multiple of 16384")),
        "{err}"
    );
}

#[test]
fn an_apk_without_the_device_abi_is_refused() {
    let e = Env::new();
    let apk = e.good_apk();
    let o = e.install(
        &["--apk", apk.to_str().unwrap()],
        &[
            ("FAKE_ADB_DEVICES", PHONE),
            ("FAKE_ADB_ABILIST", "arm64-v8a,armeabi-v7a,armeabi"),
        ],
    );
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains(
            "libraries for x86_64 but device R58M123ABC runs arm64-v8a, armeabi-v7a, armeabi"
        ),
        "{err}"
    );
    assert!(!e.adb_calls().iter().any(|c| c.contains(" install ")));
}

#[test]
fn missing_apk_and_missing_adb() {
    let e = Env::new();
    let o = e.install(
        &["--apk", e.path().join("none.apk").to_str().unwrap()],
        &[("FAKE_ADB_DEVICES", ONE)],
    );
    assert!(
        stderr(&o).contains("cargo xtask build --target android"),
        "{}",
        stderr(&o)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("install")
        .env_clear()
        .env("PATH", e.path())
        .env("HOME", e.path())
        .output()
        .unwrap();
    assert!(stderr(&o).contains("no adb"), "{}", stderr(&o));
}

#[test]
fn dry_run_prints_the_commands_and_runs_nothing() {
    let e = Env::new();
    let o = e.install(
        &["--dry-run", "--device", "S1", "--apk", "/x/app-debug.apk"],
        &[("FAKE_ADB_DEVICES", ONE)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("adb devices -l"), "{out}");
    assert!(
        out.contains("adb -s S1 install -r /x/app-debug.apk"),
        "{out}"
    );
    assert!(
        out.contains("am start -n dev.mobilertc.app/.CallActivity"),
        "{out}"
    );
    assert!(e.adb_calls().is_empty());
}
