//! `cargo xtask dist` → a release asset URL → `cargo xtask sdk --provider prebuilt --url`.
//!
//! The HTTP server is a std `TcpListener` thread standing in for GitHub's release assets:
//! `/o/r/releases/download/<tag>/<file>` answers 302 to `/assets/<file>` (as GitHub
//! redirects to its object store), which serves the bytes with a Content-Length; HEAD works
//! the same; anything else is 404. The client is the real curl the xtask runs.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TRIPLE: &str = "x86_64-unknown-linux-gnu";

const MANIFEST: &str = r#"schema = 1
provider = "source"

[webrtc]
revision = "1f975dfd761af6e5d76d28333191973b258d82a8"
milestone = 150

[target]
triple = "x86_64-unknown-linux-gnu"

[compile]
include_dirs = ["include"]
defines = ["WEBRTC_POSIX", "WEBRTC_LINUX", "NDEBUG"]
cxx_std = "c++20"

[cxx_stdlib]
kind = "libstdcxx"
namespace = "std::__cxx11"
link = ["dylib=stdc++"]

[link]
search_paths = ["lib"]
static_libs = ["webrtc"]
system_libs = ["dl"]
"#;

/// Serve `dir`'s files as GitHub serves release assets; returns the base URL.
fn serve(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // Drain the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut parts = request.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let name = path.rsplit('/').next().unwrap_or("").to_owned();
            let file = dir.join(&name);
            let head = method == "HEAD";
            let _ = if path.contains("/releases/download/") && file.is_file() {
                write!(
                    conn,
                    "HTTP/1.1 302 Found\r\nLocation: /assets/{name}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            } else if path.starts_with("/assets/") && file.is_file() {
                let body = fs::read(&file).unwrap();
                write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .and_then(|_| if head { Ok(()) } else { conn.write_all(&body) })
            } else {
                write!(
                    conn,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            };
        }
    });
    base
}

fn xtask(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(cwd)
        .env("MOBILERTC_PROGRESS", "1")
        .env_remove("MOBILERTC_SDK_ROOT")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".webrtc-sdk-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn dist_then_install_from_a_release_url() {
    if which_curl().is_none() {
        panic!("curl is needed (`cargo xtask test` installs it: apt-get install curl)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let here = tmp.path().canonicalize().unwrap();
    let sdk = here.join("sdk").join(TRIPLE);
    fs::create_dir_all(sdk.join("include/api")).unwrap();
    fs::create_dir_all(sdk.join("lib")).unwrap();
    fs::write(sdk.join("webrtc-sdk.toml"), MANIFEST).unwrap();
    fs::write(sdk.join("include/api/peer.h"), "// peer\n").unwrap();
    fs::write(sdk.join("lib/libwebrtc.a"), vec![1u8; 200_000]).unwrap();
    fs::write(sdk.join("LICENSES.md"), "# Licences\n").unwrap();

    let out = xtask(
        &[
            "dist",
            "--target",
            "linux",
            "--sdk-root",
            "sdk",
            "--out",
            "release",
        ],
        &here,
    );
    assert!(out.status.success(), "{}", text(&out));
    let name = format!("webrtc-sdk-{TRIPLE}.tar.gz");
    let sha_line = fs::read_to_string(here.join("release").join(format!("{name}.sha256"))).unwrap();
    let sha = sha_line.split_whitespace().next().unwrap().to_owned();
    assert_eq!(sha_line, format!("{sha}  {name}\n"));

    let base = serve(here.join("release"));
    let url = format!("{base}/o/r/releases/download/m150/{name}");
    let dest = here.join("installed").join(TRIPLE);
    let dest_s = dest.display().to_string();

    // --dry-run shows the commands and downloads nothing.
    let out = xtask(
        &[
            "sdk",
            "--provider",
            "prebuilt",
            "--url",
            &url,
            "--sha256",
            &sha,
            "--out",
            &dest_s,
            "--dry-run",
        ],
        &here,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("--retry 3 --output"), "{}", text(&out));
    assert!(!dest.exists());

    // A wrong checksum: a clear error naming the URL, nothing installed, nothing left over.
    let wrong = "0".repeat(64);
    let out = xtask(
        &[
            "sdk",
            "--provider",
            "prebuilt",
            "--url",
            &url,
            "--sha256",
            &wrong,
            "--out",
            &dest_s,
        ],
        &here,
    );
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("checksum mismatch") && t.contains(&url) && t.contains(&sha),
        "{t}"
    );
    assert!(t.contains("nothing was installed"), "{t}");
    assert!(!dest.exists(), "{t}");
    assert_eq!(leftovers(&here.join("installed")), Vec::<String>::new());

    // The right one installs it.
    let out = xtask(
        &[
            "sdk",
            "--provider",
            "prebuilt",
            "--url",
            &url,
            "--sha256",
            &sha,
            "--out",
            &dest_s,
        ],
        &here,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        fs::read(dest.join("lib/libwebrtc.a")).unwrap(),
        fs::read(sdk.join("lib/libwebrtc.a")).unwrap()
    );
    assert!(dest.join("dist-manifest.toml").is_file());
    assert_eq!(leftovers(&here.join("installed")), Vec::<String>::new());

    // A wrong checksum again keeps the SDK that is there.
    let out = xtask(
        &[
            "sdk",
            "--provider",
            "prebuilt",
            "--url",
            &url,
            "--sha256",
            &wrong,
            "--out",
            &dest_s,
        ],
        &here,
    );
    assert!(!out.status.success());
    assert!(dest.join("lib/libwebrtc.a").is_file());

    // A missing asset is curl's error, with the URL.
    let missing = format!("{base}/o/r/releases/download/m150/nope.tar.gz");
    let out = xtask(
        &[
            "sdk",
            "--provider",
            "prebuilt",
            "--url",
            &missing,
            "--sha256",
            &sha,
            "--out",
            &dest_s,
        ],
        &here,
    );
    let t = text(&out);
    assert!(
        !out.status.success() && t.contains("downloading") && t.contains("404"),
        "{t}"
    );
    assert_eq!(leftovers(&here.join("installed")), Vec::<String>::new());

    // No checksum: refused before any download.
    let out = xtask(&["sdk", "--provider", "prebuilt", "--url", &url], &here);
    assert!(
        text(&out).contains("--url needs --sha256"),
        "{}",
        text(&out)
    );
}

fn which_curl() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("curl"))
            .find(|c| c.is_file())
    })
}
