//! TLS for the signaling client: rustls with the public CAs and a trusted extra certificate
//! (`tls` feature), or a clear error without it.

#[cfg(feature = "tls")]
mod with_tls {
    use crate::signal::SignalError;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    use std::sync::Arc;

    /// rustls with the public CAs (webpki-roots) plus the certificates in `extra`.
    pub fn configure(
        builder: ureq::AgentBuilder,
        extra: Option<&std::path::Path>,
    ) -> Result<ureq::AgentBuilder, SignalError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra {
            let bad = |why: String| {
                SignalError::Invalid(format!("server certificate {}: {why}", path.display()))
            };
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("no CERTIFICATE in it".into()));
            }
            for c in certs {
                roots.add(c).map_err(|e| bad(e.to_string()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SignalError::Invalid(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(builder.tls_config(Arc::new(config)))
    }
}

#[cfg(not(feature = "tls"))]
mod without_tls {
    use crate::signal::SignalError;

    pub fn configure(
        _: ureq::AgentBuilder,
        _: Option<&std::path::Path>,
    ) -> Result<ureq::AgentBuilder, SignalError> {
        Err(SignalError::Invalid(
            "https:// needs mobilertc-call built with its `tls` feature".into(),
        ))
    }
}

#[cfg(feature = "tls")]
pub use with_tls::configure;
#[cfg(not(feature = "tls"))]
pub use without_tls::configure;
