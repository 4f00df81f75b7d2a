//! TLS for `https://` and `wss://`: rustls with the *ring* provider, from PEM files.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::{HostError, TlsFiles};

/// Makes *ring* the process's default rustls provider, so every rustls user in the process
/// (this host, the Rust client in mirror mode) agrees on one. Does nothing when a default is
/// already installed.
pub fn install_crypto_provider() {
    // An error only says a provider was installed first, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A rustls server configuration from PEM files, speaking HTTP/1.1 (browsers open WebSockets
/// over it).
///
/// # Errors
/// [`HostError::Tls`] when a file cannot be read or holds no certificate or key;
/// [`HostError::TlsConfig`] when rustls rejects the pair (a key that does not match).
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, HostError> {
    install_crypto_provider();
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| HostError::Tls {
            what: "certificate",
            path: files.cert.clone(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(HostError::Tls {
            what: "certificate",
            path: files.cert.clone(),
            message: "no CERTIFICATE block in the file".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| HostError::Tls {
        what: "key",
        path: files.key.clone(),
        message: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HostError::TlsConfig(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| HostError::TlsConfig(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
