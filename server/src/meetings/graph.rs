//! Teams meetings through Graph `onlineMeetings/createOrGet`.
//!
//! The organizer: for a meeting room, `[graph] room_organizer` in the
//! request's tenant (or `[graph] tenant_id` for an office without one); for a group, the member with the smallest (tenant,
//! oid). The call is made in the organizer's tenant, with the externalId of
//! [`super::ids`], so Graph reuses the meeting of the same (tenant,
//! organizer, externalId). Attendees are the other members.

use std::sync::Arc;

use super::provider::{MeetingFuture, MeetingPlan, MeetingProvider, external_id_of, subject_of};
use super::{MeetingFailure, MeetingInfo, MeetingKind, MeetingRequest, ProviderKind, UserRef, ids};
use crate::graph::{CreateOrGet, GraphClient};

/// The Graph provider.
#[derive(Debug, Clone)]
pub struct GraphMeetings {
    client: Arc<GraphClient>,
    room_organizer: Option<String>,
    default_tenant: Option<String>,
}

impl GraphMeetings {
    /// Meetings through `client`; rooms are organized by `room_organizer`
    /// (an object id in each office's tenant).
    pub fn new(client: Arc<GraphClient>, room_organizer: Option<String>) -> GraphMeetings {
        GraphMeetings {
            client,
            room_organizer,
            default_tenant: None,
        }
    }

    /// Rooms of offices without a tenant (`MeetingRequest::tenant` empty)
    /// are organized in `tenant` (`[graph] tenant_id`).
    pub fn with_default_tenant(mut self, tenant: Option<String>) -> GraphMeetings {
        self.default_tenant = tenant;
        self
    }
}

impl MeetingProvider for GraphMeetings {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Graph
    }

    fn plan(&self, request: &MeetingRequest) -> Result<MeetingPlan, MeetingFailure> {
        let external_id = external_id_of(request)?;
        let organizer = match &request.kind {
            MeetingKind::Room { .. } => {
                let Some(oid) = &self.room_organizer else {
                    return Err(MeetingFailure::Invalid(
                        "meeting rooms need [graph] room_organizer".into(),
                    ));
                };
                let tenant = match (&request.tenant, &self.default_tenant) {
                    (t, Some(default)) if t.is_empty() => default.clone(),
                    (t, _) if t.is_empty() => {
                        return Err(MeetingFailure::Invalid(
                            "a room of an office without a tenant needs [graph] tenant_id".into(),
                        ));
                    }
                    (t, _) => t.clone(),
                };
                UserRef {
                    tenant,
                    oid: oid.clone(),
                }
            }
            MeetingKind::Group { members } => ids::group_organizer(members.iter().map(|m| &m.user))
                .cloned()
                .ok_or_else(|| MeetingFailure::Invalid("a group without members".into()))?,
        };
        Ok(MeetingPlan {
            identity: format!("graph|{}|{}|{external_id}", organizer.tenant, organizer.oid),
            external_id,
            organizer: Some(organizer),
            cacheable: true,
        })
    }

    fn open(&self, plan: MeetingPlan, request: MeetingRequest) -> MeetingFuture {
        let client = self.client.clone();
        Box::pin(async move {
            let organizer = plan
                .organizer
                .ok_or_else(|| MeetingFailure::Invalid("no organizer".into()))?;
            let attendees = match &request.kind {
                MeetingKind::Room { .. } => Vec::new(),
                MeetingKind::Group { members } => {
                    let mut oids: Vec<String> = members
                        .iter()
                        .filter(|m| m.user != organizer)
                        .map(|m| m.user.oid.clone())
                        .collect();
                    oids.sort();
                    oids.dedup();
                    oids
                }
            };
            let meeting = client
                .create_or_get(
                    &organizer.tenant,
                    &organizer.oid,
                    &CreateOrGet {
                        external_id: plan.external_id.clone(),
                        subject: Some(subject_of(&request)),
                        attendees,
                    },
                )
                .await?;
            Ok(MeetingInfo {
                provider: ProviderKind::Graph,
                meeting_id: meeting.id,
                external_id: plan.external_id,
                join_url: Some(meeting.join_web_url),
                organizer: Some(organizer),
                acs: None,
            })
        })
    }
}
