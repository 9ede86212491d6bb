//! Graph's `GET /v1.0/teams/{id}/members` with an app-only token: the
//! team's members as `aadUserConversationMember`s; a `$filter` of the form
//! `(microsoft.graph.aadUserConversationMember/userId eq '{id}')` keeps that
//! user only. An unknown team is `404 NotFound`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::json;

use crate::answer::{Shape, act_out, graph_error, json_answer};
use crate::graph::bearer;
use crate::state::{Endpoint, FakeState};
use crate::token::path_of;

/// The user id a `$filter` asks for, if any.
fn filtered_user(uri: &Uri) -> Option<String> {
    let query = uri.query()?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    let filter = pairs.into_iter().find(|(k, _)| k == "$filter")?.1;
    let start = filter.find("userId eq '")? + "userId eq '".len();
    let rest = &filter[start..];
    Some(rest[..rest.find('\'')?].to_owned())
}

pub(crate) async fn members(
    State(state): State<Arc<FakeState>>,
    Path(team): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let tenant = bearer(&headers).and_then(|t| state.token_tenant(t));
    let arrival = state.arrive(Endpoint::TeamMembers, "GET", &path_of(&uri), tenant);
    if let Some(response) = act_out(&state, &arrival, Shape::Graph, 200).await {
        return response;
    }
    let valid = bearer(&headers)
        .filter(|t| !t.is_empty())
        .and_then(|t| state.valid_token(t))
        .is_some();
    if !valid {
        state.finish(arrival.index, 401);
        let message = "Access token has expired or is not yet valid.";
        return graph_error(&state, 401, "InvalidAuthenticationToken", message);
    }
    let Some(members) = state.team_members(&team) else {
        state.finish(arrival.index, 404);
        let message = format!("No team found with Group Id {team}");
        return graph_error(&state, 404, "NotFound", &message);
    };
    let wanted = filtered_user(&uri);
    let value: Vec<_> = members
        .iter()
        .filter(|m| wanted.as_ref().is_none_or(|w| w == *m))
        .map(|m| {
            json!({
                "@odata.type": "#microsoft.graph.aadUserConversationMember",
                "id": format!("member-{m}"),
                "roles": [],
                "userId": m,
            })
        })
        .collect();
    state.finish(arrival.index, 200);
    json_answer(200, &json!({ "value": value }))
}
