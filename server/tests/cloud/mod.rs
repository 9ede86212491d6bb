//! The fake Microsoft and a manual clock, wired together for tests of the
//! integration layer.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metaoffice_fakes::{
    DEFAULT_ACS_KEY, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeMicrosoft, FakeOptions,
    RecordedCall,
};
use metaoffice_server::Config;
use metaoffice_server::clock::ManualClock;
use metaoffice_server::graph::{GraphConfig, Secret};
use metaoffice_server::meetings::{
    MeetingDesk, MeetingKey, MeetingKind, MeetingOutcome, MeetingRequest, Member, Providers,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long (real time) a test waits for anything before failing.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// A manual clock and a fake Microsoft that stamps calls with it.
pub struct Cloud {
    pub clock: ManualClock,
    pub fake: FakeMicrosoft,
}

impl Cloud {
    pub async fn start() -> Cloud {
        Cloud::start_with(FakeOptions::default()).await
    }

    pub async fn start_with(mut options: FakeOptions) -> Cloud {
        let clock = ManualClock::new();
        let time = clock.clone();
        options.time = Some(Arc::new(move || time.elapsed()));
        let fake = FakeMicrosoft::start(options).await;
        Cloud { clock, fake }
    }

    /// `[graph]` pointing at the fake, with its application's credentials.
    pub fn graph_config(&self) -> GraphConfig {
        let mut graph = GraphConfig {
            base_url: self.fake.graph_url(),
            login_url: self.fake.login_url(),
            client_id: Some(DEFAULT_CLIENT_ID.to_owned()),
            client_secret: Some(Secret::new(DEFAULT_CLIENT_SECRET)),
            room_organizer: Some("room-organizer-oid".to_owned()),
            ..GraphConfig::default()
        };
        graph.retry.request_timeout_ms = 5_000;
        graph
    }

    /// A whole configuration using the fake for Graph and ACS.
    pub fn config(&self) -> Config {
        let mut config = Config {
            graph: self.graph_config(),
            ..Config::default()
        };
        config.acs.endpoint = Some(self.fake.acs_endpoint());
        config.acs.access_key = Some(Secret::new(DEFAULT_ACS_KEY));
        config
    }

    /// The time on the manual clock (what the fake stamps calls with).
    pub fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Runs `future` to completion, moving the manual clock to the next
    /// deadline whenever nothing holds it and nothing else happened for a
    /// moment. Never waits for a budget in real time.
    pub async fn drive<T>(&self, future: impl Future<Output = T>) -> T {
        drive(&self.clock, future).await
    }
}

/// See [`Cloud::drive`].
pub async fn drive<T>(clock: &ManualClock, future: impl Future<Output = T>) -> T {
    let started = Instant::now();
    tokio::pin!(future);
    loop {
        tokio::select! {
            out = &mut future => return out,
            _ = tokio::time::sleep(Duration::from_millis(2)) => {
                clock.advance_to_next_deadline();
            }
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the test did not finish in time"
        );
    }
}

/// Takes `n` outcomes from `outcomes`, driving the clock.
pub async fn outcomes(
    clock: &ManualClock,
    outcomes: &mut mpsc::Receiver<MeetingOutcome>,
    n: usize,
) -> Vec<MeetingOutcome> {
    drive(clock, async {
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            match outcomes.recv().await {
                Some(o) => got.push(o),
                None => break,
            }
        }
        got
    })
    .await
}

/// A desk on `providers`, stopped when the returned token is cancelled.
pub fn desk(
    config: &Config,
    providers: Providers,
) -> (
    MeetingDesk,
    mpsc::Receiver<MeetingOutcome>,
    CancellationToken,
) {
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let (desk, rx) = MeetingDesk::start(&config.meetings, providers, shutdown.clone(), &tasks);
    (desk, rx, shutdown)
}

/// A group request of `members` (tenant, oid) in office `demo`.
pub fn group(key: MeetingKey, tenant: &str, members: &[(&str, &str)]) -> MeetingRequest {
    MeetingRequest {
        key,
        office: "demo".to_owned(),
        tenant: tenant.to_owned(),
        kind: MeetingKind::Group {
            members: members.iter().map(|(t, o)| Member::new(t, o)).collect(),
        },
        subject: None,
    }
}

/// The largest number of `calls` in any window of `window` ending at a call
/// (excluding the window's start), counted per key.
pub fn max_in_window<K: Eq + std::hash::Hash>(
    calls: &[RecordedCall],
    window: Duration,
    key: impl Fn(&RecordedCall) -> K,
) -> usize {
    let mut by_key: std::collections::HashMap<K, Vec<Duration>> = Default::default();
    for c in calls {
        by_key.entry(key(c)).or_default().push(c.at);
    }
    let mut worst = 0;
    for times in by_key.values_mut() {
        times.sort();
        let mut first = 0;
        for (last, &at) in times.iter().enumerate() {
            while times[first] + window <= at {
                first += 1;
            }
            worst = worst.max(last + 1 - first);
        }
    }
    worst
}
