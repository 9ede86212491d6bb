//! The spread of whole-tick times (not just the mean) for an office of N
//! clients without sockets: `cargo run --release -p metaoffice-benches
//! --example tick_spread -- 5000 [CELL_TILES CELLS_X CELLS_Y]`.

use std::time::Instant;

use metaoffice_benches::CrowdedOffice;
use metaoffice_server::Config;

fn main() {
    let args: Vec<i64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let clients = args.first().map_or(5000, |&n| n as usize);
    let mut config = Config::default();
    if let [_, cell, x, y] = args[..] {
        config.view.cell_tiles = cell as i32;
        config.view.cells_x = x as i32;
        config.view.cells_y = y as i32;
    }
    let mut office = CrowdedOffice::new(clients, &config);
    let mut times = Vec::new();
    for tick in 0..2000u64 {
        if tick.is_multiple_of(20) {
            office.wander();
        }
        let started = Instant::now();
        office.sim.tick();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        office.drain();
    }
    times.sort_by(f64::total_cmp);
    let q = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!(
        "{clients} clients, view {:?}, {} ticks: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        config.view,
        times.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0)
    );
}
