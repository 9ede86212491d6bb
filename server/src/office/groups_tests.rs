//! Conversation groups: the rules on a [`GroupBook`], without a world.

use super::groups::{ConversationsConfig, GroupBook, GroupChange, Place, Standing};

fn open(id: u32, x: i32, y: i32) -> Standing {
    Standing {
        id,
        tile: (x, y),
        place: Place::Open,
        moving: false,
    }
}

fn ids(book: &GroupBook) -> Vec<(u64, Vec<u32>)> {
    let mut all: Vec<_> = book.groups().map(|g| (g.id, g.members.clone())).collect();
    all.sort();
    all
}

#[test]
fn hysteresis_keeps_a_pair_between_the_radii_together() {
    let config = ConversationsConfig::default(); // join 2.5, leave 3.5
    let mut book = GroupBook::default();
    assert!(
        book.update(&config, &[open(1, 0, 0), open(2, 3, 0)], 0)
            .is_empty()
    );
    assert_eq!(
        book.update(&config, &[open(1, 0, 0), open(2, 2, 0)], 1),
        vec![GroupChange::Formed(1)]
    );
    // Back and forth across the join radius: no change at all.
    for tick in 2..20 {
        let x = if tick % 2 == 0 { 3 } else { 2 };
        assert!(
            book.update(&config, &[open(1, 0, 0), open(2, x, 0)], tick)
                .is_empty()
        );
    }
    assert_eq!(ids(&book), vec![(1, vec![1, 2])]);
    let changes = book.update(&config, &[open(1, 0, 0), open(2, 4, 0)], 20);
    assert!(matches!(&changes[..], [GroupChange::Dissolved(g)] if g.id == 1));
}

#[test]
fn groups_keep_their_id_while_most_members_stay() {
    let config = ConversationsConfig::default();
    let mut book = GroupBook::default();
    let row = |xs: &[(u32, i32)]| xs.iter().map(|&(id, x)| open(id, x, 0)).collect::<Vec<_>>();
    book.update(&config, &row(&[(1, 0), (2, 1), (3, 2)]), 0);
    assert_eq!(ids(&book), vec![(1, vec![1, 2, 3])]);
    // One leaves: the group goes on as 1.
    let changes = book.update(&config, &row(&[(1, 0), (2, 1), (3, 20)]), 1);
    assert_eq!(
        changes,
        vec![GroupChange::Changed {
            id: 1,
            joined: vec![],
            left: vec![3]
        }]
    );
    // A chain splits in two: neither half is most of the old pair... of 2, one each.
    let changes = book.update(&config, &row(&[(1, 0), (2, 10), (3, 11)]), 2);
    assert_eq!(ids(&book), vec![(2, vec![2, 3])]);
    assert!(matches!(changes[0], GroupChange::Dissolved(ref g) if g.id == 1));
    // Walking up to a group joins it, under its id.
    book.update(&config, &row(&[(1, 9), (2, 10), (3, 11)]), 3);
    assert_eq!(ids(&book), vec![(2, vec![1, 2, 3])]);
}

#[test]
fn the_largest_group_size_is_kept() {
    let config = ConversationsConfig {
        max_group_size: 3,
        ..ConversationsConfig::default()
    };
    let mut book = GroupBook::default();
    let avatars: Vec<_> = (1..=3).map(|id| open(id, id as i32, 0)).collect();
    book.update(&config, &avatars, 0);
    // Newcomers with lower and higher ids: the members stay, the newcomers are out.
    let mut more = avatars.clone();
    more.extend([open(0, 0, 0), open(9, 4, 0), open(10, 5, 0)]);
    book.update(&config, &more, 1);
    assert_eq!(ids(&book), vec![(1, vec![1, 2, 3])]);
    assert!(book.group_of(0).is_none() && book.group_of(9).is_none());
}

#[test]
fn silent_zones_form_nothing_and_rooms_hold_everyone_inside() {
    let config = ConversationsConfig::default();
    let mut book = GroupBook::default();
    let at = |id, x, place| Standing {
        id,
        tile: (x, 0),
        place,
        moving: false,
    };
    let avatars = [
        at(1, 0, Place::Silent),
        at(2, 1, Place::Silent),
        at(3, 10, Place::Room(0)),
        at(4, 40, Place::Room(0)),
        at(5, 80, Place::Room(1)),
    ];
    book.update(&config, &avatars, 0);
    let groups: Vec<_> = book.groups().map(|g| (g.room, g.members.clone())).collect();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert!(groups.contains(&(Some(0), vec![3, 4])));
    assert!(groups.contains(&(Some(1), vec![5])));
}

#[test]
fn ten_thousand_scattered_avatars_are_grouped_by_cells() {
    let config = ConversationsConfig::default();
    let mut book = GroupBook::default();
    // Pairs two tiles apart, pairs 10 tiles from each other.
    let avatars: Vec<_> = (0..10_000u32)
        .map(|i| {
            open(
                i + 1,
                (i / 2 % 100) as i32 * 10 + (i % 2) as i32 * 2,
                (i / 200) as i32 * 10,
            )
        })
        .collect();
    book.update(&config, &avatars, 0);
    assert_eq!(book.groups().count(), 5_000);
    assert!(book.groups().all(|g| g.members.len() == 2));
}
