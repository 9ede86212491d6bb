//! ACS identity's Teams user token exchange,
//! `POST {endpoint}/teamsUser/:exchangeAccessToken?api-version=…`, signed
//! with the resource's access key as ACS documents (HMAC-SHA256 over
//! `"{METHOD}\n{path and query}\n{x-ms-date};{host};{x-ms-content-sha256}"`).
//! The body is `{token, appId, userId}`: a Teams user's Entra ID access token
//! for application `appId` and user `userId`; the answer is `{token, expiresOn}`
//! with the same expiry. As ACS, it takes only Entra tokens for
//! [`crate::ACS_RESOURCE`] carrying both [`crate::ACS_TEAMS_SCOPES`], which
//! (in the fake) only its token endpoint's on-behalf-of grant issues: the
//! Teams client's own sign-in token (audience: the app) is refused. The
//! body received is recorded with the call.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Uri, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::answer::{Shape, acs_error, act_out, json_answer};
use crate::state::{Endpoint, FakeState};
use crate::token::path_of;
use crate::{ACS_RESOURCE, ACS_TEAMS_SCOPES};

const SIGNED_HEADERS: &str = "x-ms-date;host;x-ms-content-sha256";
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

pub(crate) async fn exchange(
    State(state): State<Arc<FakeState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = path_of(&uri);
    let arrival = state.arrive(Endpoint::AcsExchange, "POST", &path, None);
    if let Ok(received) = serde_json::from_slice::<Value>(&body) {
        state.record_body(arrival.index, received);
    }
    if let Some(response) = act_out(&state, &arrival, Shape::Acs, 200).await {
        return response;
    }
    let (status, response) = match answer(&state, &uri, &path, &headers, &body) {
        Ok(body) => (200, json_answer(200, &body)),
        Err((status, code, message)) => (status, acs_error(status, code, &message)),
    };
    state.finish(arrival.index, status);
    response
}

type Refusal = (u16, &'static str, String);

fn denied(message: impl Into<String>) -> Refusal {
    (401, "Denied", message.into())
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks the HMAC-SHA256 signature headers against the access key.
fn verify_signature(
    state: &FakeState,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Refusal> {
    let date = header_str(headers, "x-ms-date")
        .or_else(|| header_str(headers, "date"))
        .ok_or_else(|| denied("The x-ms-date header is missing."))?;
    let when = httpdate::parse_http_date(date)
        .map_err(|_| denied("The x-ms-date header is not an RFC 1123 date."))?;
    let now = state.wall();
    let skew = now
        .duration_since(when)
        .or_else(|_| when.duration_since(now))
        .unwrap_or_default();
    if skew > MAX_SKEW {
        return Err(denied("The request date is more than 15 minutes from now."));
    }
    let content_hash = header_str(headers, "x-ms-content-sha256")
        .ok_or_else(|| denied("The x-ms-content-sha256 header is missing."))?;
    if content_hash != STANDARD.encode(Sha256::digest(body)) {
        return Err(denied(
            "The x-ms-content-sha256 header does not match the body.",
        ));
    }
    let host = header_str(headers, header::HOST.as_str())
        .ok_or_else(|| denied("The host header is missing."))?;
    let authorization = header_str(headers, header::AUTHORIZATION.as_str())
        .ok_or_else(|| denied("The Authorization header is missing."))?;
    let params = authorization
        .strip_prefix("HMAC-SHA256 ")
        .ok_or_else(|| denied("The Authorization scheme must be HMAC-SHA256."))?;
    let mut signed_headers = None;
    let mut signature = None;
    for part in params.split('&') {
        match part.split_once('=') {
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            // The signature is base64 and may itself end in '='.
            Some(("Signature", _)) => signature = part.strip_prefix("Signature="),
            _ => {}
        }
    }
    if signed_headers != Some(SIGNED_HEADERS) {
        return Err(denied(format!("SignedHeaders must be {SIGNED_HEADERS}.")));
    }
    let signature = signature
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(|| denied("The Signature is missing or not base64."))?;
    let key = STANDARD
        .decode(&state.options.acs_access_key)
        .unwrap_or_default();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| denied("No access key."))?;
    mac.update(format!("POST\n{path_and_query}\n{date};{host};{content_hash}").as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| denied("The request signature is not valid for this resource's access key."))
}

fn answer(
    state: &FakeState,
    uri: &Uri,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Refusal> {
    let has_version = uri.query().unwrap_or_default().split('&').any(|p| {
        p.strip_prefix("api-version=")
            .is_some_and(|v| !v.is_empty())
    });
    if !has_version {
        return Err((
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.".into(),
        ));
    }
    verify_signature(state, path_and_query, headers, body)?;
    let request: Value = serde_json::from_slice(body).map_err(|_| {
        (
            400,
            "BadRequest",
            "The request body is not valid JSON.".to_owned(),
        )
    })?;
    let field = |name: &str| request[name].as_str().filter(|s| !s.is_empty());
    let (Some(aad_token), Some(app_id), Some(user_id)) =
        (field("token"), field("appId"), field("userId"))
    else {
        return Err((
            400,
            "ValidationError",
            "The token, appId and userId fields are required.".into(),
        ));
    };
    let Some(issued) = state.valid_token(aad_token) else {
        return Err((
            401,
            "InvalidAccessToken",
            "The Entra ID access token is not valid or has expired.".into(),
        ));
    };
    let has_scopes = ACS_TEAMS_SCOPES
        .iter()
        .all(|wanted| issued.scopes.iter().any(|s| s == wanted));
    if issued.audience != ACS_RESOURCE || !has_scopes {
        return Err((
            401,
            "InvalidAccessToken",
            format!(
                "The Entra ID access token is not for {ACS_RESOURCE} with the scopes {}.",
                ACS_TEAMS_SCOPES.join(" ")
            ),
        ));
    }
    if issued.client_id != app_id {
        return Err((
            400,
            "AppIdMismatch",
            "The appId does not match the token's appid claim.".into(),
        ));
    }
    if issued.user.as_deref() != Some(user_id) {
        return Err((
            400,
            "UserIdMismatch",
            "The userId does not match the token's oid claim.".into(),
        ));
    }
    let remaining = issued.expires_at.saturating_sub(state.now());
    let serial = state.serial();
    Ok(json!({
        "token": format!("fake-acs-{serial:06}-{:016x}", state.random_u64(serial)),
        "expiresOn": humantime::format_rfc3339_micros(state.wall() + remaining).to_string(),
    }))
}
