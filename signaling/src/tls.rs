//! HTTPS: rustls over the server's own HTTP/1.1 (src/conn.rs). The certificate comes from
//! PEM files, or is made at start (self-signed, for a LAN test) and its fingerprints printed
//! so a client can pin or trust it.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the certificate comes from.
#[derive(Clone, Debug)]
pub enum TlsSource {
    /// A PEM certificate chain (leaf first) and its PEM private key (PKCS#8, PKCS#1 or SEC1).
    Files { cert: PathBuf, key: PathBuf },
    /// A self-signed certificate made now for these DNS names and IP addresses.
    SelfSigned { names: Vec<String> },
}

/// A loaded certificate, ready to serve.
#[derive(Clone)]
pub struct Tls {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
    /// The leaf certificate, PEM (what a client is told to trust).
    pub cert_pem: String,
    /// SHA-256 of the leaf certificate's DER (the usual "fingerprint").
    pub cert_sha256: [u8; 32],
    /// SHA-256 of the leaf's SubjectPublicKeyInfo (HPKP-style pin; what Chromium's
    /// `--ignore-certificate-errors-spki-list` takes, base64).
    pub spki_sha256: [u8; 32],
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tls({})", self.fingerprint())
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

impl Tls {
    pub fn load(source: &TlsSource) -> io::Result<Tls> {
        let (chain, key) = match source {
            TlsSource::Files { cert, key } => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| invalid(format!("{}: {e}", cert.display())))?;
                if chain.is_empty() {
                    return Err(invalid(format!("{}: no CERTIFICATE in it", cert.display())));
                }
                let k = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    invalid(format!("{}: no usable private key: {e}", key.display()))
                })?;
                (chain, k)
            }
            TlsSource::SelfSigned { names } => {
                let ck = rcgen::generate_simple_self_signed(names.clone())
                    .map_err(|e| invalid(format!("making a self-signed certificate: {e}")))?;
                let key = PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
                (vec![ck.cert.der().clone()], key)
            }
        };
        let leaf = chain[0].clone();
        let spki = spki_of(&leaf)
            .ok_or_else(|| invalid("the certificate is not DER X.509 as expected".into()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| invalid(format!("certificate and key do not go together: {e}")))?;
        let mut config = config;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            cert_pem: pem_of(&leaf),
            cert_sha256: sha256(&leaf),
            spki_sha256: sha256(spki),
        })
    }

    /// `AB:CD:…` of the certificate's SHA-256, as browsers show it.
    pub fn fingerprint(&self) -> String {
        let hex: Vec<String> = self
            .cert_sha256
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        hex.join(":")
    }

    /// base64 of the SPKI's SHA-256 (Chromium's `--ignore-certificate-errors-spki-list`).
    pub fn spki_pin(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.spki_sha256)
    }
}

fn pem_of(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// One DER TLV: its tag, its content, the whole TLV, and what follows it.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
    rest: &'a [u8],
}

/// The DER TLV at the start of `der`.
fn tlv(der: &[u8]) -> Option<Tlv<'_>> {
    let tag = *der.first()?;
    let first = *der.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *der.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    let whole = der.get(..end)?;
    Some(Tlv {
        tag,
        content: der.get(hdr..end)?,
        whole,
        rest: der.get(end..)?,
    })
}

/// The SubjectPublicKeyInfo (whole TLV) of an X.509 certificate: Certificate ::= SEQUENCE
/// { tbsCertificate SEQUENCE { [0] version OPTIONAL, serial, signature, issuer, validity,
/// subject, subjectPublicKeyInfo, … }, … } (RFC 5280, 4.1).
fn spki_of(cert: &[u8]) -> Option<&[u8]> {
    let cert = tlv(cert)?;
    let tbs = tlv(cert.content)?;
    if cert.tag != 0x30 || tbs.tag != 0x30 {
        return None;
    }
    let mut fields = tbs.content;
    if fields.first() == Some(&0xa0) {
        fields = tlv(fields)?.rest;
    }
    // serial, signature, issuer, validity, subject
    for _ in 0..5 {
        fields = tlv(fields)?.rest;
    }
    let spki = tlv(fields)?;
    (spki.tag == 0x30).then_some(spki.whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_fingerprints_match_the_key() {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        use rcgen::PublicKeyData;
        let spki = ck.signing_key.subject_public_key_info();
        assert_eq!(spki_of(ck.cert.der()).unwrap(), &spki[..]);
        let tls = Tls::load(&TlsSource::SelfSigned {
            names: vec!["localhost".into(), "127.0.0.1".into()],
        })
        .unwrap();
        assert_eq!(tls.fingerprint().len(), 32 * 3 - 1);
        assert_eq!(tls.spki_pin().len(), 44);
        let der = CertificateDer::from_pem_slice(tls.cert_pem.as_bytes()).unwrap();
        assert_eq!(sha256(&der), tls.cert_sha256);
    }

    #[test]
    fn files_that_are_not_a_certificate_and_key_are_refused() {
        let dir = std::env::temp_dir().join(format!("mobilertc-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["a.test".into()]).unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let (cert, key, wrong) = (dir.join("c.pem"), dir.join("k.pem"), dir.join("w.pem"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        std::fs::write(&wrong, other.serialize_pem()).unwrap();
        let ok = Tls::load(&TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        })
        .unwrap();
        assert_eq!(ok.cert_sha256, sha256(ck.cert.der()));
        let e = Tls::load(&TlsSource::Files {
            cert: cert.clone(),
            key: wrong,
        })
        .unwrap_err();
        assert!(e.to_string().contains("do not go together"), "{e}");
        let e = Tls::load(&TlsSource::Files {
            cert: key.clone(),
            key,
        })
        .unwrap_err();
        assert!(e.to_string().contains("no CERTIFICATE"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
