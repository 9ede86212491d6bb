//! A whole office tick with thousands of clients: receive, movement, interest
//! management and frame encoding into every client's outbox (no sockets).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use metaoffice_benches::CrowdedOffice;
use metaoffice_server::Config;

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("office_tick_with_clients");
    group.sample_size(20);
    for clients in [1_000usize, 5_000] {
        let mut office = CrowdedOffice::new(clients, &Config::default());
        let mut ticks = 0u64;
        group.throughput(Throughput::Elements(clients as u64));
        group.bench_with_input(BenchmarkId::from_parameter(clients), &clients, |b, _| {
            b.iter(|| {
                // New directions every second of office time, as people wander.
                if ticks.is_multiple_of(20) {
                    office.wander();
                }
                ticks += 1;
                office.sim.tick();
                office.drain();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
