//! TLS: `wss://` and `https://` with a certificate generated for the test.

mod common;

use std::sync::Arc;

use common::{Client, Host, TOKEN, http_get_on, hub_config, local_config};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;
use stagelink_host_ws::{HostError, TlsFiles, WsConfig, serve};
use stagelink_publisher::{Hub, HubConfig};
use tokio_tungstenite::Connector;

/// A self-signed certificate for `localhost` and `127.0.0.1`, written as PEM files.
struct TestCert {
    _dir: tempfile::TempDir,
    files: TlsFiles,
    der: CertificateDer<'static>,
}

fn test_cert() -> TestCert {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("a certificate");
    let dir = tempfile::tempdir().unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, generated.cert.pem()).unwrap();
    std::fs::write(&files.key, generated.signing_key.serialize_pem()).unwrap();
    TestCert {
        _dir: dir,
        files,
        der: generated.cert.der().clone(),
    }
}

/// A client configuration that trusts exactly `cert`.
fn client_config(cert: &CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

#[tokio::test]
async fn wss_and_https_with_a_self_signed_certificate() {
    let cert = test_cert();
    let host = Host::start_with(
        hub_config(),
        WsConfig {
            tls: Some(cert.files.clone()),
            ..local_config()
        },
    )
    .await;
    assert!(host.server.is_tls());
    let url = host.url();
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");

    // wss:// — the protocol as usual.
    let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        url.as_str(),
        None,
        true,
        Some(Connector::Rustls(client_config(&cert.der))),
    )
    .await
    .expect("a wss connection");
    let mut client = Client::from_socket(ws);
    let welcome = client
        .hello(json!({"role": "controller", "token": TOKEN}))
        .await;
    assert_eq!(welcome["project"], "demo");
    client.send(json!({"type": "ping", "t": 3})).await;
    assert_eq!(client.expect("pong").await["t"], 3);

    // https:// — the viewer and health.
    let connector = tokio_rustls::TlsConnector::from(client_config(&cert.der));
    let name = ServerName::try_from("localhost").unwrap();
    for (path, status) in [("/healthz", 200), ("/", 200)] {
        let tcp = tokio::net::TcpStream::connect(host.addr()).await.unwrap();
        let tls = connector
            .connect(name.clone(), tcp)
            .await
            .expect("a TLS handshake");
        let response = http_get_on(tls, &format!("localhost:{}", host.addr().port()), path).await;
        assert_eq!(response.status, status, "{path}");
    }

    // A browser page on the https origin may connect; the http one may not.
    let own = format!("https://localhost:{}", host.addr().port());
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            url.as_str(),
        )
        .unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "Host",
        format!("localhost:{}", host.addr().port()).parse().unwrap(),
    );
    headers.insert("Origin", own.parse().unwrap());
    let refused_origin = own.replace("https://", "http://");
    let mut refused = request.clone();
    refused
        .headers_mut()
        .insert("Origin", refused_origin.parse().unwrap());
    let connector = || Some(Connector::Rustls(client_config(&cert.der)));
    assert!(
        tokio_tungstenite::connect_async_tls_with_config(request, None, true, connector())
            .await
            .is_ok()
    );
    let err = tokio_tungstenite::connect_async_tls_with_config(refused, None, true, connector())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 403),
        "{err}"
    );

    host.server.shutdown().await;
}

#[tokio::test]
async fn bad_tls_files_are_reported() {
    let cert = test_cert();
    let missing = TlsFiles {
        cert: cert.files.cert.with_file_name("missing.pem"),
        key: cert.files.key.clone(),
    };
    let err = serve(
        Hub::new(HubConfig::default()),
        WsConfig {
            tls: Some(missing),
            ..local_config()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            HostError::Tls {
                what: "certificate",
                ..
            }
        ),
        "{err}"
    );

    // A key that does not belong to the certificate.
    let other = test_cert();
    let mismatched = TlsFiles {
        cert: cert.files.cert.clone(),
        key: other.files.key.clone(),
    };
    let err = serve(
        Hub::new(HubConfig::default()),
        WsConfig {
            tls: Some(mismatched),
            ..local_config()
        },
    )
    .unwrap_err();
    assert!(matches!(&err, HostError::TlsConfig(_)), "{err}");

    // A key file with no key in it.
    let empty = TlsFiles {
        cert: cert.files.cert.clone(),
        key: cert.files.cert.clone(),
    };
    let err = serve(
        Hub::new(HubConfig::default()),
        WsConfig {
            tls: Some(empty),
            ..local_config()
        },
    )
    .unwrap_err();
    assert!(matches!(&err, HostError::Tls { what: "key", .. }), "{err}");
}
