//! The built-in browser viewer, compiled into the binary so a player needs no files beside it.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The viewer's page.
pub const INDEX_HTML: &str = include_str!("../assets/viewer/index.html");
/// The viewer's script.
pub const VIEWER_JS: &str = include_str!("../assets/viewer/viewer.js");
/// The viewer's style sheet.
pub const VIEWER_CSS: &str = include_str!("../assets/viewer/viewer.css");

/// One embedded file as a response with its content type. The page's URL carries the token
/// (`/?token=…`), so no referrer leaves it, and nothing is cached across host versions.
pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", VIEWER_JS)
}

pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", VIEWER_CSS)
}
