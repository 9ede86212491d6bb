//! Graph's `onlineMeetings/createOrGet`: `POST /v1.0/users/{id}/onlineMeetings/createOrGet`
//! with an app-only token, or `POST /v1.0/me/onlineMeetings/createOrGet` with
//! a delegated one. The body needs `externalId`; `subject`,
//! `startDateTime`, `endDateTime` and `participants` are optional. The first
//! call for (tenant, organizer, externalId) answers `201 Created` with a new
//! onlineMeeting, later ones `200 OK` with the same meeting.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::Response;
use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::answer::{Shape, act_out, graph_error, json_answer};
use crate::state::{Endpoint, FakeState};
use crate::token::path_of;

pub(crate) async fn create_or_get_for_user(
    State(state): State<Arc<FakeState>>,
    Path(user): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, Some(user), &uri, &headers, &body).await
}

pub(crate) async fn create_or_get_for_me(
    State(state): State<Arc<FakeState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, None, &uri, &headers, &body).await
}

/// Any other path: recorded, and answered as Graph answers an unknown segment.
pub(crate) async fn not_found(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
) -> Response {
    let arrival = state.arrive(Endpoint::Unknown, method.as_str(), &path_of(&uri), None);
    if let Some(response) = act_out(&state, &arrival, Shape::Graph, 200).await {
        return response;
    }
    state.finish(arrival.index, 404);
    graph_error(
        &state,
        404,
        "ResourceNotFound",
        &format!("Resource not found for the segment '{}'.", uri.path()),
    )
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn handle(
    state: &FakeState,
    user: Option<String>,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let tenant = bearer(headers).and_then(|t| state.token_tenant(t));
    let arrival = state.arrive(Endpoint::CreateOrGet, "POST", &path_of(uri), tenant);
    if let Some(response) = act_out(state, &arrival, Shape::Graph, 201).await {
        return response;
    }
    let (status, response) = match create_or_get(state, user, headers, body) {
        Ok((created, meeting)) => {
            let status = if created { 201 } else { 200 };
            (status, json_answer(status, &meeting))
        }
        Err((status, code, message)) => (status, graph_error(state, status, code, &message)),
    };
    state.finish(arrival.index, status);
    response
}

type Refusal = (u16, &'static str, String);

fn create_or_get(
    state: &FakeState,
    user: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(bool, Value), Refusal> {
    let Some(value) = bearer(headers).filter(|t| !t.is_empty()) else {
        return Err((
            401,
            "InvalidAuthenticationToken",
            "Access token is empty.".into(),
        ));
    };
    let Some(token) = state.valid_token(value) else {
        return Err((
            401,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.".into(),
        ));
    };
    let organizer = match (user, &token.user) {
        (Some(id), None) => id,
        (Some(id), Some(me)) if &id == me => id,
        (Some(_), Some(_)) => {
            return Err((
                403,
                "Forbidden",
                "Insufficient privileges to complete the operation.".into(),
            ));
        }
        (None, Some(me)) => me.clone(),
        (None, None) => {
            return Err((
                400,
                "BadRequest",
                "/me request is only valid with delegated authentication flow.".into(),
            ));
        }
    };
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        return Err((
            415,
            "UnsupportedMediaType",
            "Content-Type must be application/json.".into(),
        ));
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Err((
            400,
            "BadRequest",
            "Unable to read JSON request payload.".into(),
        ));
    };
    let Some(external_id) = request["externalId"].as_str().filter(|s| !s.is_empty()) else {
        return Err((
            400,
            "BadRequest",
            "The externalId property is required.".into(),
        ));
    };
    for (name, ok) in [
        (
            "subject",
            request["subject"].is_null() || request["subject"].is_string(),
        ),
        (
            "startDateTime",
            request["startDateTime"].is_null() || request["startDateTime"].is_string(),
        ),
        (
            "endDateTime",
            request["endDateTime"].is_null() || request["endDateTime"].is_string(),
        ),
        (
            "participants",
            request["participants"].is_null() || request["participants"].is_object(),
        ),
    ] {
        if !ok {
            return Err((
                400,
                "BadRequest",
                format!("Invalid value for property '{name}'."),
            ));
        }
    }
    let tenant = token.tenant.clone();
    let now = state.wall();
    let (meeting, created) = state.create_or_get(&tenant, &organizer, external_id, |serial| {
        let thread = format!("19:meeting_{serial:024x}@thread.v2");
        let id =
            base64::engine::general_purpose::STANDARD.encode(format!("1*{organizer}*0**{thread}"));
        let start = request["startDateTime"]
            .as_str()
            .map_or_else(|| rfc3339(now), str::to_owned);
        let end = request["endDateTime"]
            .as_str()
            .map_or_else(|| rfc3339(now + Duration::from_secs(3600)), str::to_owned);
        let attendees = request["participants"]["attendees"].clone();
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#onlineMeetings/$entity",
            "id": id,
            "creationDateTime": rfc3339(now),
            "startDateTime": start,
            "endDateTime": end,
            "joinWebUrl": format!(
                "{}/l/meetup-join/19%3ameeting_{serial:024x}%40thread.v2/0",
                state.base_url
            ),
            "subject": request["subject"].clone(),
            "externalId": external_id,
            "isBroadcast": false,
            "autoAdmittedUsers": "everyoneInCompany",
            "participants": {
                "organizer": {
                    "upn": null,
                    "role": "presenter",
                    "identity": {"user": {"id": organizer, "tenantId": tenant, "displayName": null}}
                },
                "attendees": if attendees.is_array() { attendees } else { json!([]) }
            },
            "chatInfo": {"threadId": thread, "messageId": "0", "replyChainMessageId": null},
            "joinMeetingIdSettings": {
                "isPasscodeRequired": false,
                "joinMeetingId": format!("{:012}", serial * 7919 % 1_000_000_000_000),
                "passcode": null
            },
            "videoTeleconferenceId": null
        })
    });
    Ok((created, meeting))
}

fn rfc3339(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}
