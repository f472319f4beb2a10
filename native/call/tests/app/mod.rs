//! A `call` process for the tests that run the app (two_peers, redis_failover): killed on
//! drop, waited for with a deadline, and its JSON summary read back.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct App(pub Option<Child>);

impl App {
    /// Starts `call` with `args`, stdin closed, stdout and stderr piped.
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> App {
        let child = Command::new(env!("CARGO_BIN_EXE_call"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("call starts");
        App(Some(child))
    }

    pub fn wait(mut self, timeout: Duration) -> Output {
        let mut child = self.0.take().unwrap();
        let deadline = Instant::now() + timeout;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "call did not end within {timeout:?}; stderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The summary `call --json` wrote, or a panic with the app's stderr.
pub fn summary(path: &Path, out: &Output) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; stderr:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(&text).unwrap()
}
