//! Conversations in the office world: the systems that keep the office's
//! [`GroupBook`] up to date each tick, ask the meeting desk for meetings,
//! and tell each group's members (and only them) what happened.
//!
//! - Conversations phase (after movement, before emit): recompute groups
//!   from where avatars stand; a room group is announced (`GroupFormed`) and
//!   gets its meeting asked for at once; a proximity group only once its
//!   member set has stayed the same for the dwell time, so walking past
//!   someone creates nothing. A group that changes keeps its meeting; one
//!   that dissolves has its pending request cancelled.
//! - Receive phase: outcomes from the desk are drained with `try_recv`
//!   (never waiting) and sent as `MeetingReady`; outcomes of groups that are
//!   gone are dropped.
//! - Emit phase: the messages go into the members' outboxes, one frame each.
//!
//! A member's `UserRef` is their Teams user; a development login, which has
//! none, is the office's tenant (`[graph] tenant_id`, or `local`) with the
//! avatar id as object id. Teams users in a group with a meeting are told to
//! the presence hub, which shows them busy in Teams while it lasts.

use bevy_ecs::prelude::*;
use bevy_ecs::system::SystemParam;
use bytes::Bytes;
use metaoffice_protocol::{GroupDissolved, GroupKind, GroupState, MeetingReady, ServerMessage};
use rustc_hash::FxHashMap;
use tokio::sync::mpsc;

use super::groups::{
    ConversationGroup, ConversationsConfig, GroupBook, GroupChange, MeetingState, Place, Standing,
};
use super::network::{SendPolicy, Viewer};
use super::people::{Identity, OfficePresence};
use super::sim::{Avatar, AvatarIndex, TickCount};
use crate::map::{OfficeMap, ZoneKind};
use crate::meetings::{
    MeetingDesk, MeetingKey, MeetingKind, MeetingOutcome, MeetingRequest, Member, ProviderKind,
};
use crate::movement::Walker;

/// Which zone each tile is in, for conversations, and the room names.
#[derive(Resource, Debug, Default)]
pub struct ConversationZones {
    width: i32,
    height: i32,
    /// Per tile: 0 open, 1 silent, 2 + n meeting room n.
    tiles: Vec<u32>,
    /// Room names by number; only grows, so numbers survive map changes.
    pub rooms: Vec<String>,
}

impl ConversationZones {
    /// Indexes the zones of `map`, keeping the room numbers known so far.
    pub fn update(&mut self, map: &OfficeMap) {
        let (width, height) = (map.grid.width(), map.grid.height());
        self.width = width;
        self.height = height;
        self.tiles = vec![0; (width.max(0) as usize) * (height.max(0) as usize)];
        // Silent zones first, so rooms win where they overlap.
        let mut zones: Vec<_> = map.zones.iter().collect();
        zones.sort_by_key(|z| matches!(z.kind, ZoneKind::MeetingRoom { .. }));
        for zone in zones {
            let code = match &zone.kind {
                ZoneKind::Silent => 1,
                ZoneKind::MeetingRoom { meeting } => {
                    let n = match self.rooms.iter().position(|r| r == meeting) {
                        Some(n) => n,
                        None => {
                            self.rooms.push(meeting.clone());
                            self.rooms.len() - 1
                        }
                    };
                    2 + n as u32
                }
                ZoneKind::Spawn | ZoneKind::Area => continue,
            };
            for y in zone.y.max(0)..(zone.y + zone.height as i32).min(height) {
                for x in zone.x.max(0)..(zone.x + zone.width as i32).min(width) {
                    self.tiles[(y * width + x) as usize] = code;
                }
            }
        }
    }

    /// The place of tile (`x`, `y`).
    pub fn place(&self, (x, y): (i32, i32)) -> Place {
        if x < 0 || y < 0 || x >= self.width || y >= self.height {
            return Place::Open;
        }
        match self.tiles[(y * self.width + x) as usize] {
            0 => Place::Open,
            1 => Place::Silent,
            n => Place::Room(n - 2),
        }
    }
}

/// The office's conversation groups and how they form.
#[derive(Resource, Debug)]
pub struct Conversations {
    /// The groups.
    pub book: GroupBook,
    /// `[conversations]`.
    pub config: ConversationsConfig,
    /// The dwell, in ticks.
    pub dwell_ticks: u64,
}

/// The office's meeting desk, if it has one (offices built for tests may not).
#[derive(Resource, Debug)]
pub struct OfficeMeetings {
    /// The office id.
    pub office: String,
    /// The tenant meetings are asked for in.
    pub tenant: String,
    /// The office's provider, named in `MeetingReady` when a meeting failed.
    pub provider: ProviderKind,
    /// The desk.
    pub desk: MeetingDesk,
    /// Its outcomes.
    pub outcomes: mpsc::Receiver<MeetingOutcome>,
    /// Meetings asked for and not yet come, by key: the group's id.
    pub asked: FxHashMap<MeetingKey, u64>,
}

impl OfficeMeetings {
    /// The office `office`'s desk and its outcomes.
    pub fn new(
        office: &str,
        tenant: &str,
        provider: ProviderKind,
        desk: MeetingDesk,
        outcomes: mpsc::Receiver<MeetingOutcome>,
    ) -> OfficeMeetings {
        OfficeMeetings {
            office: office.to_owned(),
            tenant: tenant.to_owned(),
            provider,
            desk,
            outcomes,
            asked: FxHashMap::default(),
        }
    }
}

/// Group messages for single avatars, sent in the emit phase.
#[derive(Resource, Debug, Default)]
pub struct GroupMail(pub Vec<(u32, Bytes)>);

fn state_of(group: &ConversationGroup, zones: &ConversationZones) -> GroupState {
    GroupState {
        group: group.id,
        kind: match group.room {
            Some(_) => GroupKind::Room,
            None => GroupKind::Proximity,
        },
        room: group
            .room
            .and_then(|n| zones.rooms.get(n as usize).cloned()),
        members: group.members.clone(),
    }
}

fn frame(message: ServerMessage) -> Bytes {
    Bytes::from(message.encode())
}

/// Who the members of groups are: Teams users as themselves; a development
/// login as its avatar id in the office's tenant (it has no Teams identity).
#[derive(SystemParam)]
pub struct Members<'w, 's> {
    index: Res<'w, AvatarIndex>,
    identities: Query<'w, 's, &'static mut Identity>,
    presence: Option<Res<'w, OfficePresence>>,
}

impl Members<'_, '_> {
    /// The Teams identity of avatar `avatar`, if it has one.
    fn teams(&self, avatar: u32) -> Option<&Identity> {
        let entity = self.index.0.get(&avatar)?;
        self.identities.get(*entity).ok().filter(|i| i.teams)
    }

    /// Avatar `avatar` as a meeting member.
    fn member(&self, tenant: &str, avatar: u32) -> Member {
        match self.teams(avatar) {
            Some(identity) => identity.member(),
            None => Member::new(tenant, &avatar.to_string()),
        }
    }

    /// The object id meeting providers know avatar `avatar` by.
    fn oid(&self, avatar: u32) -> String {
        match self.teams(avatar) {
            Some(identity) => identity.user.oid.clone(),
            None => avatar.to_string(),
        }
    }

    /// Tells the presence hub that a Teams user is (or no longer is) in a
    /// meeting, once per change.
    fn in_meeting(&mut self, avatar: u32, meeting: bool) {
        let Some(&entity) = self.index.0.get(&avatar) else {
            return;
        };
        let Ok(mut identity) = self.identities.get_mut(entity) else {
            return;
        };
        if !identity.teams || identity.in_meeting == meeting {
            return;
        }
        identity.in_meeting = meeting;
        if let Some(presence) = &self.presence {
            presence.hub.in_meeting(&identity.user, meeting);
        }
    }
}

/// Whether the group has a meeting people can join.
fn has_meeting(group: &ConversationGroup) -> bool {
    matches!(&group.meeting, MeetingState::Ready(Ok(_)))
}

/// `MeetingReady` for a member known to providers as `oid`, if the
/// group's meeting came.
fn meeting_ready(group: &ConversationGroup, oid: &str, provider: ProviderKind) -> Option<Bytes> {
    let MeetingState::Ready(result) = &group.meeting else {
        return None;
    };
    let message = match result {
        Ok(info) => MeetingReady {
            group: group.id,
            provider: info.provider.as_str().to_owned(),
            join_url: info.join_url.clone(),
            acs_group_call_id: info.acs.as_ref().map(|a| a.group_call_id.clone()),
            acs_token: info.acs.as_ref().and_then(|a| {
                let mine = a.tokens.iter().find(|t| t.user.oid == oid)?;
                Some(mine.token.expose().to_owned())
            }),
            unavailable: None,
        },
        Err(failure) => MeetingReady {
            group: group.id,
            provider: provider.as_str().to_owned(),
            join_url: None,
            acs_group_call_id: None,
            acs_token: None,
            unavailable: Some(failure.to_string()),
        },
    };
    Some(frame(ServerMessage::MeetingReady(message)))
}

/// What puts a client back in its group after a snapshot replaced its
/// backlog (messages in the backlog are lost): `GroupFormed`, and
/// `MeetingReady` when the meeting came.
pub fn group_messages(world: &World, avatar: u32) -> Vec<Bytes> {
    let Some(conversations) = world.get_resource::<Conversations>() else {
        return Vec::new();
    };
    let Some(group) = conversations.book.group_of(avatar).filter(|g| g.announced) else {
        return Vec::new();
    };
    let zones = world.resource::<ConversationZones>();
    let mut messages = vec![frame(ServerMessage::GroupFormed(state_of(group, zones)))];
    let provider = world
        .get_resource::<OfficeMeetings>()
        .map_or(ProviderKind::Local, |m| m.provider);
    let oid = world
        .resource::<AvatarIndex>()
        .0
        .get(&avatar)
        .and_then(|&e| world.get::<Identity>(e))
        .filter(|i| i.teams)
        .map_or_else(|| avatar.to_string(), |i| i.user.oid.clone());
    messages.extend(meeting_ready(group, &oid, provider));
    messages
}

fn meeting_key(
    meetings: &OfficeMeetings,
    group: &ConversationGroup,
    zones: &ConversationZones,
) -> MeetingKey {
    match group.room.and_then(|n| zones.rooms.get(n as usize)) {
        Some(room) => MeetingKey::room(&meetings.office, room),
        None => MeetingKey::group(&meetings.office, group.id),
    }
}

/// Asks the desk for the group's meeting; a full desk is asked again next tick.
fn ask(
    meetings: &mut OfficeMeetings,
    group: &mut ConversationGroup,
    zones: &ConversationZones,
    people: &Members,
) {
    let members: Vec<Member> = group
        .members
        .iter()
        .map(|&id| people.member(&meetings.tenant, id))
        .collect();
    // The meeting belongs to the organisation of its Teams members.
    let tenant = group
        .members
        .iter()
        .find_map(|&id| people.teams(id))
        .map_or_else(|| meetings.tenant.clone(), |i| i.user.tenant.clone());
    let kind = match group.room.and_then(|n| zones.rooms.get(n as usize)) {
        Some(room) => MeetingKind::Room {
            room: room.clone(),
            members,
        },
        None => MeetingKind::Group { members },
    };
    let request = MeetingRequest {
        key: meeting_key(meetings, group, zones),
        office: meetings.office.clone(),
        tenant,
        kind,
        subject: None,
    };
    let key = request.key.clone();
    if meetings.desk.request(request).is_ok() {
        group.meeting = MeetingState::Asked;
        meetings.asked.insert(key, group.id);
    }
}

/// Receive phase: meetings that came, without waiting.
pub fn receive_meetings(
    mut meetings: Option<ResMut<OfficeMeetings>>,
    mut conversations: ResMut<Conversations>,
    mut mail: ResMut<GroupMail>,
    metrics: Option<Res<super::network::OfficeMetrics>>,
    mut people: Members,
) {
    let Some(meetings) = meetings.as_deref_mut() else {
        return;
    };
    while let Ok(outcome) = meetings.outcomes.try_recv() {
        if let Some(metrics) = &metrics {
            metrics.metrics.meeting(&outcome.result, meetings.provider);
        }
        // Outcomes of groups that are gone are dropped.
        let found = meetings.asked.remove(&outcome.key);
        let Some(group) = found.and_then(|id| conversations.book.get_mut(id)) else {
            continue;
        };
        group.meeting = MeetingState::Ready(outcome.result);
        let ready = has_meeting(group);
        for &m in &group.members {
            if let Some(bytes) = meeting_ready(group, &people.oid(m), meetings.provider) {
                mail.0.push((m, bytes));
            }
            people.in_meeting(m, ready);
        }
    }
}

/// Conversations phase: recomputes the groups and tells members what changed.
/// While frames batch two ticks, it runs on every second tick only: each
/// member hears of it with its next frame either way.
#[allow(clippy::too_many_arguments)]
pub fn track_groups(
    (policy, tick): (Res<SendPolicy>, Res<TickCount>),
    mut conversations: ResMut<Conversations>,
    zones: Res<ConversationZones>,
    mut meetings: Option<ResMut<OfficeMeetings>>,
    mut mail: ResMut<GroupMail>,
    avatars: Query<(&Avatar, &Walker)>,
    mut standing: Local<Vec<Standing>>,
    mut people: Members,
) {
    if !tick.0.is_multiple_of(policy.ticks_per_frame()) {
        return;
    }
    standing.clear();
    standing.extend(avatars.iter().map(|(avatar, walker)| Standing {
        id: avatar.id,
        tile: walker.tile,
        place: zones.place(walker.tile),
        moving: walker.step.is_some(),
    }));
    let Conversations {
        book,
        config,
        dwell_ticks,
    } = &mut *conversations;
    let changes = book.update(config, &standing, tick.0);
    let provider = meetings
        .as_ref()
        .map_or(ProviderKind::Local, |m| m.provider);
    for change in changes {
        match change {
            GroupChange::Formed(_) => {}
            GroupChange::Changed { id, joined, left } => {
                let Some(group) = book.get(id).filter(|g| g.announced) else {
                    continue;
                };
                let state = state_of(group, &zones);
                let changed = frame(ServerMessage::GroupChanged(state.clone()));
                let formed = frame(ServerMessage::GroupFormed(state));
                for &m in &group.members {
                    let news = joined.contains(&m);
                    mail.0.push((
                        m,
                        if news {
                            formed.clone()
                        } else {
                            changed.clone()
                        },
                    ));
                    if news {
                        if let Some(bytes) = meeting_ready(group, &people.oid(m), provider) {
                            mail.0.push((m, bytes));
                        }
                        people.in_meeting(m, has_meeting(group));
                    }
                }
                let gone = frame(ServerMessage::GroupDissolved(GroupDissolved { group: id }));
                for m in left {
                    people.in_meeting(m, false);
                    mail.0.push((m, gone.clone()));
                }
            }
            GroupChange::Dissolved(group) => {
                if let Some(meetings) = meetings.as_deref_mut() {
                    let key = meeting_key(meetings, &group, &zones);
                    if meetings.asked.get(&key) == Some(&group.id) {
                        meetings.asked.remove(&key);
                        meetings.desk.cancel(&key);
                    }
                }
                for &m in &group.members {
                    people.in_meeting(m, false);
                }
                if group.announced {
                    let gone = frame(ServerMessage::GroupDissolved(GroupDissolved {
                        group: group.id,
                    }));
                    mail.0
                        .extend(group.members.iter().map(|&m| (m, gone.clone())));
                }
            }
        }
    }
    // Announce rooms at once and proximity groups after the dwell; ask for
    // meetings not yet asked for (again, when the desk was full).
    for group in book.groups_mut() {
        if !group.announced && (group.room.is_some() || tick.0 >= group.still_since + *dwell_ticks)
        {
            group.announced = true;
            let formed = frame(ServerMessage::GroupFormed(state_of(group, &zones)));
            mail.0
                .extend(group.members.iter().map(|&m| (m, formed.clone())));
        }
        if group.announced
            && group.meeting == MeetingState::NotAsked
            && let Some(meetings) = meetings.as_deref_mut()
        {
            ask(meetings, group, &zones, &people);
        }
    }
}

/// Emit phase: group messages into the members' outboxes, after the tick
/// frame, each with its member's frame (while frames batch two ticks, a
/// member whose phase gets no frame this tick gets its mail next tick). A
/// client whose outbox is full misses them (its next snapshot does not
/// repeat them).
pub fn send_group_mail(
    mut mail: ResMut<GroupMail>,
    (policy, tick): (Res<SendPolicy>, Res<TickCount>),
    index: Res<AvatarIndex>,
    viewers: Query<&Viewer>,
) {
    mail.0.retain(|(avatar, bytes)| {
        let Some(viewer) = index.0.get(avatar).and_then(|&e| viewers.get(e).ok()) else {
            return false;
        };
        if !policy.sends(tick.0, viewer.phase) {
            return true;
        }
        let _ = viewer.outbox.push(bytes.clone());
        false
    });
}
