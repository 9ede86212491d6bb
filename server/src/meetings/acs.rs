//! ACS group calls: the call id is derived from the room or the member set
//! ([`super::ids::group_call_id`]); each member that came with a Teams token
//! for ACS gets an ACS token through the Teams user token exchange, so the
//! client can join. A member whose exchange fails is left without a token
//! (and logged); the request fails only when every exchange failed.

use std::sync::Arc;

use futures_util::future::join_all;

use super::provider::{MeetingFuture, MeetingPlan, MeetingProvider, external_id_of};
use super::{AcsJoin, MeetingFailure, MeetingInfo, MeetingRequest, MemberToken, ProviderKind, ids};
use crate::graph::AcsClient;

/// The ACS provider.
#[derive(Debug, Clone)]
pub struct AcsMeetings {
    client: Arc<AcsClient>,
    app_id: String,
}

impl AcsMeetings {
    /// Calls through `client`; Teams tokens must be issued to `app_id`.
    pub fn new(client: Arc<AcsClient>, app_id: String) -> AcsMeetings {
        AcsMeetings { client, app_id }
    }
}

impl MeetingProvider for AcsMeetings {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Acs
    }

    fn plan(&self, request: &MeetingRequest) -> Result<MeetingPlan, MeetingFailure> {
        let external_id = external_id_of(request)?;
        // Tokens are per member: only requests with the same members holding
        // tokens may share one exchange.
        let mut with_tokens: Vec<String> = request
            .kind
            .members()
            .iter()
            .filter(|m| m.teams_token.is_some())
            .map(|m| m.user.to_string())
            .collect();
        with_tokens.sort();
        with_tokens.dedup();
        Ok(MeetingPlan {
            identity: format!("acs|{external_id}|{}", with_tokens.join(",")),
            external_id,
            organizer: None,
            cacheable: false,
        })
    }

    fn open(&self, plan: MeetingPlan, request: MeetingRequest) -> MeetingFuture {
        let client = self.client.clone();
        let app_id = self.app_id.clone();
        Box::pin(async move {
            let group_call_id = ids::group_call_id(&plan.external_id);
            let holders: Vec<_> = request
                .kind
                .members()
                .iter()
                .filter_map(|m| m.teams_token.clone().map(|t| (m.user.clone(), t)))
                .collect();
            let exchanges = holders.iter().map(|(user, aad)| {
                client.exchange_teams_token(&user.tenant, &app_id, &user.oid, aad)
            });
            let results = join_all(exchanges).await;
            let mut tokens = Vec::new();
            let mut first_error = None;
            for ((user, _), result) in holders.iter().zip(results) {
                match result {
                    Ok(t) => tokens.push(MemberToken {
                        user: user.clone(),
                        token: t.token,
                        expires_on: t.expires_on,
                    }),
                    Err(e) => {
                        tracing::warn!(user = %user, cause = %e, "ACS token exchange failed");
                        first_error.get_or_insert(e);
                    }
                }
            }
            if let (true, Some(e)) = (tokens.is_empty(), first_error) {
                return Err(e.into());
            }
            Ok(MeetingInfo {
                provider: ProviderKind::Acs,
                meeting_id: group_call_id.clone(),
                external_id: plan.external_id,
                join_url: None,
                organizer: None,
                acs: Some(AcsJoin {
                    group_call_id,
                    tokens,
                }),
            })
        })
    }
}
