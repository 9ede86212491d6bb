//! Conversation groups, computed: who stands with whom this tick. Pure, no
//! I/O and no ECS: [`GroupBook::update`] takes where every avatar stands and
//! the tick, and returns what changed. [`super::conversations`] turns the
//! changes into messages and meetings.
//!
//! The rules (`[conversations]` in the configuration):
//! - Two avatars outside silent areas and meeting rooms are *linked* when
//!   the Euclidean distance between their tiles is at most `join_radius`,
//!   or at most `leave_radius` and they were in the same group the tick
//!   before (hysteresis: a pair standing at the join radius does not flap).
//!   A proximity group is a connected set of linked avatars, two or more.
//! - An avatar in a silent zone is in no group. Everyone in a meeting room
//!   (zones with the same meeting name are one room) is in that room's one
//!   group, whatever the distance; a room overlapping a silent zone wins.
//! - A proximity group holds at most `max_group_size` avatars: those already
//!   in the group most of them came from stay, then the earliest to join the
//!   office (lowest avatar id); the others are in no group. Rooms have no cap.
//! - Identity: a new group takes the id of the old group that gave it the
//!   most members, if those are more than half of the old group (each old id
//!   goes to at most one new group, the one with the largest share); else it
//!   gets a new id. Ids start at 1 and are never reused. A room's group keeps
//!   its id while someone is inside.
//! - `since` is the tick at which a group's member set last changed;
//!   `still_since` also moves while a member of a group not yet announced
//!   walks: the dwell before a proximity group is announced and gets its
//!   meeting counts from it, so someone walking past (who stays within the
//!   radius for a second or two at 4 tiles/s) creates nothing.
//!
//! Scale: [`super::proximity`] finds the proximity groups through a grid of
//! cells, never looking at all pairs.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::proximity::{Scratch, proximity_components};
use crate::meetings::{MeetingFailure, MeetingInfo};

/// `[conversations]`: how conversation groups form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConversationsConfig {
    /// Two avatars this close (tiles, Euclidean) or closer join a group.
    pub join_radius: f64,
    /// Avatars of one group stay linked up to this distance (tiles).
    pub leave_radius: f64,
    /// How long a proximity group's members must stand together, unchanged,
    /// before it is announced and gets a meeting (rounded up to whole ticks).
    pub dwell_ms: u64,
    /// Most avatars in one proximity group.
    pub max_group_size: usize,
}

impl Default for ConversationsConfig {
    fn default() -> ConversationsConfig {
        ConversationsConfig {
            join_radius: 2.5,
            leave_radius: 3.5,
            dwell_ms: 1000,
            max_group_size: 25,
        }
    }
}

impl ConversationsConfig {
    /// The bad key and why, if any.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        let radius = |r: f64| (1.0..=32.0).contains(&r);
        if !radius(self.join_radius) {
            return Err(("conversations.join_radius", "must be 1 to 32 tiles"));
        }
        if !radius(self.leave_radius) || self.leave_radius <= self.join_radius {
            return Err((
                "conversations.leave_radius",
                "must be above join_radius and at most 32 tiles",
            ));
        }
        if self.dwell_ms > 600_000 {
            return Err(("conversations.dwell_ms", "must be at most 600000 (10 min)"));
        }
        if self.max_group_size < 2 {
            return Err(("conversations.max_group_size", "must be at least 2"));
        }
        Ok(())
    }

    /// The dwell in ticks at `tick_hz`.
    pub fn dwell_ticks(&self, tick_hz: u16) -> u64 {
        (self.dwell_ms * u64::from(tick_hz)).div_ceil(1000)
    }
}

/// Where an avatar stands, for conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Anywhere people may talk.
    Open,
    /// A silent zone.
    Silent,
    /// Meeting room number `n` (an index into the office's room names).
    Room(u32),
}

/// One avatar as group computation sees it.
#[derive(Debug, Clone, Copy)]
pub struct Standing {
    /// The avatar's id.
    pub id: u32,
    /// Its tile.
    pub tile: (i32, i32),
    /// The zone it is in.
    pub place: Place,
    /// Whether it is walking (mid-step).
    pub moving: bool,
}

/// What a group's meeting is at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MeetingState {
    /// Not asked for (yet, or the desk was full: asked again next tick).
    #[default]
    NotAsked,
    /// Asked for; the outcome has not come.
    Asked,
    /// Here, or why not.
    Ready(Result<MeetingInfo, MeetingFailure>),
}

/// A conversation group.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationGroup {
    /// Its id in the office.
    pub id: u64,
    /// `None` for a proximity group, else the room number.
    pub room: Option<u32>,
    /// Avatar ids, ascending.
    pub members: Vec<u32>,
    /// The tick its member set last changed.
    pub since: u64,
    /// The last tick its member set changed or one of its members walked:
    /// the dwell counts from here.
    pub still_since: u64,
    /// Whether its members were told about it.
    pub announced: bool,
    /// Its meeting.
    pub meeting: MeetingState,
}

/// What happened to the groups in one update.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupChange {
    /// A new group.
    Formed(u64),
    /// A group kept its id, with other members.
    Changed {
        /// The group.
        id: u64,
        /// Members that came.
        joined: Vec<u32>,
        /// Members that went.
        left: Vec<u32>,
    },
    /// A group is gone; this is how it was.
    Dissolved(ConversationGroup),
}

/// Every group of an office, and the scratch space to recompute them.
#[derive(Debug, Default)]
pub struct GroupBook {
    next_id: u64,
    groups: FxHashMap<u64, ConversationGroup>,
    member_of: FxHashMap<u32, u64>,
    rooms: FxHashMap<u32, u64>,
    scratch: Scratch,
}

impl GroupBook {
    /// The group `id`.
    pub fn get(&self, id: u64) -> Option<&ConversationGroup> {
        self.groups.get(&id)
    }

    /// The group `id`, to change its announcement or meeting.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut ConversationGroup> {
        self.groups.get_mut(&id)
    }

    /// The group avatar `avatar` is in.
    pub fn group_of(&self, avatar: u32) -> Option<&ConversationGroup> {
        self.groups.get(self.member_of.get(&avatar)?)
    }

    /// Every group, in no particular order.
    pub fn groups(&self) -> impl Iterator<Item = &ConversationGroup> {
        self.groups.values()
    }

    /// Every group, to change announcements and meetings.
    pub fn groups_mut(&mut self) -> impl Iterator<Item = &mut ConversationGroup> {
        self.groups.values_mut()
    }

    /// Recomputes the groups from where everyone stands at `tick`.
    pub fn update(
        &mut self,
        config: &ConversationsConfig,
        avatars: &[Standing],
        tick: u64,
    ) -> Vec<GroupChange> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let proposed = proximity_components(&mut scratch, &self.member_of, config, avatars);
        let mut rooms: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        for a in avatars {
            if let Place::Room(room) = a.place {
                rooms.entry(room).or_default().push(a.id);
            }
        }
        // Identity of proximity groups: the largest shares first.
        let mut shares: Vec<(usize, usize, u64)> = Vec::new();
        let mut ids: Vec<u64> = Vec::new();
        for index in 0..proposed.len() {
            ids.clear();
            ids.extend(
                proposed
                    .get(index)
                    .iter()
                    .map(|&(_, prev)| prev)
                    .filter(|&p| p != 0),
            );
            ids.sort_unstable();
            for run in ids.chunk_by(|a, b| a == b) {
                shares.push((run.len(), index, run[0]));
            }
        }
        shares.sort_unstable_by(|a, b| b.cmp(a));
        let mut named: Vec<Option<u64>> = vec![None; proposed.len()];
        let mut taken: FxHashMap<u64, ()> = FxHashMap::default();
        for (share, index, old) in shares {
            let Some(group) = self.groups.get(&old) else {
                continue;
            };
            if group.room.is_none()
                && named[index].is_none()
                && !taken.contains_key(&old)
                && share * 2 > group.members.len()
            {
                named[index] = Some(old);
                taken.insert(old, ());
            }
        }
        /// Where a group's members are: a proximity group found this tick, or a room's list.
        enum Found {
            Proximity(usize),
            Room(Vec<u32>),
        }
        let mut next: Vec<(Option<u64>, Option<u32>, Found)> = Vec::new();
        for (index, id) in named.into_iter().enumerate() {
            next.push((id, None, Found::Proximity(index)));
        }
        let mut room_list: Vec<(u32, Vec<u32>)> = rooms.into_iter().collect();
        room_list.sort_unstable_by_key(|r| r.0);
        for (room, mut members) in room_list {
            members.sort_unstable();
            let id = self.rooms.get(&room).copied();
            if let Some(id) = id {
                taken.insert(id, ());
            }
            next.push((id, Some(room), Found::Room(members)));
        }
        // Dissolve what is not carried on.
        let mut changes = Vec::new();
        let mut gone: Vec<u64> = self
            .groups
            .keys()
            .filter(|id| !taken.contains_key(id))
            .copied()
            .collect();
        gone.sort_unstable();
        for id in gone {
            if let Some(group) = self.groups.remove(&id) {
                for m in &group.members {
                    if self.member_of.get(m) == Some(&id) {
                        self.member_of.remove(m);
                    }
                }
                if let Some(room) = group.room {
                    self.rooms.remove(&room);
                }
                changes.push(GroupChange::Dissolved(group));
            }
        }
        let mut found: Vec<u32> = Vec::new();
        for (id, room, source) in next {
            let members: &[u32] = match &source {
                Found::Proximity(index) => {
                    found.clear();
                    found.extend(proposed.get(*index).iter().map(|&(id, _)| id));
                    &found
                }
                Found::Room(members) => members,
            };
            match id.and_then(|id| self.groups.get_mut(&id)) {
                Some(group) => {
                    if group.members == members {
                        continue;
                    }
                    let joined: Vec<u32> = members
                        .iter()
                        .filter(|m| group.members.binary_search(m).is_err())
                        .copied()
                        .collect();
                    let left: Vec<u32> = group
                        .members
                        .iter()
                        .filter(|m| members.binary_search(m).is_err())
                        .copied()
                        .collect();
                    for m in &left {
                        if self.member_of.get(m) == Some(&group.id) {
                            self.member_of.remove(m);
                        }
                    }
                    for &m in &joined {
                        self.member_of.insert(m, group.id);
                    }
                    group.members = members.to_vec();
                    group.since = tick;
                    group.still_since = tick;
                    changes.push(GroupChange::Changed {
                        id: group.id,
                        joined,
                        left,
                    });
                }
                None => {
                    self.next_id += 1;
                    let id = self.next_id;
                    for &m in members {
                        self.member_of.insert(m, id);
                    }
                    if let Some(room) = room {
                        self.rooms.insert(room, id);
                    }
                    self.groups.insert(
                        id,
                        ConversationGroup {
                            id,
                            room,
                            members: members.to_vec(),
                            since: tick,
                            still_since: tick,
                            announced: false,
                            meeting: MeetingState::NotAsked,
                        },
                    );
                    changes.push(GroupChange::Formed(id));
                }
            }
        }
        self.scratch = scratch;
        for a in avatars.iter().filter(|a| a.moving) {
            let group = self.member_of.get(&a.id);
            if let Some(group) = group.and_then(|id| self.groups.get_mut(id))
                && !group.announced
            {
                group.still_since = tick;
            }
        }
        changes
    }
}
