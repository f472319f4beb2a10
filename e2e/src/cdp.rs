//! A minimal, blocking Chrome DevTools Protocol client: one WebSocket to the browser,
//! "flat" sessions per tab, request/response matched by id, console output and uncaught
//! exceptions collected per tab for failure messages.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::TcpStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

/// Longest a single DevTools call may take before the browser counts as hung.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How many console lines a tab keeps (the newest).
const CONSOLE_KEEP: usize = 400;

struct Inner {
    ws: WebSocket<TcpStream>,
    next_id: u64,
    /// Console lines and exceptions per session id.
    console: HashMap<String, Vec<String>>,
}

/// The connection to one browser, shared by its tabs.
#[derive(Clone)]
pub(crate) struct Connection(Rc<RefCell<Inner>>);

impl Connection {
    pub(crate) fn connect(ws_url: &str) -> Result<Connection> {
        let addr = ws_url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| anyhow!("not a ws:// URL: {ws_url}"))?;
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream
            .set_read_timeout(Some(CALL_TIMEOUT))
            .context("setting the DevTools socket's read timeout")?;
        let (ws, _) = tungstenite::client(ws_url, stream)
            .map_err(|e| anyhow!("WebSocket handshake with {ws_url}: {e}"))?;
        Ok(Connection(Rc::new(RefCell::new(Inner {
            ws,
            next_id: 0,
            console: HashMap::new(),
        }))))
    }

    /// Sends one command (to a tab's session, or to the browser) and waits for its answer,
    /// recording the events that arrive meanwhile.
    pub(crate) fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value> {
        let mut inner = self.0.borrow_mut();
        inner.next_id += 1;
        let id = inner.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        inner
            .ws
            .send(Message::text(msg.to_string()))
            .with_context(|| format!("sending {method} to Chromium"))?;
        let started = Instant::now();
        loop {
            let frame = inner.ws.read().with_context(|| {
                format!(
                    "waiting for Chromium's answer to {method} ({:.1?} so far)",
                    started.elapsed()
                )
            })?;
            let text = match frame {
                Message::Text(t) => t.to_string(),
                Message::Close(c) => bail!("Chromium closed the DevTools connection: {c:?}"),
                _ => continue,
            };
            let v: Value = serde_json::from_str(&text)
                .with_context(|| format!("Chromium sent invalid JSON: {text:.200}"))?;
            if v.get("id").and_then(Value::as_u64) == Some(id) {
                if let Some(err) = v.get("error") {
                    bail!("{method} failed: {err}");
                }
                return Ok(v.get("result").cloned().unwrap_or(Value::Null));
            }
            inner.record_event(&v);
        }
    }

    fn console(&self, session: &str) -> Vec<String> {
        self.0
            .borrow()
            .console
            .get(session)
            .cloned()
            .unwrap_or_default()
    }
}

impl Inner {
    fn record_event(&mut self, v: &Value) {
        let (Some(method), Some(session)) = (
            v.get("method").and_then(Value::as_str),
            v.get("sessionId").and_then(Value::as_str),
        ) else {
            return;
        };
        let p = &v["params"];
        let line = match method {
            "Runtime.consoleAPICalled" => {
                let args: Vec<String> = p["args"]
                    .as_array()
                    .map(|a| a.iter().map(remote_object_text).collect())
                    .unwrap_or_default();
                format!(
                    "console.{}: {}",
                    p["type"].as_str().unwrap_or("log"),
                    args.join(" ")
                )
            }
            "Runtime.exceptionThrown" => {
                let d = &p["exceptionDetails"];
                let desc = d["exception"]["description"]
                    .as_str()
                    .or(d["text"].as_str())
                    .unwrap_or("?");
                format!("uncaught exception: {desc}")
            }
            "Inspector.targetCrashed" => "the tab crashed".to_string(),
            _ => return,
        };
        let lines = self.console.entry(session.to_string()).or_default();
        if lines.len() >= CONSOLE_KEEP {
            lines.remove(0);
        }
        lines.push(line);
    }
}

fn remote_object_text(o: &Value) -> String {
    match o.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => o["description"].as_str().unwrap_or("?").to_string(),
    }
}

/// One tab.
pub struct Page {
    conn: Connection,
    session: String,
}

impl Page {
    pub(crate) fn open(conn: &Connection, url: &str) -> Result<Page> {
        let target = conn.call(None, "Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"]
            .as_str()
            .ok_or_else(|| anyhow!("Target.createTarget returned no targetId: {target}"))?;
        let attached = conn.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("Target.attachToTarget returned no sessionId: {attached}"))?
            .to_string();
        let page = Page {
            conn: conn.clone(),
            session,
        };
        // Console and exceptions from the first line of the page on.
        page.call("Runtime.enable", json!({}))?;
        page.call("Page.enable", json!({}))?;
        let nav = page.call("Page.navigate", json!({"url": url}))?;
        if let Some(err) = nav.get("errorText").and_then(Value::as_str) {
            bail!("loading {url}: {err}");
        }
        page.wait_until(
            "document.readyState === 'complete' && location.href !== 'about:blank'",
            Duration::from_secs(20),
        )
        .with_context(|| format!("loading {url}"))?;
        Ok(page)
    }

    fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.conn.call(Some(&self.session), method, params)
    }

    /// Evaluates `expr` in the page (awaiting it if it is a promise) and returns its value
    /// as JSON; `undefined` is `null`. A thrown exception is an error with its message.
    pub fn eval_value(&self, expr: &str) -> Result<Value> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
        )?;
        if let Some(d) = r.get("exceptionDetails") {
            let desc = d["exception"]["description"]
                .as_str()
                .or(d["text"].as_str())
                .unwrap_or("?");
            bail!("`{expr}` threw: {desc}");
        }
        Ok(r["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    /// [`Page::eval_value`], deserialized.
    pub fn eval<T: DeserializeOwned>(&self, expr: &str) -> Result<T> {
        let v = self.eval_value(expr)?;
        serde_json::from_value(v.clone())
            .with_context(|| format!("`{expr}` returned an unexpected value: {v}"))
    }

    /// Polls `expr` every 200 ms until it is truthy and returns its value. On timeout
    /// the error carries the page's test-hook log and console.
    pub fn wait_until(&self, expr: &str, timeout: Duration) -> Result<Value> {
        let started = Instant::now();
        loop {
            let v = self.eval_value(expr)?;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(v);
            }
            if started.elapsed() > timeout {
                bail!(
                    "`{expr}` still false after {timeout:?}\n{}",
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The page's console lines and uncaught exceptions so far (the newest 400).
    pub fn console(&self) -> Vec<String> {
        self.conn.console(&self.session)
    }

    /// The test hook's state and log plus the console tail, for failure messages.
    pub fn diagnostics(&self) -> String {
        let hook = self
            .eval_value(
                "window.mobilertc ? JSON.stringify({state: mobilertc.state, role: mobilertc.role, \
                 error: mobilertc.error, pc: mobilertc.connectionState, \
                 ice: mobilertc.iceConnectionState}) : 'no window.mobilertc'",
            )
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|e| format!("(evaluating the hook failed: {e:#})"));
        let console = self.console();
        let tail = &console[console.len().saturating_sub(60)..];
        format!("page: {hook}\npage console:\n  {}", tail.join("\n  "))
    }
}
