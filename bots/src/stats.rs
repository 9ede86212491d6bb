//! What the bots measure, per bot while running and merged into a report.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies are recorded in microseconds, up to a minute.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant, valid bounds")
}

/// Measurements of one or more bots.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Input sent while standing → the bot's own step or turn seen in a frame.
    pub echo: Histogram<u64>,
    /// A step's tick on the server → the frame carrying it arrives.
    pub observe: Histogram<u64>,
    /// Round trip of pings.
    pub ping: Histogram<u64>,
    /// Bots that joined.
    pub joined: u64,
    /// Bots that could not connect or join.
    pub failed: u64,
    /// Frames received.
    pub frames: u64,
    /// Bytes of frames received.
    pub bytes: u64,
    /// Payload bytes of tick frames.
    pub tick_bytes: u64,
    /// Avatar updates in those tick frames.
    pub updates: u64,
    /// Tick-frame updates by kind: `steps` and `turns` with tiles,
    /// compact `moves`, `appeared`, `disappeared`.
    pub update_kinds: [u64; 5],
    /// `Echo` messages received.
    pub echoes: u64,
    /// Snapshots received (the bot fell behind).
    pub snapshots: u64,
    /// Inputs whose echo did not come within a second (the tile was taken meanwhile).
    pub echo_lost: u64,
    /// Error frames by code.
    pub errors: BTreeMap<u16, u64>,
    /// Connections that ended before the run did, by reason.
    pub disconnects: BTreeMap<String, u64>,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            echo: histogram(),
            observe: histogram(),
            ping: histogram(),
            joined: 0,
            failed: 0,
            frames: 0,
            bytes: 0,
            tick_bytes: 0,
            updates: 0,
            update_kinds: [0; 5],
            echoes: 0,
            snapshots: 0,
            echo_lost: 0,
            errors: BTreeMap::new(),
            disconnects: BTreeMap::new(),
        }
    }
}

impl Stats {
    /// Adds another bot's measurements.
    pub fn merge(&mut self, other: &Stats) {
        let _ = self.echo.add(&other.echo);
        let _ = self.observe.add(&other.observe);
        let _ = self.ping.add(&other.ping);
        self.joined += other.joined;
        self.failed += other.failed;
        self.frames += other.frames;
        self.bytes += other.bytes;
        self.tick_bytes += other.tick_bytes;
        self.updates += other.updates;
        for (mine, theirs) in self.update_kinds.iter_mut().zip(other.update_kinds) {
            *mine += theirs;
        }
        self.echoes += other.echoes;
        self.snapshots += other.snapshots;
        self.echo_lost += other.echo_lost;
        for (code, n) in &other.errors {
            *self.errors.entry(*code).or_default() += n;
        }
        for (reason, n) in &other.disconnects {
            *self.disconnects.entry(reason.clone()).or_default() += n;
        }
    }

    /// Records a latency.
    pub fn record(histogram: &mut Histogram<u64>, micros: u64) {
        let _ = histogram.record(micros.clamp(1, 60_000_000));
    }
}

/// Percentiles of a latency, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    /// Summarises a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Latency {
        let ms = |v: u64| v as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// The end-of-run report (`--report-json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Bots asked for.
    pub bots: usize,
    /// Of which chaos bots.
    pub chaos_bots: usize,
    /// Seconds measured (after the ramp).
    pub seconds: f64,
    /// Connections made and joined.
    pub joined: u64,
    /// Connections or joins that failed.
    pub failed: u64,
    /// Input → own step echo.
    pub echo: Latency,
    /// Inputs expected to echo that did not within a second.
    pub echo_lost: u64,
    /// Server tick of a step → frame received.
    pub observe: Latency,
    /// Ping round trips.
    pub ping: Latency,
    /// Frames per client per second.
    pub frames_per_client_s: f64,
    /// Bytes per client per second.
    pub bytes_per_client_s: f64,
    /// Tick-frame payload bytes per avatar update (steps, turns, appear, disappear).
    pub bytes_per_update: f64,
    /// Tick-frame updates by kind.
    pub update_kinds: BTreeMap<String, u64>,
    /// `Echo` messages per client per second.
    pub echoes_per_client_s: f64,
    /// Snapshots received.
    pub snapshots: u64,
    /// Error frames by code number (well-behaved bots).
    pub errors: BTreeMap<u16, u64>,
    /// Early disconnects by reason (well-behaved bots).
    pub disconnects: BTreeMap<String, u64>,
    /// Error frames the chaos bots provoked, by code number.
    pub chaos_errors: BTreeMap<u16, u64>,
}

impl Report {
    /// Builds the report from the well-behaved bots' and the chaos bots' stats.
    pub fn new(
        bots: usize,
        chaos_bots: usize,
        seconds: f64,
        good: &Stats,
        chaos: &Stats,
    ) -> Report {
        let clients = good.joined.max(1) as f64 * seconds.max(0.001);
        Report {
            bots,
            chaos_bots,
            seconds,
            joined: good.joined,
            failed: good.failed,
            echo: Latency::of(&good.echo),
            echo_lost: good.echo_lost,
            observe: Latency::of(&good.observe),
            ping: Latency::of(&good.ping),
            frames_per_client_s: good.frames as f64 / clients,
            bytes_per_client_s: good.bytes as f64 / clients,
            bytes_per_update: good.tick_bytes as f64 / good.updates.max(1) as f64,
            update_kinds: ["steps", "turns", "moves", "appeared", "disappeared"]
                .iter()
                .zip(good.update_kinds)
                .map(|(kind, n)| ((*kind).to_owned(), n))
                .collect(),
            echoes_per_client_s: good.echoes as f64 / clients,
            snapshots: good.snapshots,
            errors: good.errors.clone(),
            disconnects: good.disconnects.clone(),
            chaos_errors: chaos.errors.clone(),
        }
    }

    /// Whether any well-behaved bot failed, saw an error or was disconnected.
    pub fn has_failures(&self) -> bool {
        self.failed > 0 || !self.errors.is_empty() || !self.disconnects.is_empty()
    }

    /// A readable summary.
    pub fn summary(&self) -> String {
        let l = |name: &str, x: &Latency| {
            format!(
                "{name:<22} p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  ({} samples)\n",
                x.p50_ms, x.p95_ms, x.p99_ms, x.max_ms, x.count
            )
        };
        let mut out = format!(
            "bots {} ({} chaos), joined {}, failed {}, measured {:.1} s\n",
            self.bots, self.chaos_bots, self.joined, self.failed, self.seconds
        );
        out += &l("input -> own echo", &self.echo);
        out += &format!(
            "{:<22} {} inputs expected to echo did not within 1 s\n",
            "", self.echo_lost
        );
        out += &l("step -> observer", &self.observe);
        out += &l("ping round trip", &self.ping);
        out += &format!(
            "per client: {:.1} frames/s ({:.2} echoes/s), {:.0} B/s; {:.2} bytes per avatar update; {} snapshots\n",
            self.frames_per_client_s,
            self.echoes_per_client_s,
            self.bytes_per_client_s,
            self.bytes_per_update,
            self.snapshots
        );
        out += &format!("updates by kind: {:?}\n", self.update_kinds);
        out += &format!(
            "errors: {:?}; disconnects: {:?}; chaos provoked: {:?}\n",
            self.errors, self.disconnects, self.chaos_errors
        );
        out
    }
}
