//! Deterministic meeting keys: the same room, or the same people, always
//! give the same `externalId` (so Graph's createOrGet hands back the same
//! meeting) and the same ACS group call id.
//!
//! - room: `mo-room-` + 48 hex digits of SHA-256 over the office id and
//!   the room id;
//! - group: `mo-group-` + 48 hex digits of SHA-256 over the members'
//!   (tenant, oid), sorted and without duplicates (order of arrival and
//!   repeated entries do not matter);
//! - every field is length-prefixed before hashing, so no two different
//!   inputs run together into the same bytes.
//!
//! Both are at most 64 characters (57 and 56), Graph's externalId budget here.

use sha2::{Digest, Sha256};

use super::UserRef;

/// Longest externalId made.
pub const MAX_EXTERNAL_ID: usize = 64;

fn field(hasher: &mut Sha256, value: &str) {
    hasher.update((value.len() as u64).to_be_bytes());
    hasher.update(value.as_bytes());
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// The externalId of meeting room `room` in `office`.
pub fn room_external_id(office: &str, room: &str) -> String {
    let mut h = Sha256::new();
    field(&mut h, "metaoffice/room");
    field(&mut h, office);
    field(&mut h, room);
    format!("mo-room-{}", hex(&h.finalize()[..24]))
}

/// The externalId of a group of `members`.
pub fn group_external_id<'a>(members: impl IntoIterator<Item = &'a UserRef>) -> String {
    let mut sorted: Vec<&UserRef> = members.into_iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut h = Sha256::new();
    field(&mut h, "metaoffice/group");
    for user in sorted {
        field(&mut h, &user.tenant);
        field(&mut h, &user.oid);
    }
    format!("mo-group-{}", hex(&h.finalize()[..24]))
}

/// The organizer of a group: the member with the smallest (tenant, oid).
pub fn group_organizer<'a>(members: impl IntoIterator<Item = &'a UserRef>) -> Option<&'a UserRef> {
    members.into_iter().min()
}

/// An ACS group call id (a UUID, version 5 layout) derived from an externalId.
pub fn group_call_id(external_id: &str) -> String {
    let mut h = Sha256::new();
    field(&mut h, "metaoffice/acs-group-call");
    field(&mut h, external_id);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h.finalize()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(tenant: &str, oid: &str) -> UserRef {
        UserRef {
            tenant: tenant.into(),
            oid: oid.into(),
        }
    }

    #[test]
    fn group_ids_ignore_order_and_repeats_but_not_members() {
        let (a, b, c) = (user("t1", "a"), user("t1", "b"), user("t2", "a"));
        let ab = group_external_id([&a, &b]);
        assert_eq!(ab, group_external_id([&b, &a, &b]));
        assert_ne!(ab, group_external_id([&a, &c]));
        assert_ne!(ab, group_external_id([&a, &b, &c]));
        // No ambiguity where fields meet.
        assert_ne!(
            group_external_id([&user("t", "ab")]),
            group_external_id([&user("ta", "b")])
        );
        assert!(ab.len() <= MAX_EXTERNAL_ID && ab.starts_with("mo-group-"));
    }

    #[test]
    fn room_ids_depend_on_office_and_room() {
        let r = room_external_id("demo", "kitchen");
        assert_eq!(r, room_external_id("demo", "kitchen"));
        assert_ne!(r, room_external_id("demo", "lounge"));
        assert_ne!(r, room_external_id("other", "kitchen"));
        assert_ne!(room_external_id("de", "mokitchen"), r);
        assert!(r.len() <= MAX_EXTERNAL_ID && r.starts_with("mo-room-"));
    }

    #[test]
    fn the_organizer_is_the_smallest_tenant_then_oid() {
        let members = [user("t2", "a"), user("t1", "z"), user("t1", "y")];
        assert_eq!(group_organizer(&members), Some(&user("t1", "y")));
        assert_eq!(group_organizer(&[] as &[UserRef]), None);
    }

    #[test]
    fn group_call_ids_are_stable_uuids() {
        let id = group_call_id("mo-room-1");
        assert_eq!(id, group_call_id("mo-room-1"));
        assert_ne!(id, group_call_id("mo-room-2"));
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(&id[14..15], "5");
    }
}
