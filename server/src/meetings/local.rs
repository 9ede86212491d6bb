//! Local meetings: no Azure, no I/O. The join URL says what it is:
//! `local://metaoffice/<office>/<externalId>`, provider `local`.

use super::provider::{MeetingFuture, MeetingPlan, MeetingProvider, external_id_of};
use super::{MeetingFailure, MeetingInfo, MeetingRequest, ProviderKind};

/// The provider used when no Azure settings are given.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalMeetings;

impl MeetingProvider for LocalMeetings {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Local
    }

    fn plan(&self, request: &MeetingRequest) -> Result<MeetingPlan, MeetingFailure> {
        let external_id = external_id_of(request)?;
        Ok(MeetingPlan {
            identity: format!("local|{}|{external_id}", request.office),
            external_id,
            organizer: None,
            cacheable: true,
        })
    }

    fn open(&self, plan: MeetingPlan, request: MeetingRequest) -> MeetingFuture {
        let info = MeetingInfo {
            provider: ProviderKind::Local,
            meeting_id: format!("local-{}", plan.external_id),
            join_url: Some(format!(
                "local://metaoffice/{}/{}",
                request.office, plan.external_id
            )),
            external_id: plan.external_id,
            organizer: None,
            acs: None,
        };
        Box::pin(std::future::ready(Ok(info)))
    }
}
