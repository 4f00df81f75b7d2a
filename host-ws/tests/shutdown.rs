//! Graceful shutdown: every client hears `bye`, then the fatal `shutdown`, then close 4028.

mod common;

use common::{Client, Host, http_get};
use serde_json::json;
use stagelink_contracts::ErrorCode;
use tokio::task::JoinSet;

#[tokio::test]
async fn shutdown_says_bye_to_everyone() {
    let host = Host::start().await;
    let addr = host.addr();
    let mut readers = JoinSet::new();
    for i in 0..3 {
        let mut client = host
            .controller(json!({"subscribe": ["*"], "client": {"id": format!("c{i}")}}))
            .await;
        readers.spawn(async move {
            let bye = client.expect("bye").await;
            assert_eq!(bye["reason"], "shutdown");
            client.expect_fatal(ErrorCode::Shutdown).await;
        });
    }
    // One that has not said hello yet is told as well.
    let mut silent = Client::connect(&host.url()).await;
    readers.spawn(async move {
        silent.expect("bye").await;
        silent.expect_fatal(ErrorCode::Shutdown).await;
    });
    assert_eq!(host.hub.session_count(), 4);

    let Host {
        hub,
        server,
        engine,
    } = host;
    server.shutdown().await;
    while let Some(result) = readers.join_next().await {
        result.expect("every client got bye, shutdown and close 4028");
    }
    assert!(hub.is_shutting_down());
    assert_eq!(
        hub.session_count(),
        0,
        "shutdown waits for the sessions to end"
    );
    drop(engine);

    // The port is closed.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_with_nobody_connected_is_quick_and_clean() {
    let host = Host::start().await;
    let addr = host.addr();
    assert_eq!(http_get(addr, "/healthz").await.status, 200);
    host.server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn dropping_the_server_cuts_connections() {
    let host = Host::start().await;
    let mut client = host.controller(json!({})).await;
    let Host {
        hub,
        server,
        engine,
    } = host;
    drop(server);
    // No bye: the connection just ends.
    assert!(matches!(
        client.recv().await,
        common::Incoming::Ended | common::Incoming::Close(..)
    ));
    common::wait_for(|| hub.session_count() == 0).await;
    drop(engine);
}
