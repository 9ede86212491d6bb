//! ACS group calls: the call id is derived from the room or the member set
//! ([`super::ids::group_call_id`]); each member that came with their Teams
//! sign-in (SSO) token gets an ACS token, so the client can join, in two
//! steps:
//!
//! 1. the SSO token (audience: this app) is exchanged on the member's behalf
//!    (on-behalf-of grant) for an Entra token for ACS's Teams user scopes,
//!    [`crate::graph::ACS_TEAMS_SCOPES`]; results are cached per user in
//!    memory until shortly before they expire ([`OboTokens`]), so a second
//!    meeting soon after makes no new on-behalf-of call;
//! 2. that token goes to ACS's Teams user token exchange for an ACS token
//!    (a 401 there forgets the cached token, so the next meeting asks anew).
//!
//! A member whose on-behalf-of exchange (`invalid_grant`,
//! `consent_required`, 5xx…) or ACS exchange fails is left without a token
//! and logged with the reason (never a token); the request fails only when
//! every member failed.

use std::sync::Arc;

use futures_util::future::join_all;

use super::provider::{MeetingFuture, MeetingPlan, MeetingProvider, external_id_of};
use super::{AcsJoin, MeetingFailure, MeetingInfo, MeetingRequest, MemberToken, ProviderKind, ids};
use crate::graph::{AcsClient, AcsToken, GraphError, OboTokens, Secret};

/// The ACS provider.
#[derive(Debug, Clone)]
pub struct AcsMeetings {
    client: Arc<AcsClient>,
    obo: Arc<OboTokens>,
}

impl AcsMeetings {
    /// Calls ACS through `client`; members' SSO tokens are exchanged for
    /// ACS-scoped Entra tokens through `obo` (whose scope should be
    /// [`crate::graph::ACS_TEAMS_SCOPES`]), by the application ACS is told
    /// the tokens were issued to.
    pub fn new(client: Arc<AcsClient>, obo: Arc<OboTokens>) -> AcsMeetings {
        AcsMeetings { client, obo }
    }
}

/// Which step failed for a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    OnBehalfOf,
    Exchange,
}

/// The member's ACS token: on-behalf-of for the ACS scopes, then ACS's
/// exchange of that token.
async fn acs_token(
    client: &AcsClient,
    obo: &OboTokens,
    user: &super::UserRef,
    sso: &Secret,
) -> Result<AcsToken, (Step, GraphError)> {
    let aad = obo
        .token(&user.tenant, &user.oid, sso)
        .await
        .map_err(|e| (Step::OnBehalfOf, e))?;
    let exchanged = client
        .exchange_teams_token(&user.tenant, obo.client_id(), &user.oid, &aad)
        .await;
    if let Err(GraphError::Rejected { status: 401, .. }) = &exchanged {
        // ACS no longer takes it (revoked, say): ask again next time.
        obo.forget(&user.tenant, &user.oid);
    }
    exchanged.map_err(|e| (Step::Exchange, e))
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
        let obo = self.obo.clone();
        Box::pin(async move {
            let group_call_id = ids::group_call_id(&plan.external_id);
            let holders: Vec<_> = request
                .kind
                .members()
                .iter()
                .filter_map(|m| m.teams_token.clone().map(|t| (m.user.clone(), t)))
                .collect();
            let exchanges = holders
                .iter()
                .map(|(user, sso)| acs_token(&client, &obo, user, sso));
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
                    Err((Step::OnBehalfOf, e)) => {
                        tracing::warn!(
                            user = %user,
                            cause = %e,
                            "on-behalf-of token for ACS failed: the member gets no ACS token"
                        );
                        first_error.get_or_insert(e);
                    }
                    Err((Step::Exchange, e)) => {
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
