//! HTTPS: the protocol over rustls with a certificate made at start, a client that trusts
//! exactly that certificate, one that does not, and a long-poll woken over TLS.

mod common;

use mobilertc_signaling::{Server, Tls, TlsSource};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Stream = tokio_rustls::client::TlsStream<TcpStream>;

async fn start_tls() -> (std::net::SocketAddr, Tls, tokio::sync::oneshot::Sender<()>) {
    let tls = Tls::load(&TlsSource::SelfSigned {
        names: vec!["localhost".into(), "127.0.0.1".into()],
    })
    .unwrap();
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), common::config())
        .await
        .unwrap()
        .with_tls(tls.clone());
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    (addr, tls, stop)
}

fn client_config(trusted_pem: Option<&str>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = trusted_pem {
        roots
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

async fn connect(
    addr: std::net::SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<Stream> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
}

/// One request on `s`; the answer's status and body (Content-Length framed).
async fn request(
    s: &mut Stream,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "closed before a full answer: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if rest.len() >= len {
                let status = head[9..12].parse().unwrap();
                let v = if len == 0 {
                    serde_json::Value::Null
                } else {
                    serde_json::from_str(&rest[..len]).unwrap()
                };
                return (status, v);
            }
        }
    }
}

#[tokio::test]
async fn the_protocol_works_over_https_with_a_trusted_self_signed_certificate() {
    let (addr, tls, _stop) = start_tls().await;
    let trusted = client_config(Some(&tls.cert_pem));
    let mut a_conn = connect(addr, trusted.clone()).await.unwrap();
    let mut b_conn = connect(addr, trusted.clone()).await.unwrap();
    assert_eq!(
        request(&mut a_conn, "GET", "/healthz", None, "").await.0,
        200
    );
    let (_, a) = request(
        &mut a_conn,
        "POST",
        "/rooms/s/join",
        None,
        r#"{"name":"a"}"#,
    )
    .await;
    let (_, b) = request(
        &mut b_conn,
        "POST",
        "/rooms/s/join",
        None,
        r#"{"name":"b"}"#,
    )
    .await;
    let a_path = format!("/rooms/s/peers/{}/messages", a["peer_id"].as_str().unwrap());
    let b_path = format!("/rooms/s/peers/{}/messages", b["peer_id"].as_str().unwrap());
    let (a_tok, b_tok) = (
        a["token"].as_str().unwrap().to_string(),
        b["token"].as_str().unwrap().to_string(),
    );
    // a takes b's join notice, then waits over TLS; b's chat wakes it.
    let (_, m) = request(
        &mut a_conn,
        "GET",
        &format!("{a_path}?timeout_ms=0"),
        Some(&a_tok),
        "",
    )
    .await;
    assert_eq!(m["messages"][0]["type"], "join");
    let waiting = tokio::spawn(async move {
        request(
            &mut a_conn,
            "GET",
            &format!("{a_path}?after=1&timeout_ms=2000"),
            Some(&a_tok),
            "",
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, sent) = request(
        &mut b_conn,
        "POST",
        &b_path,
        Some(&b_tok),
        r#"{"type":"chat","data":{"text":"over tls"}}"#,
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let (status, m) = waiting.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(m["messages"][0]["data"]["text"], "over tls");
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_is_refused_and_plain_http_gets_nothing() {
    let (addr, _tls, _stop) = start_tls().await;
    let other = Tls::load(&TlsSource::SelfSigned {
        names: vec!["127.0.0.1".into()],
    })
    .unwrap();
    let e = connect(addr, client_config(Some(&other.cert_pem)))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("UnknownIssuer")
            || e.to_string().contains("invalid peer certificate"),
        "{e}"
    );
    // Plain HTTP on the TLS port: no HTTP answer, the connection is closed.
    let answer = common::raw_exchange(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(!answer.contains("200"), "{answer}");
    // The server still serves.
    let mut s = connect(addr, client_config(Some(&_tls.cert_pem)))
        .await
        .unwrap();
    assert_eq!(request(&mut s, "GET", "/healthz", None, "").await.0, 200);
}
