//! The people in an office, beyond their movement: who each avatar is (a
//! Teams user, or a development login), the Teams presence it shows, and
//! walks to a colleague.
//!
//! - Receive phase: presence updates from the [`PresenceHub`] are drained
//!   without waiting and set on the avatars; walks to colleagues hold the
//!   next direction of their path for the avatar (a direction the player
//!   holds cancels the walk).
//! - Emit phase: avatars whose presence changed are sent as `Presences` to
//!   the clients whose view holds them, one message per view encoded once
//!   (at most every [`PRESENCE_EVERY_TICKS`] ticks); about once a second
//!   the hub is told which users somebody else can see, so their presence
//!   is refreshed first.

use std::collections::VecDeque;

use bevy_ecs::prelude::*;
use bytes::Bytes;
use metaoffice_protocol::{
    Direction, Person, PresenceEntry, Presences, ServerMessage, WalkEnded, walk_end,
};
use rustc_hash::FxHashMap;
use tokio::sync::mpsc;

use super::interest::{Cell, Seen, Told};
use super::network::{OfficeInfo, OfficeView, SendPolicy, Viewer};
use super::sim::{
    Avatar, AvatarIndex, Held, MovementRules, OfficeGrid, TickCount, TileReservations,
};
use crate::graph::Secret;
use crate::map::{OfficeMap, ZoneKind};
use crate::meetings::{Member, UserRef};
use crate::movement::{PathError, PathFinder, PathQuery, Walker};
use crate::presence::{PresenceHub, PresenceUpdate};

/// Presence changes go out at most this often, in ticks.
pub const PRESENCE_EVERY_TICKS: u64 = 10;

/// Most tiles one path search may expand.
const SEARCH_BUDGET: usize = 60_000;

/// Path searches per tick; more walks wait for the next tick.
const SEARCHES_PER_TICK: usize = 2;

/// Ticks a walk waits on a taken tile before it looks for another way.
const WAIT_TICKS: u16 = 10;

/// Searches for another way before a walk gives up as blocked.
const MAX_REPLANS: u8 = 5;

/// Around the start of a search, tiles other avatars hold count as walls;
/// farther away they will likely have moved on by the time the walk gets there.
const TAKEN_RADIUS: i32 = 6;

/// The tenant given to development logins, which have no Teams identity.
pub const LOCAL_TENANT: &str = "local";

/// The user a development login is known by in office `office`.
pub fn dev_user(office: &str, avatar: u32) -> UserRef {
    UserRef {
        tenant: LOCAL_TENANT.to_owned(),
        oid: format!("dev:{office}:{avatar}"),
    }
}

/// Who an avatar is.
#[derive(Component, Debug, Clone)]
pub struct Identity {
    /// The Teams user, or a development login's [`dev_user`].
    pub user: UserRef,
    /// Whether it is a Teams user (rather than a development login).
    pub teams: bool,
    /// The user's Teams token, kept in memory for meeting providers that
    /// need one (ACS); never stored.
    pub teams_token: Option<Secret>,
    /// Whether the hub was told the user is in a meeting.
    pub in_meeting: bool,
}

impl Identity {
    /// The user as a meeting member.
    pub fn member(&self) -> Member {
        Member {
            user: self.user.clone(),
            teams_token: self.teams_token.clone(),
        }
    }
}

/// The office's side of the presence hub.
#[derive(Resource, Debug)]
pub struct OfficePresence {
    /// The office id.
    pub office: String,
    /// The hub.
    pub hub: PresenceHub,
    /// Updates for this office's users.
    pub updates: mpsc::Receiver<PresenceUpdate>,
    /// Avatars by user (a user may be connected twice).
    pub by_user: FxHashMap<UserRef, Vec<Entity>>,
    /// Avatars whose presence changed since the last `Presences`.
    pub changed: Vec<Entity>,
    /// Avatars of Teams users (the others have no presence to refresh).
    teams_avatars: usize,
    /// The tick `Presences` last went out.
    flushed_at: u64,
    /// The tick the hub was last told who is seen.
    reported_at: u64,
}

impl OfficePresence {
    /// The office `office`'s subscription to `hub`.
    pub fn new(office: &str, hub: PresenceHub) -> OfficePresence {
        OfficePresence {
            office: office.to_owned(),
            updates: hub.subscribe(office),
            hub,
            by_user: FxHashMap::default(),
            changed: Vec::new(),
            teams_avatars: 0,
            flushed_at: 0,
            reported_at: 0,
        }
    }

    /// An avatar of `user` came in.
    pub fn arrived(&mut self, user: &UserRef, entity: Entity) {
        self.by_user.entry(user.clone()).or_default().push(entity);
        if user.tenant != LOCAL_TENANT {
            self.teams_avatars += 1;
        }
        self.hub.online(&self.office, user);
    }

    /// An avatar of `user` left; the hub hears the user left any meeting.
    pub fn departed(&mut self, identity: &Identity, entity: Entity) {
        if let Some(list) = self.by_user.get_mut(&identity.user) {
            list.retain(|&e| e != entity);
            if list.is_empty() {
                self.by_user.remove(&identity.user);
            }
        }
        if identity.user.tenant != LOCAL_TENANT {
            self.teams_avatars = self.teams_avatars.saturating_sub(1);
        }
        if identity.in_meeting {
            self.hub.in_meeting(&identity.user, false);
        }
        self.hub.offline(&self.office, &identity.user);
    }
}

/// The named zones of the office's map, for `People`.
#[derive(Resource, Debug, Default)]
pub struct NamedZones(Vec<crate::map::Zone>);

impl NamedZones {
    /// The named zones of `map` (spawn areas are not places people are "in").
    pub fn of(map: &OfficeMap) -> NamedZones {
        let mut zones: Vec<_> = map
            .zones
            .iter()
            .filter(|z| !matches!(z.kind, ZoneKind::Spawn) && !z.name.is_empty())
            .cloned()
            .collect();
        // The smallest zone holding a tile names it: a meeting room inside a wing.
        zones.sort_by_key(|z| u64::from(z.width) * u64::from(z.height));
        NamedZones(zones)
    }

    /// The name of the zone tile (`x`, `y`) is in.
    pub fn at(&self, (x, y): (i32, i32)) -> Option<&str> {
        self.0
            .iter()
            .find(|z| z.contains(x, y))
            .map(|z| z.name.as_str())
    }
}

/// Receive phase: presence updates that came, without waiting.
pub fn receive_presence(presence: Option<ResMut<OfficePresence>>, mut avatars: Query<&mut Avatar>) {
    let Some(mut presence) = presence else {
        return;
    };
    let presence = &mut *presence;
    while let Ok(update) = presence.updates.try_recv() {
        let Some(entities) = presence.by_user.get(&update.user) else {
            continue;
        };
        for &entity in entities {
            if let Ok(mut avatar) = avatars.get_mut(entity)
                && avatar.presence != update.presence
            {
                avatar.presence = update.presence;
                presence.changed.push(entity);
            }
        }
    }
}

/// Emit phase: `Presences` to the clients that see avatars whose presence
/// changed, and, about once a second, who is seen by someone else to the hub.
pub fn send_presence(world: &mut World, mut anchors: Local<FxHashMap<Cell, Vec<Entity>>>) {
    // Counted from the last time, not by tick number: while frames batch,
    // only every second tick (when the first phase gets its frames) sends.
    let tick = world.resource::<TickCount>().0;
    if !world.resource::<SendPolicy>().sends(tick, 0)
        || !world.contains_resource::<OfficePresence>()
    {
        return;
    }
    let tick_hz = u64::from(world.resource::<OfficeInfo>().tick_hz.max(1));
    let mut presence = world.resource_mut::<OfficePresence>();
    let flush = tick >= presence.flushed_at + PRESENCE_EVERY_TICKS && !presence.changed.is_empty();
    // Only Teams users have presence to refresh first.
    let report = tick >= presence.reported_at + tick_hz && presence.teams_avatars > 0;
    if flush {
        presence.flushed_at = tick;
    }
    if report {
        presence.reported_at = tick;
    }
    if !flush && !report {
        return;
    }
    let view = world.resource::<OfficeView>().0.clone();
    // Viewers by the cell their view is anchored on (lists kept between calls).
    anchors.values_mut().for_each(Vec::clear);
    let mut viewers = world.query::<(Entity, &Viewer)>();
    for (entity, viewer) in viewers.iter(world) {
        anchors.entry(viewer.anchor).or_default().push(entity);
    }
    if flush {
        let mut changed = std::mem::take(&mut world.resource_mut::<OfficePresence>().changed);
        changed.sort_unstable();
        changed.dedup();
        let entries: Vec<(PresenceEntry, Seen)> = changed
            .iter()
            .filter_map(|&e| {
                let avatar = world.get::<Avatar>(e)?;
                let seen = world.get::<Told>(e)?.0[0];
                Some((
                    PresenceEntry {
                        avatar: avatar.id,
                        availability: avatar.presence.availability.code(),
                        activity: avatar.presence.activity.code(),
                    },
                    seen,
                ))
            })
            .collect();
        for (anchor, clients) in anchors.iter() {
            if clients.is_empty() {
                continue;
            }
            let rect = view.view(*anchor);
            let seen: Vec<PresenceEntry> = entries
                .iter()
                .filter(|(_, s)| rect.sees(s.tile, s.next))
                .map(|(entry, _)| entry.clone())
                .collect();
            if seen.is_empty() {
                continue;
            }
            let bytes = Bytes::from(ServerMessage::Presences(Presences { entries: seen }).encode());
            for &client in clients {
                if let Some(viewer) = world.get::<Viewer>(client) {
                    let _ = viewer.outbox.push(bytes.clone());
                }
            }
        }
    }
    if report {
        let office = world.resource::<OfficePresence>().office.clone();
        let mut seen_users = Vec::new();
        let mut people = world.query::<(&Identity, &Told, &Viewer)>();
        for (identity, told, own) in people.iter(world) {
            let seen = told.0[0];
            if !identity.teams {
                continue;
            }
            let cell = view.cell_of(seen.tile);
            // Anchors whose view can hold this cell; the avatar's own client
            // does not count.
            let mut watchers = 0usize;
            for dy in -view.cells_y..=view.cells_y {
                for dx in -view.cells_x..=view.cells_x {
                    let anchor = Cell(cell.0 + dx, cell.1 + dy);
                    if let Some(list) = anchors.get(&anchor) {
                        watchers += list.len() - usize::from(anchor == own.anchor);
                    }
                }
            }
            if watchers > 0 {
                seen_users.push(identity.user.clone());
            }
        }
        world
            .resource::<OfficePresence>()
            .hub
            .set_seen(&office, seen_users);
    }
}

/// A walk to a colleague under way.
#[derive(Debug, Clone)]
pub struct WalkPlan {
    /// The colleague's avatar id.
    pub target: u32,
    /// Steps still to take, from `at`.
    steps: VecDeque<Direction>,
    /// Where the next step starts.
    at: (i32, i32),
    /// The colleague's tile when the path was found.
    planned_for: (i32, i32),
    /// Whether a path must be (re)computed.
    needs_path: bool,
    /// Ticks spent waiting on a taken tile.
    waited: u16,
    /// Paths computed since the walk started, the first one aside.
    replans: u8,
    /// The tick the last path was computed in.
    planned_at: u64,
}

/// The walk an avatar is on, if any.
#[derive(Component, Debug, Default)]
pub struct Walking(pub Option<WalkPlan>);

/// The avatars on a walk, and the path search scratch.
#[derive(Resource, Debug, Default)]
pub struct Walks {
    /// Avatars with a walk.
    pub active: Vec<Entity>,
    finder: PathFinder,
}

/// Starts a walk of `walker` to the avatar `target`; an error names why not.
pub fn start_walk(
    world: &mut World,
    walker: Entity,
    target: u32,
) -> Result<(), (metaoffice_protocol::ErrorCode, &'static str)> {
    use metaoffice_protocol::ErrorCode;
    let own = world.get::<Avatar>(walker).map(|a| a.id);
    if own == Some(target) {
        return Err((ErrorCode::NotAllowed, "you cannot walk to yourself"));
    }
    if !world.resource::<AvatarIndex>().0.contains_key(&target) {
        return Err((
            ErrorCode::UnknownUser,
            "nobody in this office has that avatar",
        ));
    }
    let Some(tile) = world.get::<Walker>(walker).map(Walker::next_tile) else {
        return Ok(());
    };
    let Some(mut walking) = world.get_mut::<Walking>(walker) else {
        return Ok(());
    };
    let fresh = walking.0.is_none();
    walking.0 = Some(WalkPlan {
        target,
        steps: VecDeque::new(),
        at: tile,
        planned_for: tile,
        needs_path: true,
        waited: 0,
        replans: 0,
        planned_at: 0,
    });
    if fresh {
        world.resource_mut::<Walks>().active.push(walker);
    }
    Ok(())
}

fn distance(directions: u8, a: (i32, i32), b: (i32, i32)) -> u32 {
    let (dx, dy) = ((a.0 - b.0).unsigned_abs(), (a.1 - b.1).unsigned_abs());
    if directions == 8 { dx.max(dy) } else { dx + dy }
}

/// Receive phase, after the players' inputs are read: walks hold the next
/// direction of their path.
#[allow(clippy::too_many_arguments)]
pub fn guide_walks(
    tick: Res<TickCount>,
    grid: Res<OfficeGrid>,
    rules: Res<MovementRules>,
    reservations: Res<TileReservations>,
    index: Res<AvatarIndex>,
    mut walks: ResMut<Walks>,
    mut walkers: Query<(&Avatar, &Walker, &mut Held, &mut Walking, &Viewer)>,
    positions: Query<&Walker>,
) {
    if walks.active.is_empty() {
        return;
    }
    let directions = rules.0.directions;
    let mut searches = 0;
    let Walks { active, finder } = &mut *walks;
    active.retain(|&entity| {
        let Ok((avatar, walker, mut held, mut walking, viewer)) = walkers.get_mut(entity) else {
            return false;
        };
        let Some(plan) = walking.0.as_mut() else {
            return false;
        };
        let target_id = plan.target;
        let end = |reason: u8| {
            let message = ServerMessage::WalkEnded(WalkEnded {
                avatar: target_id,
                reason,
            });
            let _ = viewer.outbox.push(Bytes::from(message.encode()));
        };
        if held.0.is_some() {
            end(walk_end::CANCELLED);
            walking.0 = None;
            return false;
        }
        let Some(target) = index
            .0
            .get(&plan.target)
            .and_then(|&e| positions.get(e).ok())
        else {
            end(walk_end::GONE);
            walking.0 = None;
            return false;
        };
        let target_tile = target.tile;
        let here = walker.next_tile();
        if walker.step.is_none() && distance(directions, here, target_tile) <= 1 {
            end(walk_end::ARRIVED);
            walking.0 = None;
            return false;
        }
        // Follow the steps taken since the last tick.
        if let Some(&dir) = plan.steps.front() {
            let (dx, dy) = dir.offset();
            if here == (plan.at.0 + dx, plan.at.1 + dy) {
                plan.steps.pop_front();
                plan.at = here;
                plan.waited = 0;
            }
        }
        if here != plan.at {
            // Pushed aside (a map change): find the way again.
            plan.needs_path = true;
        }
        let moved_away = distance(directions, plan.planned_for, target_tile) > 1;
        if moved_away && tick.0 >= plan.planned_at + u64::from(WAIT_TICKS) {
            plan.needs_path = true;
        }
        if plan.steps.is_empty() && walker.step.is_none() {
            plan.needs_path = true;
        }
        if plan.needs_path && walker.step.is_none() {
            if searches >= SEARCHES_PER_TICK {
                return true;
            }
            searches += 1;
            let me = avatar.id;
            let taken = |tile: (i32, i32)| {
                distance(8, tile, here) as i32 <= TAKEN_RADIUS
                    && reservations.0.held_by_other(tile, me)
            };
            let found = finder.find(&PathQuery {
                grid: &grid.0,
                from: here,
                target: target_tile,
                directions,
                taken: &taken,
                budget: SEARCH_BUDGET,
            });
            match found {
                Ok(steps) => {
                    if plan.planned_at != 0 {
                        plan.replans += 1;
                    }
                    plan.steps = steps.into();
                    plan.at = here;
                    plan.planned_for = target_tile;
                    plan.needs_path = false;
                    plan.planned_at = tick.0.max(1);
                    plan.waited = 0;
                }
                Err(PathError::Unreachable | PathError::TooFar) => {
                    end(walk_end::UNREACHABLE);
                    walking.0 = None;
                    return false;
                }
            }
            if plan.replans > MAX_REPLANS {
                end(walk_end::BLOCKED);
                walking.0 = None;
                return false;
            }
        }
        let Some(&dir) = plan.steps.front() else {
            return true;
        };
        if walker.step.is_none() {
            let (dx, dy) = dir.offset();
            let next = (plan.at.0 + dx, plan.at.1 + dy);
            if reservations.0.held_by_other(next, avatar.id) {
                plan.waited += 1;
                if plan.waited >= WAIT_TICKS {
                    plan.needs_path = true;
                    plan.waited = 0;
                }
                return true;
            }
        }
        held.0 = Some(dir);
        true
    });
}

/// Everyone in the office, by name, as `People` lists them.
pub fn people(world: &mut World) -> Vec<Person> {
    let mut query = world.query::<(&Avatar, &Walker, Option<&Identity>)>();
    let zones = world.get_resource::<NamedZones>();
    let mut list: Vec<Person> = query
        .iter(world)
        .map(|(avatar, walker, identity)| Person {
            avatar: avatar.id,
            name: avatar.name.clone(),
            user: identity.filter(|i| i.teams).map(|i| i.user.oid.clone()),
            x: walker.tile.0,
            y: walker.tile.1,
            zone: zones.and_then(|z| z.at(walker.tile)).map(str::to_owned),
            availability: avatar.presence.availability.code(),
            activity: avatar.presence.activity.code(),
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name).then(a.avatar.cmp(&b.avatar)));
    list
}

#[cfg(test)]
mod tests {
    use metaoffice_protocol::ServerMessage;
    use tokio::sync::{mpsc, oneshot};

    use super::*;
    use crate::config::Config;
    use crate::office::input::InputSlot;
    use crate::office::network::{Joined, Newcomer, OfficeCommand};
    use crate::office::outbox::{Outbox, Outgoing};
    use crate::office::sim::OfficeSim;
    use crate::office::tests::open_map;
    use crate::office::{OfficeHandle, attach_presence, build_office};
    use crate::presence::{Activity, Availability, Presence};

    fn user(oid: &str) -> UserRef {
        UserRef {
            tenant: "tenant-a".into(),
            oid: oid.into(),
        }
    }

    /// Ticks the office one second's worth of ticks.
    fn second(sim: &mut OfficeSim) {
        for _ in 0..20 {
            sim.tick();
        }
    }

    /// An office 240 tiles wide: spawns at the west end, one 200 tiles east
    /// (out of every view there), another in the west. With `batching`,
    /// frames carry two ticks from the first person on.
    fn office(batching: bool) -> (OfficeSim, OfficeHandle, PresenceHub) {
        let map = open_map(240, 6, vec![(2, 2), (210, 2), (4, 2)]);
        let mut config = Config::default();
        if batching {
            config.limits.batch_above_clients = 1;
        }
        let (mut sim, handle) = build_office("test", &map, &config, Default::default());
        let hub = PresenceHub::local();
        attach_presence(&mut sim, "test", hub.clone());
        (sim, handle, hub)
    }

    fn join(sim: &mut OfficeSim, handle: &OfficeHandle, oid: Option<&str>) -> (Outbox, Joined) {
        let outbox = Outbox::new(1 << 12);
        let (reply, mut answer) = oneshot::channel();
        let mut newcomer =
            Newcomer::dev(oid.unwrap_or("dev"), outbox.clone(), InputSlot::default());
        newcomer.user = oid.map(user);
        let command = OfficeCommand::Join { newcomer, reply };
        handle.inbox.try_send(command).expect("room");
        sim.tick();
        let joined = answer.try_recv().expect("answered").expect("joined");
        (outbox, joined)
    }

    #[test]
    fn offices_tell_the_hub_which_teams_users_someone_else_can_see() {
        for batching in [false, true] {
            let (mut sim, handle, hub) = office(batching);
            join(&mut sim, &handle, Some("west"));
            join(&mut sim, &handle, Some("east"));
            second(&mut sim);
            assert!(!hub.is_seen(&user("west")), "nobody else is near West");
            assert!(!hub.is_seen(&user("east")));
            assert_eq!(hub.online_in("test"), 2);
            // A development login stands beside West: West is seen, East still not.
            join(&mut sim, &handle, None);
            second(&mut sim);
            assert!(hub.is_seen(&user("west")), "batching: {batching}");
            assert!(!hub.is_seen(&user("east")));
        }
    }

    #[tokio::test]
    async fn presence_changes_reach_the_clients_that_see_the_avatar() {
        for batching in [false, true] {
            let (mut sim, handle, _hub) = office(batching);
            let (updates, queue) = mpsc::channel(8);
            sim.world.resource_mut::<OfficePresence>().updates = queue;
            let (west, west_joined) = join(&mut sim, &handle, Some("west"));
            let (east, _) = join(&mut sim, &handle, Some("east"));
            let (dev, _) = join(&mut sim, &handle, None);
            second(&mut sim);
            for outbox in [&west, &east, &dev] {
                while outbox.try_next().is_some() {}
            }
            let busy = Presence {
                availability: Availability::Busy,
                activity: Activity::InACall,
            };
            updates
                .try_send(PresenceUpdate {
                    user: user("west"),
                    presence: busy,
                })
                .expect("room");
            second(&mut sim);
            let presences = |outbox: &Outbox| -> Vec<PresenceEntry> {
                let mut found = Vec::new();
                while let Some(Outgoing::Frame(bytes)) = outbox.try_next() {
                    if let Ok(ServerMessage::Presences(p)) = ServerMessage::decode(&bytes) {
                        found.extend(p.entries);
                    }
                }
                found
            };
            let want = vec![PresenceEntry {
                avatar: west_joined.id,
                availability: Availability::Busy.code(),
                activity: Activity::InACall.code(),
            }];
            assert_eq!(presences(&dev), want, "batching: {batching}");
            assert_eq!(presences(&west), want, "West sees herself");
            assert_eq!(presences(&east), vec![], "East is too far to see West");
        }
    }
}
