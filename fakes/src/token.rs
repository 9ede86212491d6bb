//! The identity platform's token endpoint, `POST {login}/{tenant}/oauth2/v2.0/token`:
//! form-encoded client credentials or on-behalf-of (jwt-bearer) grants,
//! answering `{token_type, expires_in, ext_expires_in, access_token}` or the
//! documented `{error, error_description, error_codes, …}`.
//!
//! On-behalf-of: the assertion must be a user token the fake issued to the
//! requesting application itself (its audience), in the tenant of the path;
//! the new token's audience is the scopes' resource and it carries the
//! scopes. A user who withheld consent to the ACS scopes
//! ([`crate::FakeMicrosoft::withhold_acs_consent`]) gets `invalid_grant` with
//! `suberror: consent_required` (AADSTS65001) for them. Every request's form
//! is recorded with its call, the client secret left out.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::json;

use crate::ACS_RESOURCE;
use crate::answer::{Shape, aad_error, aad_error_with, act_out, json_answer};
use crate::state::{Endpoint, FakeState};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

pub(crate) async fn token(
    State(state): State<Arc<FakeState>>,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrival = state.arrive(
        Endpoint::Token,
        "POST",
        &path_of(&uri),
        Some(tenant.clone()),
    );
    if let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
        let recorded: serde_json::Map<String, serde_json::Value> = form
            .into_iter()
            .filter(|(name, _)| name != "client_secret")
            .map(|(name, value)| (name, json!(value)))
            .collect();
        state.record_body(arrival.index, serde_json::Value::Object(recorded));
    }
    if let Some(response) = act_out(&state, &arrival, Shape::Aad, 200).await {
        return response;
    }
    let response = issue(&state, &tenant, &headers, &body).unwrap_or_else(|refusal| *refusal);
    state.finish(arrival.index, response.status().as_u16());
    response
}

pub(crate) fn path_of(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned())
}

/// An error answer (boxed: it is large).
type Refusal = Box<Response>;

fn missing(state: &FakeState, name: &str) -> Refusal {
    Box::new(aad_error(
        state,
        400,
        "invalid_request",
        900_144,
        &format!("The request body must contain the following parameter: '{name}'."),
    ))
}

fn issue(
    state: &FakeState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, Refusal> {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_encoded {
        return Err(Box::new(aad_error(
            state,
            400,
            "invalid_request",
            900_561,
            "The endpoint only accepts POST requests with a form-encoded body.",
        )));
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map_err(|_| missing(state, "grant_type"))?
        .into_iter()
        .collect();
    let field = |name: &str| form.get(name).filter(|v| !v.is_empty());
    let grant_type = field("grant_type").ok_or_else(|| missing(state, "grant_type"))?;
    let client_id = field("client_id").ok_or_else(|| missing(state, "client_id"))?;
    let Some(app) = state
        .options
        .apps
        .iter()
        .find(|a| &a.client_id == client_id)
    else {
        return Err(Box::new(aad_error(
            state,
            400,
            "unauthorized_client",
            700_016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        )));
    };
    if field("client_secret") != Some(&app.client_secret) {
        return Err(Box::new(aad_error(
            state,
            401,
            "invalid_client",
            7_000_215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        )));
    }
    let scope = field("scope").ok_or_else(|| missing(state, "scope"))?;
    match grant_type.as_str() {
        "client_credentials" => {
            if !scope.ends_with("/.default") {
                return Err(Box::new(aad_error(
                    state,
                    400,
                    "invalid_scope",
                    1_002_012,
                    &format!(
                        "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                    ),
                )));
            }
        }
        JWT_BEARER => {
            if field("requested_token_use").map(String::as_str) != Some("on_behalf_of") {
                return Err(missing(state, "requested_token_use"));
            }
            let assertion = field("assertion").ok_or_else(|| missing(state, "assertion"))?;
            let Some(issued) = state.valid_token(assertion).filter(|t| t.tenant == tenant) else {
                return Err(Box::new(aad_error(
                    state,
                    400,
                    "invalid_grant",
                    50_013,
                    "Assertion failed signature validation or is not within its valid time range.",
                )));
            };
            let Some(user) = issued.user.filter(|_| issued.audience == *client_id) else {
                return Err(Box::new(aad_error(
                    state,
                    400,
                    "invalid_grant",
                    50_013,
                    "Assertion audience does not match the Client app presenting the assertion.",
                )));
            };
            let asked: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
            let resources: Vec<&str> = scope.split_whitespace().map(resource_of).collect();
            let Some(&resource) = resources.first() else {
                return Err(missing(state, "scope"));
            };
            if resources.iter().any(|r| *r != resource) {
                return Err(Box::new(aad_error(
                    state,
                    400,
                    "invalid_scope",
                    28_000,
                    "Provided value for the input parameter scope is not valid because it contains more than one resource.",
                )));
            }
            if resource == ACS_RESOURCE && !state.acs_consented(&user) {
                return Err(Box::new(aad_error_with(
                    state,
                    400,
                    "invalid_grant",
                    65_001,
                    &format!(
                        "The user or administrator has not consented to use the application with ID '{client_id}'. Send an interactive authorization request for this user and resource."
                    ),
                    Some("consent_required"),
                )));
            }
            let access_token =
                state.issue_token_for(tenant, client_id, Some(&user), resource, asked);
            return Ok(issued_answer(state, access_token, Some(scope)));
        }
        other => {
            return Err(Box::new(aad_error(
                state,
                400,
                "unsupported_grant_type",
                70_003,
                &format!("The app requested an unsupported grant type '{other}'."),
            )));
        }
    };
    let access_token =
        state.issue_token_for(tenant, client_id, None, resource_of(scope), Vec::new());
    Ok(issued_answer(state, access_token, None))
}

/// The resource a scope names: `https://auth.msft.net/Teams.ManageCalls` and
/// `https://auth.msft.net/.default` are both for `https://auth.msft.net`.
fn resource_of(scope: &str) -> &str {
    match scope.rfind('/') {
        Some(i) if i > "https://".len() => &scope[..i],
        _ => scope,
    }
}

fn issued_answer(state: &FakeState, access_token: String, scope: Option<&str>) -> Response {
    let lifetime = state.options.token_lifetime.as_secs();
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    });
    if let Some(scope) = scope {
        body["scope"] = json!(scope);
    }
    json_answer(200, &body)
}
