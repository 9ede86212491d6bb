//! Answers in each service's documented error shape, and acting out faults.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

use crate::control::{Fault, MalformedBody};
use crate::state::{Arrival, FakeState};

/// Whose error shape an endpoint answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The identity platform: `{error, error_description, error_codes, …}`.
    Aad,
    /// Graph: `{"error": {"code", "message", "innerError": {…}}}`.
    Graph,
    /// ACS: `{"error": {"code", "message"}}`.
    Acs,
}

/// A JSON answer.
pub(crate) fn json_answer(status: u16, body: &serde_json::Value) -> Response {
    let mut response = (
        status_code(status),
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response();
    response.headers_mut().insert(
        "request-id",
        HeaderValue::from_static("00000000-0000-0000-0000-000000000000"),
    );
    response
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn request_id(state: &FakeState) -> String {
    let n = state.random_u64(state.serial());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n >> 32,
        (n >> 16) & 0xffff,
        n & 0xfff,
        (n >> 20) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

fn timestamp(state: &FakeState) -> String {
    humantime::format_rfc3339_seconds(state.wall()).to_string()
}

/// A Graph error: `{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}`.
pub(crate) fn graph_error(state: &FakeState, status: u16, code: &str, message: &str) -> Response {
    let id = request_id(state);
    json_answer(
        status,
        &json!({"error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": timestamp(state).trim_end_matches('Z'),
                "request-id": id,
                "client-request-id": id,
            }
        }}),
    )
}

/// An identity platform error: `{error, error_description, error_codes, timestamp, trace_id, correlation_id}`.
pub(crate) fn aad_error(
    state: &FakeState,
    status: u16,
    error: &str,
    aadsts: u32,
    description: &str,
) -> Response {
    aad_error_with(state, status, error, aadsts, description, None)
}

/// [`aad_error`] with a `suberror` (`consent_required`, …) where the
/// identity platform gives one.
pub(crate) fn aad_error_with(
    state: &FakeState,
    status: u16,
    error: &str,
    aadsts: u32,
    description: &str,
    suberror: Option<&str>,
) -> Response {
    let trace = request_id(state);
    let correlation = request_id(state);
    let now = timestamp(state);
    let mut body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{aadsts}: {description} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {now}"
        ),
        "error_codes": [aadsts],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": correlation,
    });
    if let Some(suberror) = suberror {
        body["suberror"] = json!(suberror);
    }
    json_answer(status, &body)
}

/// An ACS error: `{"error": {"code", "message"}}`.
pub(crate) fn acs_error(status: u16, code: &str, message: &str) -> Response {
    json_answer(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// A generic error of `shape` for a fault status.
fn shaped_error(state: &FakeState, shape: Shape, status: u16) -> Response {
    let (graph_code, aad_error_code, message) = match status {
        429 => (
            "TooManyRequests",
            "temporarily_unavailable",
            "Too many requests. Please try again later.",
        ),
        500 => (
            "InternalServerError",
            "server_error",
            "An internal server error occurred.",
        ),
        502 => ("BadGateway", "server_error", "Bad gateway."),
        503 => (
            "ServiceUnavailable",
            "temporarily_unavailable",
            "The service is temporarily unavailable.",
        ),
        504 => ("GatewayTimeout", "server_error", "Gateway timeout."),
        _ => ("UnknownError", "invalid_request", "The request failed."),
    };
    match shape {
        Shape::Graph => graph_error(state, status, graph_code, message),
        Shape::Aad => aad_error(
            state,
            status,
            aad_error_code,
            90_000 + u32::from(status),
            message,
        ),
        Shape::Acs => acs_error(status, graph_code, message),
    }
}

/// Cuts the connection off: the head goes out, then the body fails, so the
/// server closes the connection without a complete answer.
pub(crate) fn cut_off() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("the fake cut the connection off"))
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

fn malformed(status: u16, kind: MalformedBody) -> Response {
    let body = match kind {
        MalformedBody::Truncated => "{\"id\": \"MSoxMjM0\", \"joinWebUrl\": \"https://teams.mic".to_owned(),
        MalformedBody::WrongShape => {
            json!({"id": 42, "joinWebUrl": null, "token": 7, "access_token": false, "expiresOn": []})
                .to_string()
        }
        MalformedBody::NotJson => "<html><body>Service Unavailable</body></html>".to_owned(),
    };
    (
        status_code(status),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Acts out the fault the call met, if any: `Some` answer to send instead of
/// the normal one (already recorded), or `None` to go on normally.
pub(crate) async fn act_out(
    state: &FakeState,
    arrival: &Arrival,
    shape: Shape,
    success_status: u16,
) -> Option<Response> {
    let fault = arrival.fault.clone()?;
    let (status, response) = match fault {
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            return None;
        }
        Fault::Disconnect => (0, cut_off()),
        Fault::Throttle { retry_after_secs } => {
            let mut response = shaped_error(state, shape, 429);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            (429, response)
        }
        Fault::Status(status) => (status, shaped_error(state, shape, status)),
        Fault::Malformed(kind) => (success_status, malformed(success_status, kind)),
    };
    state.finish(arrival.index, status);
    Some(response)
}
