//! Graph's presence and activity-feed endpoints, app-only:
//!
//! - `POST /v1.0/communications/getPresencesByUserId` with `{"ids": [...]}`
//!   (at most 650): `200` with `{"value": [presence...]}`; ids the fake does
//!   not know are left out of the answer, ids set to `PresenceUnknown` are
//!   answered as such.
//! - `POST /v1.0/users/{id}/presence/setPresence` with `{sessionId,
//!   availability, activity, expirationDuration}`: `200`; the session id must
//!   be the calling application's id, the pair one of the documented ones and
//!   the duration within `PT5M`..`PT4H` (default `PT5M`).
//! - `POST /v1.0/users/{id}/presence/clearPresence` with `{sessionId}`:
//!   `200`, or `404` when the session does not exist.
//! - `POST /v1.0/users/{id}/teamwork/sendActivityNotification` with `topic`,
//!   `activityType`, `previewText` and `templateParameters`: `204`.
//!
//! Every body is kept with its recorded call ([`crate::RecordedCall::body`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::answer::{Shape, act_out, graph_error, json_answer};
use crate::graph::bearer;
use crate::state::{Endpoint, FakeState, IssuedToken, PresenceSession};
use crate::token::path_of;

/// Most ids one `getPresencesByUserId` takes.
pub const MAX_PRESENCE_IDS: usize = 650;

/// The (availability, activity) pairs `setPresence` accepts.
const SETTABLE: [(&str, &str); 5] = [
    ("Available", "Available"),
    ("Busy", "InACall"),
    ("Busy", "InAConferenceCall"),
    ("Away", "Away"),
    ("DoNotDisturb", "Presenting"),
];

type Refusal = (u16, &'static str, String);

/// What every one of these endpoints does first: record the call with its
/// body, act out a fault, check the token and the JSON body.
async fn arrive(
    state: &FakeState,
    endpoint: Endpoint,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    success: u16,
) -> Result<(usize, IssuedToken, Value), Response> {
    let tenant = bearer(headers).and_then(|t| state.token_tenant(t));
    let arrival = state.arrive(endpoint, "POST", &path_of(uri), tenant);
    let parsed = serde_json::from_slice::<Value>(body).ok();
    if let Some(value) = &parsed {
        state.record_body(arrival.index, value.clone());
    }
    if let Some(response) = act_out(state, &arrival, Shape::Graph, success).await {
        return Err(response);
    }
    let refuse = |(status, code, message): Refusal| {
        state.finish(arrival.index, status);
        graph_error(state, status, code, &message)
    };
    let Some(token) = bearer(headers)
        .filter(|t| !t.is_empty())
        .and_then(|t| state.valid_token(t))
    else {
        return Err(refuse((
            401,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.".into(),
        )));
    };
    if token.user.is_some() {
        return Err(refuse((
            403,
            "Forbidden",
            "This fake serves these endpoints to app-only tokens.".into(),
        )));
    }
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        return Err(refuse((
            415,
            "UnsupportedMediaType",
            "Content-Type must be application/json.".into(),
        )));
    }
    let Some(parsed) = parsed.filter(Value::is_object) else {
        return Err(refuse((
            400,
            "BadRequest",
            "Unable to read JSON request payload.".into(),
        )));
    };
    Ok((arrival.index, token, parsed))
}

fn finish(state: &FakeState, index: usize, result: Result<Response, Refusal>) -> Response {
    match result {
        Ok(response) => {
            state.finish(index, response.status().as_u16());
            response
        }
        Err((status, code, message)) => {
            state.finish(index, status);
            graph_error(state, status, code, &message)
        }
    }
}

pub(crate) async fn get_presences(
    State(state): State<Arc<FakeState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (index, _token, request) =
        match arrive(&state, Endpoint::GetPresences, &uri, &headers, &body, 200).await {
            Ok(ok) => ok,
            Err(response) => return response,
        };
    let result = presences(&state, &request);
    finish(&state, index, result)
}

fn presences(state: &FakeState, request: &Value) -> Result<Response, Refusal> {
    let Some(ids) = request["ids"].as_array() else {
        return Err((400, "BadRequest", "The ids property is required.".into()));
    };
    if ids.len() > MAX_PRESENCE_IDS {
        return Err((
            400,
            "BadRequest",
            format!("A maximum of {MAX_PRESENCE_IDS} user IDs is supported per request."),
        ));
    }
    let mut value = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(id) = id.as_str().filter(|s| !s.is_empty()) else {
            return Err((
                400,
                "BadRequest",
                "Invalid value in the ids collection.".into(),
            ));
        };
        if let Some(p) = state.read_presence(id) {
            value.push(json!({
                "id": id,
                "availability": p.availability,
                "activity": p.activity,
                "statusMessage": null,
            }));
        }
    }
    Ok(json_answer(
        200,
        &json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.presence)",
            "value": value,
        }),
    ))
}

pub(crate) async fn set_presence(
    State(state): State<Arc<FakeState>>,
    Path(user): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (index, token, request) =
        match arrive(&state, Endpoint::SetPresence, &uri, &headers, &body, 200).await {
            Ok(ok) => ok,
            Err(response) => return response,
        };
    let result = set(&state, &user, &token, &request);
    finish(&state, index, result)
}

fn session_id<'a>(token: &IssuedToken, request: &'a Value) -> Result<&'a str, Refusal> {
    let Some(session) = request["sessionId"].as_str().filter(|s| !s.is_empty()) else {
        return Err((
            400,
            "BadRequest",
            "The sessionId property is required.".into(),
        ));
    };
    if session != token.client_id {
        return Err((
            400,
            "BadRequest",
            "The sessionId must be the id of the calling application.".into(),
        ));
    }
    Ok(session)
}

fn set(
    state: &FakeState,
    user: &str,
    token: &IssuedToken,
    request: &Value,
) -> Result<Response, Refusal> {
    let session = session_id(token, request)?;
    let (Some(availability), Some(activity)) = (
        request["availability"].as_str(),
        request["activity"].as_str(),
    ) else {
        return Err((
            400,
            "BadRequest",
            "The availability and activity properties are required.".into(),
        ));
    };
    if !SETTABLE.contains(&(availability, activity)) {
        return Err((
            400,
            "BadRequest",
            format!("The combination {availability}/{activity} is not supported."),
        ));
    }
    let expiration = match &request["expirationDuration"] {
        Value::Null => Duration::from_secs(300),
        Value::String(s) => iso_duration(s).ok_or((
            400,
            "BadRequest",
            format!("Invalid expirationDuration '{s}'."),
        ))?,
        _ => {
            return Err((400, "BadRequest", "Invalid expirationDuration.".into()));
        }
    };
    if !(Duration::from_secs(300)..=Duration::from_secs(4 * 3600)).contains(&expiration) {
        return Err((
            400,
            "BadRequest",
            "The expirationDuration must be between PT5M and PT4H.".into(),
        ));
    }
    state.set_session(PresenceSession {
        user: user.to_owned(),
        session_id: session.to_owned(),
        availability: availability.to_owned(),
        activity: activity.to_owned(),
        expiration,
        expires_at: state.now() + expiration,
    });
    Ok(StatusCode::OK.into_response())
}

pub(crate) async fn clear_presence(
    State(state): State<Arc<FakeState>>,
    Path(user): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (index, token, request) =
        match arrive(&state, Endpoint::ClearPresence, &uri, &headers, &body, 200).await {
            Ok(ok) => ok,
            Err(response) => return response,
        };
    let result = session_id(&token, &request).and_then(|session| {
        if state.clear_session(&user, session) {
            Ok(StatusCode::OK.into_response())
        } else {
            Err((
                404,
                "NotFound",
                "The presence session does not exist.".into(),
            ))
        }
    });
    finish(&state, index, result)
}

pub(crate) async fn send_activity_notification(
    State(state): State<Arc<FakeState>>,
    Path(_user): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (index, _token, request) = match arrive(
        &state,
        Endpoint::SendActivityNotification,
        &uri,
        &headers,
        &body,
        204,
    )
    .await
    {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let result = notification(&request).map(|()| StatusCode::NO_CONTENT.into_response());
    finish(&state, index, result)
}

fn notification(request: &Value) -> Result<(), Refusal> {
    let bad = |message: &str| Err((400, "BadRequest", message.to_owned()));
    let topic = &request["topic"];
    let source = topic["source"].as_str();
    if !matches!(source, Some("entityUrl" | "text")) {
        return bad("topic.source must be entityUrl or text.");
    }
    if topic["value"].as_str().is_none_or(str::is_empty) {
        return bad("topic.value is required.");
    }
    if source == Some("text") && topic["webUrl"].as_str().is_none_or(str::is_empty) {
        return bad("topic.webUrl is required when topic.source is text.");
    }
    if request["activityType"].as_str().is_none_or(str::is_empty) {
        return bad("activityType is required.");
    }
    if !request["previewText"]["content"].is_string() {
        return bad("previewText.content is required.");
    }
    match &request["templateParameters"] {
        Value::Null => {}
        Value::Array(pairs) => {
            let pairs_ok = pairs
                .iter()
                .all(|p| p["name"].is_string() && p["value"].is_string());
            if !pairs_ok {
                return bad("templateParameters must be name/value pairs.");
            }
        }
        _ => return bad("templateParameters must be a collection."),
    }
    Ok(())
}

/// An ISO 8601 duration of the `PT#H#M#S` form (whole numbers).
fn iso_duration(s: &str) -> Option<Duration> {
    let rest = s.strip_prefix("PT")?;
    if rest.is_empty() {
        return None;
    }
    let mut secs = 0u64;
    let mut number = String::new();
    for c in rest.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        secs += n * match c {
            'H' => 3600,
            'M' => 60,
            'S' => 1,
            _ => return None,
        };
    }
    number.is_empty().then_some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        assert_eq!(iso_duration("PT5M"), Some(Duration::from_secs(300)));
        assert_eq!(iso_duration("PT1H30M"), Some(Duration::from_secs(5400)));
        assert_eq!(iso_duration("PT90S"), Some(Duration::from_secs(90)));
        assert_eq!(iso_duration("PT"), None);
        assert_eq!(iso_duration("P1D"), None);
        assert_eq!(iso_duration("PT5"), None);
    }
}
