//! The HTTP routes: `/ws` (the office WebSocket), `/healthz`, `/maps/{id}`
//! with the images its tilesets use at `/maps/{id}/{file}`, and the static
//! `/assets`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower_http::services::ServeDir;

use crate::server::ServerContext;

/// Every route of the server.
pub fn router(ctx: Arc<ServerContext>) -> Router {
    let assets = ServeDir::new(&ctx.config.assets);
    Router::new()
        .route("/ws", get(websocket))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/maps/{id}", get(map))
        .route("/maps/{id}/{*file}", get(map_image))
        .nest_service("/assets", assets)
        .with_state(ctx.clone())
        .merge(crate::admin::router(ctx))
}

async fn websocket(
    State(ctx): State<Arc<ServerContext>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Frames a little over the limit still arrive, so that the client gets a
    // clear FrameTooLarge error; far larger ones fail the socket outright.
    let hard_limit = ctx.config.limits.max_frame_bytes * 4;
    let permit = ctx.connections.clone().try_acquire_owned().ok();
    let tasks = ctx.tasks.clone();
    upgrade
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        // Clients send a few bytes at a time: a small read buffer (it grows
        // for the rare larger frame) keeps idle connections cheap.
        .read_buffer_size(256)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| {
            tasks.track_future(
                async move { super::connection::serve(socket, ctx, peer, permit).await },
            )
        })
}

async fn healthz(State(ctx): State<Arc<ServerContext>>) -> Json<serde_json::Value> {
    let mut offices: Vec<_> = ctx
        .offices
        .iter()
        .map(|o| {
            json!({
                "id": o.id,
                "avatars": o.population.load(Ordering::Relaxed),
                "tick": o.tick.load(Ordering::Relaxed),
            })
        })
        .collect();
    offices.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let refused: serde_json::Map<String, serde_json::Value> = ctx
        .refused_maps
        .iter()
        .map(|r| (r.key().clone(), json!(r.value())))
        .collect();
    Json(json!({
        "status": "ok",
        "connections": ctx.connection_count(),
        "offices": offices,
        "refused_maps": refused,
    }))
}

async fn metrics(State(ctx): State<Arc<ServerContext>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], ctx.metrics.render()).into_response()
}

async fn map(State(ctx): State<Arc<ServerContext>>, Path(id): Path<String>) -> Response {
    let id = id
        .strip_suffix(".json")
        .or_else(|| id.strip_suffix(".tmj"))
        .unwrap_or(&id);
    match ctx.offices.get(id) {
        Some(office) => (
            [(header::CONTENT_TYPE, "application/json")],
            office.client_map.clone(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no office has the id '{id}'")})),
        )
            .into_response(),
    }
}

fn not_found(what: String) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": what }))).into_response()
}

/// An image the office's map uses: only files its tilesets name, and only
/// inside the maps folder.
async fn map_image(
    State(ctx): State<Arc<ServerContext>>,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    // Image URLs name the map's file; an office may run a map of another
    // name (stored settings), so any office running map `id` serves them.
    let path = ctx
        .offices
        .get(&id)
        .and_then(|office| office.map_images.get(&file).cloned())
        .or_else(|| {
            ctx.offices
                .iter()
                .filter(|office| office.map == id)
                .find_map(|office| office.map_images.get(&file).cloned())
        });
    let Some(path) = path else {
        return not_found(format!("the office '{id}' has no image '{file}'"));
    };
    let inside = match (
        tokio::fs::canonicalize(&ctx.config.maps).await,
        tokio::fs::canonicalize(&path).await,
    ) {
        (Ok(root), Ok(real)) => real.starts_with(root),
        _ => false,
    };
    if !inside {
        return not_found(format!("the office '{id}' has no image '{file}'"));
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, image_type(&file))], bytes).into_response(),
        Err(_) => not_found(format!("the image '{file}' of office '{id}' is missing")),
    }
}

/// The content type of an image file, by its extension.
fn image_type(file: &str) -> &'static str {
    let ext = file.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}
