//! The admin API: JSON under `/admin` on the server's HTTP port, for the
//! Teams app's back end. Every request carries `Authorization: Bearer
//! <[admin] token>`, compared in constant time; with no token configured
//! the API does not exist (404). The token is never logged.
//!
//! | route | what |
//! |---|---|
//! | `GET /admin/openapi.json` | this API, described |
//! | `GET /admin/offices` | stored office configurations, running offices and who is in them |
//! | `GET`, `PUT /admin/offices/{id}` | one office's configuration |
//! | `GET`, `PUT /admin/organisations/{tenant}/users/{oid}/media` | a user's audio and video configuration |
//! | `DELETE /admin/organisations/{tenant}` | remove an organisation: every row of its tenant, its live sessions, and its offices' configurations |

mod routes;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::server::ServerContext;
use crate::store::StoreError;

/// What an admin request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A field of the request is invalid (400).
    #[error("{field}: {message}")]
    Invalid {
        /// The field, as named in the request.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Nothing there (404).
    #[error("not found")]
    NotFound,
    /// The database failed (503); details go to the log only.
    #[error("storage unavailable")]
    Store(#[from] StoreError),
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> AdminError {
    AdminError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            AdminError::Invalid { field, message } => (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "invalid", "field": field, "message": message })),
            )
                .into_response(),
            AdminError::NotFound => (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": "not_found", "message": "no such resource" })),
            )
                .into_response(),
            AdminError::Store(e) => {
                tracing::error!(cause = %e, "admin request failed on the database");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(
                        json!({ "error": "unavailable", "message": "storage unavailable; retry" }),
                    ),
                )
                    .into_response()
            }
        }
    }
}

/// The `/admin` routes, or none when no admin token is configured.
pub fn router(ctx: Arc<ServerContext>) -> Router {
    if ctx.config.admin.token.is_none() {
        return Router::new();
    }
    Router::new()
        .route("/admin/openapi.json", get(openapi))
        .route("/admin/offices", get(routes::list_offices))
        .route(
            "/admin/offices/{id}",
            get(routes::get_office).put(routes::put_office),
        )
        .route(
            "/admin/organisations/{tenant}",
            delete(routes::remove_organisation),
        )
        .route(
            "/admin/organisations/{tenant}/users/{oid}/media",
            get(routes::get_media).put(routes::put_media),
        )
        .route_layer(axum::middleware::from_fn_with_state(ctx.clone(), authorise))
        .with_state(ctx)
}

/// Lets the request through only with the admin token.
async fn authorise(
    State(ctx): State<Arc<ServerContext>>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let allowed = ctx.config.admin.token.as_ref().is_some_and(|token| {
        // Equal-length digests, compared in constant time.
        let want = Sha256::digest(token.expose().as_bytes());
        let got = Sha256::digest(given.as_bytes());
        bool::from(want.ct_eq(&got)) && !given.is_empty()
    });
    if !allowed {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({ "error": "unauthorized", "message": "a valid admin token is needed" })),
        )
            .into_response();
    }
    next.run(request).await
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}
