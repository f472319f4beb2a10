//! A private desktop for the tests: an Xvfb display and a PulseAudio server, each started
//! by the test in its temporary directory and killed (by process id) when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set by `cargo xtask test --ci`: a missing tool fails instead of skipping.
pub const REQUIRE_ENV: &str = "MOBILERTC_REQUIRE_DESKTOP";

/// Whether every tool is on PATH; if not, skip (print why) or, under [`REQUIRE_ENV`], fail.
pub fn require(test: &str, tools: &[&str]) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "missing {} (Debian: xvfb pulseaudio pulseaudio-utils libasound2-plugins)",
        missing.join(", ")
    );
    if std::env::var_os(REQUIRE_ENV).is_some() {
        panic!("{test}: {why} ({REQUIRE_ENV} is set, so this is a failure)");
    }
    eprintln!("SKIPPED {test}: {why} (set {REQUIRE_ENV}=1 to make this a failure)");
    false
}

/// A child process killed on drop.
pub struct Proc(Option<Child>);

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An Xvfb server on a display number it picks itself (`-displayfd`).
pub struct Xvfb {
    display: String,
    _proc: Proc,
}

impl Xvfb {
    pub fn start(dir: &Path) -> Result<Xvfb, String> {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("xvfb.log")).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("starting Xvfb: {e}"))?;
        // Xvfb writes the display number once it accepts connections.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let n = line.trim();
        if n.is_empty() {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.join("xvfb.log")).unwrap_or_default();
            return Err(format!("Xvfb gave no display number; its log:\n{log}"));
        }
        Ok(Xvfb {
            display: format!(":{n}"),
            _proc: Proc(Some(child)),
        })
    }

    /// DISPLAY, and OpenGL in software (Mesa's llvmpipe) whatever the machine has.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DISPLAY".into(), self.display.clone()),
            ("LIBGL_ALWAYS_SOFTWARE".into(), "1".into()),
            ("WAYLAND_DISPLAY".into(), String::new()),
        ]
    }
}

/// A PulseAudio server with only a private socket, the given null sinks (48 kHz mono; each
/// sink's `<name>.monitor` is a source) and sine sources: virtual microphones into which a
/// tone is played, by the server itself (a client playing it would underrun on a busy
/// machine and put gaps into the "voice").
pub struct Pulse {
    socket: PathBuf,
    home: PathBuf,
    _proc: Proc,
}

impl Pulse {
    pub fn start(dir: &Path, sinks: &[&str], sines: &[(&str, u32)]) -> Result<Pulse, String> {
        let home = dir.join("pulse-home");
        let runtime = home.join("run");
        std::fs::create_dir_all(&runtime).map_err(|e| e.to_string())?;
        let socket = home.join("native");
        let mut cmd = Command::new("pulseaudio");
        // -n: no default.pa (no hardware, no session modules); no daemon, no idle exit.
        cmd.args([
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
        ])
        .args(["--disable-shm=yes", "--log-target=stderr", "-L"])
        .arg(format!(
            "module-native-protocol-unix socket={} auth-anonymous=1",
            socket.display()
        ));
        for s in sinks {
            cmd.arg("-L").arg(format!(
                "module-null-sink sink_name={s} rate=48000 channels=1 format=s16le"
            ));
        }
        for (name, hz) in sines {
            cmd.arg("-L").arg(format!(
                "module-sine-source source_name={name} rate=48000 frequency={hz}"
            ));
        }
        let child = cmd
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("PULSE_RUNTIME_PATH", &runtime)
            .env("PULSE_STATE_PATH", home.join("state"))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("pulse.log")).map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("starting pulseaudio: {e}"))?;
        let me = Pulse {
            socket,
            home,
            _proc: Proc(Some(child)),
        };
        // Ready when a client sees the last sink.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = me.cmd("pactl").args(["list", "short", "sinks"]).output();
            if let Ok(o) = &out {
                let text = String::from_utf8_lossy(&o.stdout);
                if sinks.iter().all(|s| text.contains(s)) {
                    return Ok(me);
                }
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.join("pulse.log")).unwrap_or_default();
                return Err(format!("PulseAudio not ready within 20 s; its log:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What a client of this server needs: its socket, and no other server's settings.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "PULSE_SERVER".into(),
                format!("unix:{}", self.socket.display()),
            ),
            ("HOME".into(), self.home.display().to_string()),
            (
                "XDG_RUNTIME_DIR".into(),
                self.home.join("run").display().to_string(),
            ),
        ]
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env())
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Records `source` as raw 48 kHz mono s16le into `to` until dropped.
    pub fn record(&self, source: &str, to: &Path) -> Proc {
        let child = self
            .cmd("pacat")
            .args([
                "--record",
                "--raw",
                "--format=s16le",
                "--rate=48000",
                "--channels=1",
            ])
            // Not the null sink's default 2 s blocks, not so short it overruns when busy.
            .arg("--latency-msec=100")
            .arg(format!("--device={source}"))
            .stdout(std::fs::File::create(to).unwrap())
            .spawn()
            .expect("pacat --record starts");
        Proc(Some(child))
    }
}

/// Share of strongly coloured pixels in a window screenshot's video area (left of the
/// 300-point chat pane, between the top bars and the controls): the test pattern is
/// saturated colour everywhere, the window's own widgets are grey.
pub fn colourful_share(png_path: &Path) -> f64 {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba, "the app writes RGBA");
    let (w, h) = (info.width as usize, info.height as usize);
    let x_end = w.saturating_sub(320);
    let (y0, y1) = (h / 6, h * 5 / 6);
    let mut colourful = 0usize;
    let mut total = 0usize;
    for y in y0..y1 {
        for x in 0..x_end {
            let p = &buf[(y * w + x) * 4..][..3];
            let (max, min) = (p.iter().max().unwrap(), p.iter().min().unwrap());
            colourful += usize::from(max - min > 40);
            total += 1;
        }
    }
    colourful as f64 / total.max(1) as f64
}

/// A `call` process, killed on drop; its stderr collected.
pub struct App {
    child: Option<Child>,
}

pub struct Output {
    pub status: std::process::ExitStatus,
    pub stderr: String,
}

impl App {
    pub fn start(args: &[String], env: &[(String, String)]) -> App {
        let child = Command::new(env!("CARGO_BIN_EXE_call"))
            .args(args)
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("call starts");
        App { child: Some(child) }
    }

    pub fn wait(mut self, timeout: Duration) -> Output {
        let mut child = self.child.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
            s
        });
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "call did not end within {timeout:?}; stderr:\n{}",
                    reader.join().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Output {
            status,
            stderr: reader.join().unwrap(),
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
