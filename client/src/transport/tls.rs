//! The rustls configuration for `wss://`: the Mozilla roots plus any extra PEM roots, with the
//! `ring` provider chosen explicitly so no process-wide default provider is needed.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::config::TlsOptions;

/// Builds the client TLS configuration.
///
/// # Errors
/// A message naming the PEM file that could not be read or parsed.
pub(crate) fn client_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, String> {
    if let Some(config) = &options.rustls {
        return Ok(config.clone());
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for path in &options.extra_roots_pem {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("{}: no certificate in the file", path.display()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_roots_build_and_bad_pem_is_named() {
        assert!(client_config(&TlsOptions::default()).is_ok());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let err = client_config(&TlsOptions {
            extra_roots_pem: vec![path],
            rustls: None,
        })
        .unwrap_err();
        assert!(err.contains("empty.pem"), "{err}");
    }
}
