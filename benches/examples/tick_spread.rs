//! The spread of whole-tick times (not just the mean) for an office of N
//! clients without sockets: `cargo run --release -p metaoffice-benches
//! --example tick_spread -- 5000`.

use std::sync::Arc;
use std::time::Instant;

use metaoffice_benches::{office_map, side_for};
use metaoffice_protocol::Direction;
use metaoffice_server::Config;
use metaoffice_server::map::{CollisionRule, load_map};
use metaoffice_server::office::build_office;
use metaoffice_server::office::input::InputSlot;
use metaoffice_server::office::network::OfficeCommand;
use metaoffice_server::office::outbox::Outbox;

fn main() {
    let clients: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let side = side_for(clients, 20);
    let json = serde_json::to_vec(&office_map(side, side)).expect("json");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.tmj");
    std::fs::write(&path, &json).expect("write map");
    let map = load_map(&path, &CollisionRule::office_default(), None).expect("map");
    let (mut sim, handle) = build_office("bench", &map, &Config::default(), Arc::default());
    let mut seats = Vec::new();
    for i in 0..clients {
        let (outbox, input) = (Outbox::new(1 << 20), InputSlot::default());
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
    let mut seed = 0x9e37_79b9_u64;
    let mut times = Vec::new();
    for tick in 0..2000u64 {
        if tick.is_multiple_of(20) {
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
        let started = Instant::now();
        sim.tick();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        for (outbox, _, _) in &seats {
            while outbox.try_next().is_some() {}
        }
    }
    times.sort_by(f64::total_cmp);
    let q = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "{clients} clients, {} ticks: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0)
    );
}
