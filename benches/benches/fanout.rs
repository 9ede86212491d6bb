//! A whole office tick with thousands of clients: receive, movement, interest
//! management and frame encoding into every client's outbox (no sockets).

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use metaoffice_benches::{office_map, side_for};
use metaoffice_protocol::Direction;
use metaoffice_server::Config;
use metaoffice_server::map::{CollisionRule, load_map};
use metaoffice_server::office::build_office;
use metaoffice_server::office::input::InputSlot;
use metaoffice_server::office::network::OfficeCommand;
use metaoffice_server::office::outbox::Outbox;

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("office_tick_with_clients");
    group.sample_size(20);
    for clients in [1_000usize, 5_000] {
        let side = side_for(clients, 20);
        let json = serde_json::to_vec(&office_map(side, side)).expect("json");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bench.tmj");
        std::fs::write(&path, &json).expect("write map");
        let map = load_map(&path, &CollisionRule::office_default(), None).expect("map");
        let config = Config::default();
        let (mut sim, handle) = build_office("bench", &map, &config, Arc::default());
        let mut seats = Vec::new();
        for i in 0..clients {
            let outbox = Outbox::new(1 << 20);
            let input = InputSlot::default();
            let (reply, answer) = tokio::sync::oneshot::channel();
            let join = OfficeCommand::Join {
                name: format!("bot-{i}"),
                outbox: outbox.clone(),
                input: input.clone(),
                start: None,
                reply,
            };
            handle.inbox.try_send(join).expect("room");
            if i % 500 == 499 {
                sim.tick();
            }
            seats.push((outbox, input, answer));
        }
        sim.tick();
        let joined = seats
            .iter_mut()
            .map(|s| matches!(s.2.try_recv(), Ok(Ok(_))))
            .filter(|&ok| ok)
            .count();
        assert_eq!(joined, clients, "everyone joined");
        let mut seed = 0x9e37_79b9_u64;
        let mut ticks = 0u64;
        group.throughput(Throughput::Elements(clients as u64));
        group.bench_with_input(BenchmarkId::from_parameter(clients), &clients, |b, _| {
            b.iter(|| {
                if ticks.is_multiple_of(20) {
                    for (_, input, _) in &seats {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        match seed % 5 {
                            0 => input.release(),
                            d => input.hold(Direction::ALL[(d - 1) as usize]),
                        }
                    }
                }
                ticks += 1;
                sim.tick();
                for (outbox, _, _) in &seats {
                    while outbox.try_next().is_some() {}
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
