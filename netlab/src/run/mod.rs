//! One scenario end to end: network, signaling server, coturn, callee, caller; then the
//! checks on the two `--json` summaries and on coturn's log.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::coturn::{self, Usage};
use crate::lab::{tail_file, wait_for_text, Lab};
use crate::scenario::Scenario;
use crate::summary::{CandidateType, Summary};
use crate::topo::addr;

/// Where the two apps are.
#[derive(Debug, Clone)]
pub struct Apps {
    pub call: PathBuf,
    pub server: PathBuf,
}

/// The caller's tone, which the callee's recording must contain.
pub const TONE_HZ: u32 = 440;
/// How long the callee waits for the caller's offer.
pub const CALLEE_WAIT_SECS: u32 = 30;
/// The callee's tone (reported for the caller's side, not required).
pub const CALLEE_TONE_HZ: u32 = 660;
pub const SIGNALING_PORT: u16 = 8080;
/// Seconds of call after connecting: enough for the tone detector and the chats.
pub const CALL_SECS: u32 = 6;
/// The apps' connect timeout: ICE over a relay in a namespace takes well under 2 s.
pub const CONNECT_TIMEOUT_SECS: u32 = 10;
/// The bad-TURN case waits this long for a connection that cannot come.
pub const BAD_TURN_TIMEOUT_SECS: u32 = 6;

/// How one peer is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerArgs {
    pub argv: Vec<String>,
    pub json: PathBuf,
}

/// The chat line each side sends (the other must receive it).
pub fn chat_text(role: &str, s: Scenario) -> String {
    format!("hello from the {role} ({})", s.name())
}

/// The STUN server's address in scenario `s` (`stun-unreachable`: one nobody answers).
pub fn stun_ip(s: Scenario) -> Ipv4Addr {
    match s {
        Scenario::StunUnreachable => addr::LAN_NOBODY,
        _ => s.topology().node("server").addr(),
    }
}

/// The call app's arguments for one side of scenario `s`. Pure, so tests read it.
pub fn peer_args(s: Scenario, role: &str, call: &Path, room: &str, dir: &Path) -> PeerArgs {
    let server_ip = s.topology().node("server").addr();
    let stun_ip = stun_ip(s);
    let port = coturn::PORT;
    let json = dir.join(format!("{role}.json"));
    let mut a: Vec<String> = vec![
        call.display().to_string(),
        "--server".into(),
        format!("http://{server_ip}:{SIGNALING_PORT}"),
        "--room".into(),
        room.into(),
        "--stun".into(),
        format!("stun:{stun_ip}:{port}"),
        "--duration".into(),
        CALL_SECS.to_string(),
        "--connect-timeout".into(),
        match s {
            Scenario::BadTurn => BAD_TURN_TIMEOUT_SECS,
            _ => CONNECT_TIMEOUT_SECS,
        }
        .to_string(),
        "--chat".into(),
        chat_text(role, s),
        "--json".into(),
        json.display().to_string(),
        // stdin is /dev/null here: its EOF must not read as "hang up".
        "--no-stdin".into(),
    ];
    // relay: no --turn, the join answer brings the TURN server and a fresh credential.
    // bad-turn: a credential of the right form and HMAC whose expiry (2001) has passed.
    if s == Scenario::BadTurn {
        let (user, credential) = expired_credential(role);
        a.push("--turn".into());
        a.push(format!("turn:{server_ip}:{port},{user},{credential}"));
    }
    // Each side sends its own tone, so what the callee hears can only be the caller's.
    if role == "caller" {
        a.extend(["--tone-hz".into(), TONE_HZ.to_string()]);
        a.extend(["--expect-tone".into(), CALLEE_TONE_HZ.to_string()]);
    } else {
        a.extend(["--tone-hz".into(), CALLEE_TONE_HZ.to_string()]);
        a.extend(["--expect-tone".into(), TONE_HZ.to_string()]);
        // Not forever: if the caller never comes, the callee says so in its summary.
        a.extend(["--wait".into(), CALLEE_WAIT_SECS.to_string()]);
        let wav = dir.join("callee.wav");
        a.extend(["--record".into(), wav.display().to_string()]);
    }
    PeerArgs { argv: a, json }
}

/// A TURN REST credential for `peer` that expired on 2001-09-09, signed with the real secret.
pub fn expired_credential(peer: &str) -> (String, String) {
    let user = mobilertc_signaling::turn_username(1_000_000_000, peer);
    let credential = mobilertc_signaling::turn_credential(coturn::SECRET, &user);
    (user, credential)
}

/// The signaling server's arguments in scenario `s`: in `relay` it hands out TURN
/// credentials with the secret coturn holds (read from `secret_file`).
pub fn signaling_args(s: Scenario, server: &Path, secret_file: &Path) -> Vec<String> {
    let server_ip = s.topology().node("server").addr();
    let mut a = vec![
        server.display().to_string(),
        "--listen".into(),
        format!("{server_ip}:{SIGNALING_PORT}"),
    ];
    if s == Scenario::Relay {
        a.push("--turn".into());
        a.push(format!("turn:{server_ip}:{}?transport=udp", coturn::PORT));
        a.push("--turn-secret-file".into());
        a.push(secret_file.display().to_string());
    }
    a
}

/// What one scenario showed.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub passed: bool,
    pub problems: Vec<String>,
    pub caller: Option<Summary>,
    pub callee: Option<Summary>,
    pub coturn: Usage,
    pub seconds: f64,
    /// How long the caller and the callee ran (seconds; None: killed, it hung).
    pub app_seconds: [Option<f64>; 2],
    pub dir: PathBuf,
}

impl Report {
    /// `local             PASS  host/host  tone yes  chat 2/2  coturn alloc 0 relayed 0 B  9.1s`
    pub fn line(&self) -> String {
        let pair = |s: &Option<Summary>| match s.as_ref().and_then(|s| s.pair) {
            Some((l, r)) => format!("{l}/{r}"),
            None => "-".into(),
        };
        format!(
            "{:<17} {}  caller {}  callee {}  tone {}  coturn: {} allocations, {} B relayed, {} refused  {:.1}s  ({})",
            self.scenario,
            if self.passed { "PASS" } else { "FAIL" },
            pair(&self.caller),
            pair(&self.callee),
            match self.callee.as_ref().filter(|c| c.connected).map(|c| (c.tone_detected, c.tone_ratio)) {
                Some((Some(true), r)) => format!("heard ({:.2})", r.unwrap_or(0.0)),
                Some((Some(false), r)) => format!("not heard ({:.2})", r.unwrap_or(0.0)),
                _ => "-".into(),
            },
            self.coturn.allocations,
            self.coturn.peer_bytes,
            self.coturn.auth_failures,
            self.seconds,
            self.dir.display()
        )
    }
}

/// Everything `s` must show, as a list of what is wrong (empty: passed).
pub fn problems(s: Scenario, caller: &Summary, callee: &Summary, turn: &Usage) -> Vec<String> {
    let mut p = Vec::new();
    let peers = [("caller", caller), ("callee", callee)];
    if s == Scenario::BadTurn {
        for (role, sum) in peers {
            match (sum.connected, sum.pair) {
                (true, Some((l, r))) => p.push(format!(
                    "{role}: connected ({l}/{r}) although only TURN gets through and its credential has expired"
                )),
                // The app's own contract (docs/calling-app.md): "ok" = connected, then hung up.
                (true, None) => p.push(format!(
                    "{role}: the summary says result \"ok\" (hangup {:?}) for a call that never \
                     connected (no selected pair): a bye before connecting must end as failed",
                    sum.hangup.as_deref().unwrap_or("-")
                )),
                (false, _) => {}
            }
            match &sum.error {
                None => p.push(format!(
                    "{role}: failed without saying why (no error in the summary)"
                )),
                Some(e) if !mentions_turn_auth(e) => p.push(format!(
                    "{role}: the error does not point at the TURN credentials: {e:?}"
                )),
                Some(_) => {}
            }
        }
        if turn.auth_failures == 0 {
            p.push("coturn logged no refused credentials".into());
        }
        if turn.allocations > 0 {
            p.push(format!(
                "coturn allocated {} relays with an expired credential",
                turn.allocations
            ));
        }
        return p;
    }
    for (role, sum) in peers {
        if !sum.connected {
            p.push(format!(
                "{role}: not connected: {}",
                sum.error.as_deref().unwrap_or("no error given")
            ));
            continue;
        }
        let Some((l, r)) = sum.pair else {
            p.push(format!(
                "{role}: connected but no selected candidate pair in the summary"
            ));
            continue;
        };
        let ok = match s {
            // No NAT: both ends are host addresses. The remote one may be learnt from an
            // incoming check before its candidate arrives through signaling (peer-reflexive,
            // the same address): seen on a loaded machine, and still a direct local path.
            Scenario::Local | Scenario::StunUnreachable => {
                l == CandidateType::Host && (r == CandidateType::Host || r == CandidateType::Prflx)
            }
            // Through stable NATs one side at least is the STUN address; the other may show up
            // as peer-reflexive (learnt from the checks): never host/host, never relay.
            Scenario::Srflx => {
                (l == CandidateType::Srflx || r == CandidateType::Srflx)
                    && l != CandidateType::Relay
                    && r != CandidateType::Relay
            }
            Scenario::Relay => l == CandidateType::Relay || r == CandidateType::Relay,
            Scenario::BadTurn => unreachable!("handled above"),
        };
        if !ok {
            p.push(format!(
                "{role}: selected pair {l}/{r} is not what {} must show",
                s.name()
            ));
        }
    }
    let other = |role: &str| if role == "caller" { "callee" } else { "caller" };
    for (role, sum) in peers {
        let want = chat_text(other(role), s);
        if !sum.chat_received.contains(&want) {
            p.push(format!(
                "{role}: did not receive {want:?} (got {:?})",
                sum.chat_received
            ));
        }
    }
    if callee.tone_detected != Some(true) {
        p.push(format!(
            "callee: the {TONE_HZ} Hz tone was not detected in its recording ({:?})",
            callee.tone_detected
        ));
    }
    // A tone found in the last second is not enough: the audio must have flowed for the
    // whole call (a relay that lost 96% of it after 150 ms once passed the tone check).
    if callee.raw != Value::Null && caller.raw != Value::Null {
        for problem in crate::media_flow::audio_problems(&callee.raw, &caller.raw) {
            p.push(format!("callee: {problem}"));
        }
    }
    match s {
        Scenario::Relay => {
            if turn.allocations == 0 {
                p.push("coturn logged no allocation".into());
            }
            if turn.peer_bytes == 0 {
                p.push("coturn logged no relayed bytes (peer usage)".into());
            }
        }
        _ if turn.allocations > 0 => p.push(format!(
            "coturn allocated {} relays, none was asked for",
            turn.allocations
        )),
        _ => {}
    }
    p
}

/// `argv` as one line a shell reads back as the same words (for commands.txt).
fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn mentions_turn_auth(e: &str) -> bool {
    let e = e.to_ascii_lowercase();
    e.contains("turn")
        && (e.contains("401")
            || e.contains("credential")
            || e.contains("unauthori")
            || e.contains("password"))
}

/// Run scenario `s` with its files in `dir`. `keep`: leave the network up afterwards.
pub fn run(s: Scenario, apps: &Apps, dir: &Path, keep: bool) -> Result<Report> {
    let started = Instant::now();
    let topo = s.topology();
    let server_ip = topo.node("server").addr();
    let mut lab =
        Lab::build(topo, dir).with_context(|| format!("building the {} network", s.name()))?;
    if keep {
        lab.keep();
    }
    let secret_file = dir.join("turn-secret");
    fs::write(&secret_file, format!("{}\n", coturn::SECRET)).context("writing turn-secret")?;
    let sig = lab.spawn(
        "server",
        "signaling",
        &signaling_args(s, &apps.server, &secret_file),
    )?;
    let turn = lab.spawn(
        "server",
        "turnserver",
        &coturn::argv(server_ip, dir, coturn::Auth::Secret),
    )?;
    let log = dir.join("turnserver.log");
    if !wait_for_text(
        &lab.proc(sig).stdout.clone(),
        "listening on",
        Duration::from_secs(10),
    )? {
        bail!(
            "the signaling server did not start:\n{}",
            lab.proc(sig).tail(20)
        );
    }
    if !wait_for_text(&log, "turn server id=0 created", Duration::from_secs(10))? {
        bail!("coturn did not start:\n{}", lab.proc(turn).tail(20));
    }
    let room = format!("netlab-{}-{}", std::process::id(), s.name());
    let callee_args = peer_args(s, "callee", &apps.call, &room, dir);
    let caller_args = peer_args(s, "caller", &apps.call, &room, dir);
    fs::write(
        dir.join("commands.txt"),
        format!(
            "callee (in {}):\n  {}\ncaller (in {}):\n  {}\n",
            lab.ns("callee"),
            shell_line(&callee_args.argv),
            lab.ns("caller"),
            shell_line(&caller_args.argv)
        ),
    )
    .context("writing commands.txt")?;
    // The first peer in the room waits as callee (docs/signaling.md): start it first and
    // let it join before the caller looks at the room. The server's log line says when;
    // it is a log, not a contract, so without it a fixed wait has to do.
    let callee = lab.spawn("callee", "callee", &callee_args.argv)?;
    let callee_started = Instant::now();
    let joined = format!("join room={room} ");
    let sig_log = lab.proc(sig).stderr.clone();
    if !wait_for_text(&sig_log, &joined, Duration::from_secs(10))? {
        std::thread::sleep(Duration::from_millis(1500));
    }
    let caller = lab.spawn("caller", "caller", &caller_args.argv)?;
    let caller_started = Instant::now();
    let connect_timeout = match s {
        Scenario::BadTurn => BAD_TURN_TIMEOUT_SECS,
        _ => CONNECT_TIMEOUT_SECS,
    };
    let limit = Duration::from_secs((connect_timeout + CALL_SECS + 20).into());
    let mut problems_seen = Vec::new();
    // How long each app ran, from its own start (None: killed after `limit`).
    let mut ran: [Option<Duration>; 2] = [None, None];
    let procs = [(caller, caller_started), (callee, callee_started)];
    while ran.iter().any(Option::is_none) && caller_started.elapsed() < limit {
        for (k, (i, t0)) in procs.iter().enumerate() {
            if ran[k].is_none() && lab.proc(*i).try_wait()?.is_some() {
                ran[k] = Some(t0.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (k, role) in ["caller", "callee"].into_iter().enumerate() {
        match ran[k] {
            None => problems_seen.push(format!("{role}: still running after {limit:?}: it hangs")),
            // A failing call must end at its connect timeout, not linger.
            Some(d) if s == Scenario::BadTurn && d.as_secs() > (connect_timeout + 10).into() => {
                problems_seen.push(format!(
                    "{role}: gave up after {d:.1?}, well past its {connect_timeout} s connect timeout"
                ))
            }
            Some(_) => {}
        }
    }
    // Closing their peer connections makes the apps release their TURN allocations, and
    // coturn writes a session's usage when it closes; wait for that before reading.
    if s == Scenario::Relay {
        wait_for_text(&log, ": peer usage: ", Duration::from_secs(5))?;
    }
    lab.stop_all(Duration::from_secs(2));
    let usage = coturn::parse_log(&fs::read_to_string(&log).unwrap_or_default());
    let read = |a: &PeerArgs, role: &str| -> Result<Summary> {
        let text = fs::read_to_string(&a.json).with_context(|| {
            format!(
                "{role} wrote no summary {}; its stderr:\n{}",
                a.json.display(),
                tail_file(&dir.join(format!("{role}.err")), 30)
            )
        })?;
        Summary::parse(&text).with_context(|| format!("reading {}", a.json.display()))
    };
    let caller_sum = read(&caller_args, "caller");
    let callee_sum = read(&callee_args, "callee");
    match (&caller_sum, &callee_sum) {
        (Ok(c), Ok(e)) => problems_seen.extend(problems(s, c, e, &usage)),
        _ => {
            for e in [&caller_sum, &callee_sum]
                .into_iter()
                .filter_map(|r| r.as_ref().err())
            {
                problems_seen.push(format!("{e:#}"));
            }
        }
    }
    drop(lab);
    Ok(Report {
        scenario: s.name(),
        passed: problems_seen.is_empty(),
        problems: problems_seen,
        caller: caller_sum.ok(),
        callee: callee_sum.ok(),
        coturn: usage,
        seconds: started.elapsed().as_secs_f64(),
        app_seconds: ran.map(|d| d.map(|d| d.as_secs_f64())),
        dir: dir.to_path_buf(),
    })
}

#[cfg(test)]
mod tests;
