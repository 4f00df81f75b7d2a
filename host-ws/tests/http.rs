//! The HTTP side: the origin check on `/ws`, the viewer, `/healthz`, `/metrics`, binding and
//! the no-auth guard.

mod common;

use common::{Client, Host, TOKEN, http_get, hub_config, local_config};
use serde_json::json;
use stagelink_host_ws::{HostError, WsConfig, check_no_auth, serve};
use stagelink_publisher::{Hub, HubConfig};
use tokio_tungstenite::tungstenite;

fn status_of(result: Result<Client, tungstenite::Error>) -> u16 {
    match result {
        Ok(_) => 101,
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[tokio::test]
async fn origin_check_refuses_foreign_pages() {
    let host = Host::start_with(
        hub_config(),
        WsConfig {
            allow_origins: vec!["https://tools.example.com".into()],
            ..local_config()
        },
    )
    .await;
    let url = host.url();
    let own = format!("http://{}", host.addr());
    let port = host.addr().port();

    // No Origin: not a browser, allowed (the token still decides).
    let mut native = Client::connect_with_headers(&url, &[]).await.unwrap();
    native
        .hello(json!({"role": "controller", "token": TOKEN}))
        .await;
    // The host's own page, by address or as localhost.
    assert_eq!(
        status_of(Client::connect_with_headers(&url, &[("Origin", &own)]).await),
        101
    );
    let localhost = format!("localhost:{port}");
    let localhost_origin = format!("http://{localhost}");
    assert_eq!(
        status_of(
            Client::connect_with_headers(
                &url,
                &[("Host", &localhost), ("Origin", &localhost_origin)]
            )
            .await
        ),
        101
    );
    // An allowed origin.
    let mut allowed =
        Client::connect_with_headers(&url, &[("Origin", "https://tools.example.com")])
            .await
            .unwrap();
    allowed
        .hello(json!({"role": "controller", "token": TOKEN}))
        .await;
    // Anyone else: 403, before any session exists.
    let before = host.hub.session_count();
    for origin in [
        "http://evil.example",
        "null",
        "https://tools.example.com.evil.example",
    ] {
        assert_eq!(
            status_of(Client::connect_with_headers(&url, &[("Origin", origin)]).await),
            403,
            "{origin}"
        );
    }
    // DNS rebinding: the attacker's name re-pointed at 127.0.0.1 makes Host and Origin agree.
    let evil_host = format!("evil.example:{port}");
    let evil_origin = format!("http://{evil_host}");
    assert_eq!(
        status_of(
            Client::connect_with_headers(&url, &[("Host", &evil_host), ("Origin", &evil_origin)])
                .await
        ),
        403
    );
    assert_eq!(host.hub.session_count(), before);
    let metrics = http_get(host.addr(), "/metrics").await.text();
    assert!(
        metrics.contains("stagelink_ws_refused_total{reason=\"origin\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn healthz_reports_the_movie() {
    let mut host = Host::start().await;
    let health = http_get(host.addr(), "/healthz").await;
    assert_eq!(health.status, 200);
    assert!(
        health
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = health.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["project"], "demo");
    assert_eq!(body["frame"], json!(null)); // the engine has not ticked yet
    assert_eq!(body["clients"], 0);
    assert!(body["uptime_s"].is_u64());

    let _client = host.controller(json!({})).await;
    host.engine.state.frame = 17;
    host.engine.tick();
    let body = http_get(host.addr(), "/healthz").await.json();
    assert_eq!(body["frame"], 17);
    assert_eq!(body["playing"], true);
    assert_eq!(body["clients"], 1);
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "clients", "frame", "playing", "project", "status", "uptime_s"
        ]
    );
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let mut host = Host::start().await;
    let mut client = host.controller(json!({"subscribe": ["movie_props"]})).await;
    host.engine.set_movie_prop("title", "A");
    client.expect("event").await;
    client
        .send(json!({"type": "command", "id": 1, "command": {"kind": "pause"}}))
        .await;
    client.barrier().await;
    host.engine.tick();
    client.expect("ack").await;

    let response = http_get(host.addr(), "/metrics").await;
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text();
    for line in [
        "stagelink_connections 1",
        "stagelink_connections_total 1",
        "stagelink_messages_out_total{stream=\"movie_props\"} 1",
        "stagelink_commands_total{status=\"applied\"} 1",
        "stagelink_ws_connections 1",
        "stagelink_ws_upgrades_total 1",
        "stagelink_ws_refused_total{reason=\"shutdown\"} 0",
        "# TYPE stagelink_tick_duration_seconds histogram",
        "# TYPE stagelink_uptime_seconds gauge",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    // Every sample line is `name{labels} value`.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(name.starts_with("stagelink_"), "{line}");
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

#[tokio::test]
async fn the_viewer_is_served() {
    let host = Host::start().await;
    for (path, content_type, needle) in [
        ("/", "text/html; charset=utf-8", "<html"),
        ("/viewer.js", "text/javascript; charset=utf-8", "WebSocket"),
        ("/viewer.css", "text/css; charset=utf-8", "{"),
    ] {
        let response = http_get(host.addr(), path).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(
            response.header("content-type"),
            Some(content_type),
            "{path}"
        );
        assert_eq!(
            response.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert!(response.text().contains(needle), "{path}");
    }
    assert_eq!(http_get(host.addr(), "/nope").await.status, 404);
    // /ws without an upgrade is a client error, not a crash.
    let plain = http_get(host.addr(), "/ws").await.status;
    assert!((400..500).contains(&plain), "{plain}");

    let headless = Host::start_with(
        hub_config(),
        WsConfig {
            viewer: false,
            ..local_config()
        },
    )
    .await;
    assert_eq!(http_get(headless.addr(), "/").await.status, 404);
    assert_eq!(http_get(headless.addr(), "/viewer.js").await.status, 404);
    assert_eq!(http_get(headless.addr(), "/healthz").await.status, 200);
}

#[tokio::test]
async fn binding_a_taken_port_fails() {
    let host = Host::start().await;
    let err = serve(
        Hub::new(HubConfig::default()),
        WsConfig {
            addr: host.addr(),
            ..WsConfig::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, HostError::Bind { addr, .. } if addr == host.addr()),
        "{err}"
    );
}

#[test]
fn serve_needs_a_runtime() {
    let err = serve(Hub::new(HubConfig::default()), local_config()).unwrap_err();
    assert!(matches!(err, HostError::NoRuntime), "{err}");
}

#[test]
fn no_auth_is_refused_off_loopback() {
    assert!(check_no_auth(&["127.0.0.1:61699".parse().unwrap()]).is_ok());
    let err = check_no_auth(&["0.0.0.0:61699".parse().unwrap()]).unwrap_err();
    assert!(err.to_string().contains("0.0.0.0:61699"), "{err}");
}

#[test]
fn the_default_config_is_loopback_with_the_viewer() {
    let config = WsConfig::default();
    assert_eq!(config.addr, "127.0.0.1:61699".parse().unwrap());
    assert!(config.viewer && config.tls.is_none() && config.allow_origins.is_empty());
}
