//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Labels naming an office.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OfficeLabel {
    /// The office id.
    pub office: String,
}

/// Labels naming a send phase of an office.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabel {
    /// The office id.
    pub office: String,
    /// The phase: `0` or `1`.
    pub phase: String,
}

/// Labels naming an error code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    /// The error's stable name.
    pub code: String,
}

/// Labels naming a kind of call to Microsoft and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GraphCallLabel {
    /// The endpoint: `token`, `createOrGet`, `teamMembers`, `acsExchange`...
    pub kind: String,
    /// The HTTP status, or `timeout` or `error` when no answer came.
    pub status: String,
}

/// Labels naming a kind of call to Microsoft.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GraphKindLabel {
    /// The endpoint.
    pub kind: String,
}

/// What the Graph transport counts: every request sent (each attempt, so
/// retries show), and the waits for the budgets (rate limits and pauses
/// after a `429`). Cheap to clone: clones count into the same families.
#[derive(Debug, Clone, Default)]
pub struct GraphMetrics {
    /// Requests sent, by kind and status.
    pub calls: Family<GraphCallLabel, Counter>,
    /// Calls that had to wait for a budget, by kind.
    pub budget_waits: Family<GraphKindLabel, Counter>,
    /// Time calls waited for budgets, by kind, seconds.
    pub budget_wait_seconds: Family<GraphKindLabel, Counter<f64, AtomicU64>>,
}

impl GraphMetrics {
    /// Counts one request of `kind` that ended with `status`.
    pub fn call(&self, kind: &str, status: &str) {
        self.calls
            .get_or_create(&GraphCallLabel {
                kind: kind.to_owned(),
                status: status.to_owned(),
            })
            .inc();
    }

    /// Counts a wait of `seconds` for a budget before a call of `kind`.
    pub fn budget_wait(&self, kind: &str, seconds: f64) {
        let label = GraphKindLabel {
            kind: kind.to_owned(),
        };
        self.budget_waits.get_or_create(&label).inc();
        self.budget_wait_seconds
            .get_or_create(&label)
            .inc_by(seconds);
    }
}

/// Labels naming a meeting outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MeetingLabel {
    /// `local`, `graph` or `acs`.
    pub provider: String,
    /// `ready`, `unavailable`, `over_budget`, `refused` or `invalid`.
    pub result: String,
}

fn tick_histogram() -> Histogram {
    Histogram::new(tick_buckets())
}

/// Tick-time bucket bounds in seconds: 20 µs to 1 ms 25 % apart, then 10 %
/// apart up to the 50 ms tick period (where the goals and overruns lie, so
/// a percentile read from the buckets is within 10 % of the truth), then a
/// few up to a second.
fn tick_buckets() -> Vec<f64> {
    let mut bounds = Vec::new();
    let mut bound = 0.000_02;
    while bound < 0.001 {
        bounds.push(bound);
        bound *= 1.25;
    }
    bound = 0.001;
    while bound < 0.05 {
        bounds.push(bound);
        bound *= 1.1;
    }
    bounds.extend([0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0]);
    bounds
}

/// Every metric of the server.
pub struct Metrics {
    registry: Registry,
    /// Time one tick took, per office.
    pub tick_seconds: Family<OfficeLabel, Histogram, fn() -> Histogram>,
    /// CPU time of the thread running the tick during it, per office: the
    /// rest of `tick_seconds` is time the thread waited for a core.
    pub tick_cpu_seconds: Family<OfficeLabel, Histogram, fn() -> Histogram>,
    /// Avatars per office.
    pub avatars: Family<OfficeLabel, Gauge>,
    /// Ticks per frame sent (1 normally, 2 when the office batches under load).
    pub ticks_per_frame: Family<OfficeLabel, Gauge>,
    /// Frames encoded per office (one per view that saw something).
    pub frames_encoded: Family<OfficeLabel, Counter>,
    /// Clients in each send phase of an office (while frames batch two
    /// ticks, each phase gets its frames on every second tick).
    pub send_phase_clients: Family<PhaseLabel, Gauge>,
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Frames written to sockets.
    pub frames_sent: Counter,
    /// Bytes of frames written to sockets.
    pub bytes_sent: Counter,
    /// Frames received from clients.
    pub frames_received: Counter,
    /// Times a client's outbox was full and its backlog replaced by a snapshot.
    pub resyncs: Counter,
    /// Error frames sent, by code.
    pub errors: Family<CodeLabel, Counter>,
    /// Calls to Microsoft (Graph, token, ACS) and budget waits.
    pub graph: GraphMetrics,
    /// Meetings offices received from their desks, by provider and result.
    pub meetings: Family<MeetingLabel, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("metaoffice");
        let tick_seconds =
            Family::<OfficeLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                tick_histogram,
            );
        let metrics = Metrics {
            tick_seconds,
            tick_cpu_seconds: Family::new_with_constructor(tick_histogram),
            avatars: Family::default(),
            ticks_per_frame: Family::default(),
            frames_encoded: Family::default(),
            send_phase_clients: Family::default(),
            connections: Gauge::default(),
            frames_sent: Counter::default(),
            bytes_sent: Counter::default(),
            frames_received: Counter::default(),
            resyncs: Counter::default(),
            errors: Family::default(),
            graph: GraphMetrics::default(),
            meetings: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "tick_seconds",
            "Time one office tick took",
            metrics.tick_seconds.clone(),
        );
        registry.register(
            "tick_cpu_seconds",
            "CPU time of the thread running an office tick during the tick",
            metrics.tick_cpu_seconds.clone(),
        );
        registry.register("avatars", "Avatars in the office", metrics.avatars.clone());
        registry.register(
            "ticks_per_frame",
            "Ticks each frame covers",
            metrics.ticks_per_frame.clone(),
        );
        registry.register(
            "send_phase_clients",
            "Clients in each send phase of an office",
            metrics.send_phase_clients.clone(),
        );
        registry.register(
            "frames_encoded",
            "Frames encoded (one per view)",
            metrics.frames_encoded.clone(),
        );
        registry.register(
            "connections",
            "Open WebSocket connections",
            metrics.connections.clone(),
        );
        registry.register(
            "frames_sent",
            "Frames written to sockets",
            metrics.frames_sent.clone(),
        );
        registry.register(
            "bytes_sent",
            "Bytes of frames written to sockets",
            metrics.bytes_sent.clone(),
        );
        registry.register(
            "frames_received",
            "Frames received from clients",
            metrics.frames_received.clone(),
        );
        registry.register(
            "resyncs",
            "Outbox overflows answered with a snapshot",
            metrics.resyncs.clone(),
        );
        registry.register(
            "errors",
            "Error frames sent, by code",
            metrics.errors.clone(),
        );
        registry.register(
            "graph_calls",
            "Requests to Microsoft (Graph, token, ACS), by kind and HTTP status (or timeout, error)",
            metrics.graph.calls.clone(),
        );
        registry.register(
            "graph_budget_waits",
            "Calls to Microsoft that waited for a rate budget or a pause after 429, by kind",
            metrics.graph.budget_waits.clone(),
        );
        registry.register(
            "graph_budget_wait_seconds",
            "Time calls to Microsoft waited for rate budgets, by kind",
            metrics.graph.budget_wait_seconds.clone(),
        );
        registry.register(
            "meetings",
            "Meeting outcomes offices received, by provider and result",
            metrics.meetings.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// Counts an error frame.
    pub fn error(&self, code: metaoffice_protocol::ErrorCode) {
        self.errors
            .get_or_create(&CodeLabel {
                code: code.name().to_owned(),
            })
            .inc();
    }

    /// Counts a meeting outcome; a failure is counted under `provider`
    /// (the office's), a meeting under the provider that made it.
    pub fn meeting(
        &self,
        result: &Result<crate::meetings::MeetingInfo, crate::meetings::MeetingFailure>,
        provider: crate::meetings::ProviderKind,
    ) {
        use crate::meetings::MeetingFailure;
        let (provider, result) = match result {
            Ok(info) => (info.provider, "ready"),
            Err(MeetingFailure::Unavailable(_)) => (provider, "unavailable"),
            Err(MeetingFailure::OverBudget { .. }) => (provider, "over_budget"),
            Err(MeetingFailure::Refused(_)) => (provider, "refused"),
            Err(MeetingFailure::Invalid(_)) => (provider, "invalid"),
        };
        self.meetings
            .get_or_create(&MeetingLabel {
                provider: provider.as_str().to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// The office's label.
    pub fn office(id: &str) -> OfficeLabel {
        OfficeLabel {
            office: id.to_owned(),
        }
    }

    /// Everything, in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// CPU time the calling thread has used so far.
pub fn thread_cpu_time() -> std::time::Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    std::time::Duration::new(
        t.tv_sec.max(0) as u64,
        t.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}
