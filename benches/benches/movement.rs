//! One tick of movement with many avatars walking in an open office.

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use metaoffice_protocol::Direction;
use metaoffice_server::movement::{CollisionGrid, CollisionStrategy, Rules};
use metaoffice_server::office::sim::OfficeSim;

/// An office of about 20 tiles per avatar, everyone holding a direction
/// that changes every few ticks, in join order as the server runs it.
fn office(avatars: usize) -> (OfficeSim, Vec<bevy_ecs::entity::Entity>) {
    let side = ((avatars * 20) as f64).sqrt().ceil() as u32;
    let rules = Rules {
        directions: 4,
        strategy: CollisionStrategy::BlockTwoTiles,
        tick_hz: 20.0,
    };
    let mut sim = OfficeSim::new(Arc::new(CollisionGrid::open(side, side)), rules);
    let mut entities = Vec::with_capacity(avatars);
    for i in 0..avatars {
        let tile = (
            (i as u32 * 4 % side) as i32,
            (i as u32 * 4 / side * 2 % side) as i32,
        );
        entities.push(sim.add_avatar("bot", tile, 4.0, true));
    }
    (sim, entities)
}

/// Every avatar takes a new pseudo-random direction (a xorshift step).
fn turn_everyone(sim: &mut OfficeSim, entities: &[bevy_ecs::entity::Entity], seed: &mut u64) {
    for &avatar in entities {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        sim.hold(avatar, Some(Direction::ALL[(*seed % 4) as usize]));
    }
}

fn movement(c: &mut Criterion) {
    let mut group = c.benchmark_group("movement_tick");
    for avatars in [1_000, 10_000, 50_000] {
        let (mut sim, entities) = office(avatars);
        let mut seed = 0x2545_f491_u64;
        let mut ticks = 0u64;
        group.throughput(Throughput::Elements(avatars as u64));
        group.bench_with_input(BenchmarkId::from_parameter(avatars), &avatars, |b, _| {
            b.iter(|| {
                // New directions every second of office time, as people wander.
                if ticks.is_multiple_of(20) {
                    turn_everyone(&mut sim, &entities, &mut seed);
                }
                ticks += 1;
                sim.tick()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, movement);
criterion_main!(benches);
