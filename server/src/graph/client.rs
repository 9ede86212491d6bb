//! The Graph client: app-only calls on behalf of the server, through the
//! shared [`Transport`]. For now one call: `onlineMeetings/createOrGet`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use url::Url;

use super::auth::TokenSource;
use super::budget::{BudgetKind, Budgets};
use super::config::GraphConfig;
use super::transport::{Call, Transport};
use super::{GraphError, error_of_graph};
use crate::clock::SharedClock;

/// What to create or get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOrGet {
    /// The meeting's key at Graph (at most 64 characters here).
    pub external_id: String,
    /// The meeting's subject.
    pub subject: Option<String>,
    /// Object ids of attendees besides the organizer.
    pub attendees: Vec<String>,
}

/// A meeting as Graph returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineMeeting {
    /// The onlineMeeting id.
    pub id: String,
    /// The URL people join by.
    pub join_web_url: String,
    /// The externalId it has.
    pub external_id: Option<String>,
    /// Whether Graph created it now (`201`) rather than finding it (`200`).
    pub created: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    user: UserId<'a>,
}

#[derive(Serialize)]
struct UserId<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct Participant<'a> {
    identity: Identity<'a>,
    role: &'static str,
}

#[derive(Serialize)]
struct Participants<'a> {
    organizer: Participant<'a>,
    attendees: Vec<Participant<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateOrGetBody<'a> {
    external_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    participants: Participants<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeetingAnswer {
    id: String,
    join_web_url: String,
    #[serde(default)]
    external_id: Option<String>,
}

/// A Graph client for one application, shared by every office.
#[derive(Debug)]
pub struct GraphClient {
    transport: Arc<Transport>,
    tokens: Arc<TokenSource>,
    base_url: Url,
}

impl GraphClient {
    /// A client for `config`, which must have credentials. Makes its own
    /// [`Transport`] (and so its own budgets).
    pub fn new(config: &GraphConfig, clock: SharedClock) -> Result<GraphClient, GraphError> {
        let transport = Arc::new(Transport::new(
            &config.retry,
            config.budgets.clone(),
            clock,
        )?);
        GraphClient::with_transport(config, transport)
    }

    /// A client sending through `transport`.
    pub fn with_transport(
        config: &GraphConfig,
        transport: Arc<Transport>,
    ) -> Result<GraphClient, GraphError> {
        let (Some(client_id), Some(secret)) = (&config.client_id, &config.client_secret) else {
            return Err(GraphError::NotConfigured(
                "graph.client_id and graph.client_secret",
            ));
        };
        let tokens = Arc::new(TokenSource::new(
            transport.clone(),
            &config.login_url,
            client_id,
            secret.clone(),
            &config.scope,
        )?);
        let mut base_url = Url::parse(&config.base_url)
            .map_err(|e| GraphError::Request(format!("graph.base_url: {e}")))?;
        base_url
            .path_segments_mut()
            .map_err(|()| GraphError::Request("graph.base_url cannot be a base".into()))?
            .pop_if_empty();
        Ok(GraphClient {
            transport,
            tokens,
            base_url,
        })
    }

    /// The transport (budgets, clock).
    pub fn transport(&self) -> &Arc<Transport> {
        &self.transport
    }

    /// The Graph budgets.
    pub fn budgets(&self) -> &Budgets {
        self.transport.budgets()
    }

    /// The token source (for on-behalf-of exchanges).
    pub fn tokens(&self) -> &Arc<TokenSource> {
        &self.tokens
    }

    /// The Graph URL of `segments` under the base URL.
    pub(super) fn url(&self, segments: &[&str]) -> Result<Url, GraphError> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| GraphError::Request("graph.base_url cannot be a base".into()))?
            .extend(segments);
        Ok(url)
    }

    /// POSTs `body` (JSON) to `url` with an app-only token of the call's
    /// tenant, once more with a fresh token if Graph refuses ours (`401`).
    pub(super) async fn post_json(
        &self,
        call: &Call<'_>,
        url: &Url,
        body: Vec<u8>,
    ) -> Result<super::Answer, GraphError> {
        let mut answer = None;
        for fresh_token in [false, true] {
            let token = self.tokens.app_token(call.tenant).await?;
            let got = self
                .transport
                .send(call, |http| {
                    http.post(url.clone())
                        .bearer_auth(token.expose())
                        .header("content-type", "application/json")
                        .body(body.clone())
                })
                .await?;
            if got.status == 401 && !fresh_token {
                self.tokens.invalidate(call.tenant).await;
                continue;
            }
            answer = Some(got);
            break;
        }
        answer.ok_or(GraphError::Rejected {
            endpoint: call.endpoint,
            status: 401,
            code: "InvalidAuthenticationToken".into(),
            message: "a fresh app token was refused too".into(),
        })
    }

    /// `POST /users/{organizer}/onlineMeetings/createOrGet` in `tenant`:
    /// the meeting with `meeting.external_id`, created if it is new. Counts
    /// against the organizer's monthly meetings and the Graph budgets.
    pub async fn create_or_get(
        &self,
        tenant: &str,
        organizer: &str,
        meeting: &CreateOrGet,
    ) -> Result<OnlineMeeting, GraphError> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| GraphError::Request("graph.base_url cannot be a base".into()))?
            .extend(["users", organizer, "onlineMeetings", "createOrGet"]);
        let body = serde_json::to_vec(&CreateOrGetBody {
            external_id: &meeting.external_id,
            subject: meeting.subject.as_deref(),
            participants: Participants {
                organizer: Participant {
                    identity: Identity {
                        user: UserId { id: organizer },
                    },
                    role: "presenter",
                },
                attendees: meeting
                    .attendees
                    .iter()
                    .map(|id| Participant {
                        identity: Identity {
                            user: UserId { id },
                        },
                        role: "attendee",
                    })
                    .collect(),
            },
        })
        .map_err(|e| GraphError::Request(e.to_string()))?;
        let call = Call {
            endpoint: "createOrGet",
            tenant,
            budget: Some((BudgetKind::Meetings, 1)),
        };
        // One more try with a fresh token if Graph says ours is not valid.
        for fresh_token in [false, true] {
            let token = self.tokens.app_token(tenant).await?;
            if !fresh_token {
                // Counted once the call is about to go, not per attempt.
                self.budgets().take_meeting(tenant, organizer)?;
            }
            let answer = self
                .transport
                .send(&call, |http| {
                    http.post(url.clone())
                        .bearer_auth(token.expose())
                        .header("content-type", "application/json")
                        .body(body.clone())
                })
                .await?;
            if answer.status == 401 && !fresh_token {
                self.tokens.invalidate(tenant).await;
                continue;
            }
            if answer.status != 200 && answer.status != 201 {
                return Err(error_of_graph("createOrGet", &answer));
            }
            let malformed = |reason: String| GraphError::Malformed {
                endpoint: "createOrGet",
                reason,
            };
            let parsed: MeetingAnswer = serde_json::from_slice(&answer.body)
                .map_err(|e| malformed(format!("not an onlineMeeting: {e}")))?;
            if parsed.id.is_empty() || Url::parse(&parsed.join_web_url).is_err() {
                return Err(malformed("no id or no joinWebUrl".into()));
            }
            if parsed
                .external_id
                .as_deref()
                .is_some_and(|e| e != meeting.external_id)
            {
                return Err(malformed("a meeting with another externalId".into()));
            }
            return Ok(OnlineMeeting {
                id: parsed.id,
                join_web_url: parsed.join_web_url,
                external_id: parsed.external_id,
                created: answer.status == 201,
            });
        }
        Err(GraphError::Rejected {
            endpoint: "createOrGet",
            status: 401,
            code: "InvalidAuthenticationToken".into(),
            message: "a fresh app token was refused too".into(),
        })
    }

    /// Whether `user` (an object id) is a member of `team` in `tenant`:
    /// `GET /teams/{team}/members` filtered on the user, app-only, counted
    /// against the team-members budgets.
    pub async fn is_team_member(
        &self,
        tenant: &str,
        team: &str,
        user: &str,
    ) -> Result<bool, GraphError> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| GraphError::Request("graph.base_url cannot be a base".into()))?
            .extend(["teams", team, "members"]);
        // The user id is a GUID-like id checked by the caller; quotes are
        // doubled as OData wants all the same.
        let filter = format!(
            "(microsoft.graph.aadUserConversationMember/userId eq '{}')",
            user.replace('\'', "''")
        );
        url.query_pairs_mut().append_pair("$filter", &filter);
        let call = Call {
            endpoint: "teamMembers",
            tenant,
            budget: Some((BudgetKind::TeamMembers, 1)),
        };
        for fresh_token in [false, true] {
            let token = self.tokens.app_token(tenant).await?;
            let answer = self
                .transport
                .send(&call, |http| {
                    http.get(url.clone()).bearer_auth(token.expose())
                })
                .await?;
            if answer.status == 401 && !fresh_token {
                self.tokens.invalidate(tenant).await;
                continue;
            }
            if answer.status == 404 {
                return Ok(false);
            }
            if answer.status != 200 {
                return Err(error_of_graph("teamMembers", &answer));
            }
            let parsed: MembersAnswer =
                serde_json::from_slice(&answer.body).map_err(|e| GraphError::Malformed {
                    endpoint: "teamMembers",
                    reason: format!("not a list of members: {e}"),
                })?;
            return Ok(parsed
                .value
                .iter()
                .any(|m| m.user_id.as_deref() == Some(user)));
        }
        Err(GraphError::Rejected {
            endpoint: "teamMembers",
            status: 401,
            code: "InvalidAuthenticationToken".into(),
            message: "a fresh app token was refused too".into(),
        })
    }
}

#[derive(Deserialize)]
struct MembersAnswer {
    #[serde(default)]
    value: Vec<Member>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Member {
    user_id: Option<String>,
}
