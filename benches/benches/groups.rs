//! One tick of conversation-group computation: 10,000 avatars in an office
//! of about 20 tiles each, half of them standing in small clusters, a tenth
//! of them taking a step every tick (goal: under 1 ms per tick).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use metaoffice_server::office::groups::{ConversationsConfig, GroupBook, Place, Standing};

fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// `count` avatars: every second one near a cluster centre, the others anywhere.
fn office(count: usize, seed: &mut u64) -> (Vec<Standing>, i32) {
    let side = ((count * 20) as f64).sqrt().ceil() as i32;
    let centres: Vec<(i32, i32)> = (0..count / 8)
        .map(|_| {
            let x = (next(seed) % side as u64) as i32;
            (x, (next(seed) % side as u64) as i32)
        })
        .collect();
    let avatars = (0..count)
        .map(|i| {
            let tile = if i % 2 == 0 {
                let (cx, cy) = centres[i / 2 % centres.len()];
                let dx = (next(seed) % 5) as i32 - 2;
                (cx + dx, cy + (next(seed) % 5) as i32 - 2)
            } else {
                let x = (next(seed) % side as u64) as i32;
                (x, (next(seed) % side as u64) as i32)
            };
            Standing {
                id: i as u32 + 1,
                tile,
                place: Place::Open,
                moving: false,
            }
        })
        .collect();
    (avatars, side)
}

fn group_ticks(c: &mut Criterion) {
    let config = ConversationsConfig::default();
    let mut group = c.benchmark_group("conversation_groups");
    for count in [1_000usize, 10_000] {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let (mut avatars, side) = office(count, &mut seed);
        let mut book = GroupBook::default();
        let mut tick = 0u64;
        book.update(&config, &avatars, tick);
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, _| {
            b.iter(|| {
                // A tenth of the avatars step one tile this tick.
                for _ in 0..count / 10 {
                    let r = next(&mut seed);
                    let a = &mut avatars[(r % count as u64) as usize];
                    let (dx, dy) = [(1, 0), (-1, 0), (0, 1), (0, -1)][(r >> 32) as usize % 4];
                    a.tile = (
                        (a.tile.0 + dx).clamp(0, side),
                        (a.tile.1 + dy).clamp(0, side),
                    );
                }
                tick += 1;
                book.update(&config, &avatars, tick).len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, group_ticks);
criterion_main!(benches);
