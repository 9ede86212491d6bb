//! The Graph client when Microsoft fails: server errors retried with
//! jittered backoff then a clear failure, the circuit breaker, malformed
//! answers, and the fake's own throttling.

mod cloud;

use std::time::Duration;

use cloud::Cloud;
use metaoffice_fakes::{Endpoint, Fault, Limit, LimitScope, MalformedBody, RecordedCall, Times};
use metaoffice_server::graph::retry::RetryPolicy;
use metaoffice_server::graph::{CreateOrGet, GraphClient, GraphConfig, GraphError};

fn client(cloud: &Cloud, graph: &GraphConfig) -> GraphClient {
    GraphClient::new(graph, cloud.clock.shared()).expect("graph client")
}

fn meeting(external_id: &str) -> CreateOrGet {
    CreateOrGet {
        external_id: external_id.to_owned(),
        subject: None,
        attendees: Vec::new(),
    }
}

fn statuses(calls: &[RecordedCall]) -> Vec<u16> {
    calls.iter().map(|c| c.status).collect()
}

#[tokio::test]
async fn server_errors_are_retried_with_growing_jittered_backoff_then_fail_clearly() {
    let cloud = Cloud::start().await;
    let mut config = cloud.graph_config();
    config.retry.max_attempts = 4;
    config.retry.backoff_base_ms = 100;
    config.retry.backoff_max_ms = 1_000;
    let policy = RetryPolicy::from(&config.retry);
    let graph = client(&cloud, &config);
    cloud.fake.fault(
        Endpoint::CreateOrGet,
        Fault::Status(500),
        Times::UntilCleared,
    );
    let err = cloud
        .drive(graph.create_or_get("t1", "alice", &meeting("x1")))
        .await
        .expect_err("gives up");
    match &err {
        GraphError::GaveUp {
            endpoint: "createOrGet",
            attempts: 4,
            last,
        } => assert!(last.contains("HTTP 500"), "{last}"),
        other => panic!("expected GaveUp after 4 attempts, got {other:?}"),
    }
    assert!(
        err.to_string().contains("gave up after 4 attempts"),
        "{err}"
    );
    let calls = cloud.fake.calls_to(Endpoint::CreateOrGet);
    assert_eq!(statuses(&calls), [500, 500, 500, 500]);
    for (n, pair) in calls.windows(2).enumerate() {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap <= policy.backoff_bound(n as u32 + 1),
            "backoff {n} was {gap:?}, above {:?}",
            policy.backoff_bound(n as u32 + 1)
        );
    }
    // 503 and a timeout are retried too, then the call succeeds.
    cloud.fake.clear_faults();
    cloud
        .fake
        .fault(Endpoint::CreateOrGet, Fault::Status(503), Times::Next(1));
    cloud.fake.fault(
        Endpoint::CreateOrGet,
        Fault::Delay(Duration::from_secs(2)),
        Times::Next(1),
    );
    let mut quick = config.clone();
    quick.retry.request_timeout_ms = 200;
    let graph = client(&cloud, &quick);
    cloud
        .drive(graph.create_or_get("t1", "alice", &meeting("x1")))
        .await
        .expect("succeeds on the third attempt");
    let last: Vec<u16> = statuses(&cloud.fake.calls_to(Endpoint::CreateOrGet))[4..].to_vec();
    assert_eq!(last.first(), Some(&503));
    assert!(matches!(last.last(), Some(200 | 201)), "{last:?}");
}

#[tokio::test]
async fn the_circuit_opens_on_a_down_service_and_closes_after_a_good_probe() {
    let cloud = Cloud::start().await;
    let mut config = cloud.graph_config();
    config.retry.max_attempts = 2;
    config.retry.breaker_failures = 3;
    config.retry.breaker_cooldown_secs = 30;
    let graph = client(&cloud, &config);
    cloud
        .drive(graph.create_or_get("t1", "alice", &meeting("up")))
        .await
        .expect("up");
    cloud.fake.set_down(true);
    let failed_before = cloud.fake.calls().len();
    let first = cloud
        .drive(graph.create_or_get("t1", "alice", &meeting("a")))
        .await;
    assert!(
        matches!(first, Err(GraphError::GaveUp { attempts: 2, .. })),
        "{first:?}"
    );
    let second = cloud
        .drive(graph.create_or_get("t1", "alice", &meeting("b")))
        .await;
    assert!(
        matches!(second, Err(GraphError::CircuitOpen { .. })),
        "{second:?}"
    );
    let reached = cloud.fake.calls().len() - failed_before;
    assert!(
        reached >= 3,
        "three failures open the circuit, saw {reached}"
    );
    assert!(
        cloud.fake.calls()[failed_before..]
            .iter()
            .all(|c| c.status == 0)
    );
    // Open: calls fail at once and nothing reaches the service.
    for ext in ["c", "d", "e"] {
        let r = cloud
            .drive(graph.create_or_get("t1", "alice", &meeting(ext)))
            .await;
        assert!(matches!(r, Err(GraphError::CircuitOpen { .. })), "{r:?}");
    }
    assert_eq!(cloud.fake.calls().len() - failed_before, reached);
    // Back up, and after the cool-down one probe closes the circuit.
    cloud.fake.set_down(false);
    cloud.clock.advance(Duration::from_secs(29));
    let early = cloud
        .drive(graph.create_or_get("t1", "alice", &meeting("f")))
        .await;
    assert!(
        matches!(early, Err(GraphError::CircuitOpen { .. })),
        "{early:?}"
    );
    cloud.clock.advance(Duration::from_secs(1));
    for ext in ["g", "h"] {
        cloud
            .drive(graph.create_or_get("t1", "alice", &meeting(ext)))
            .await
            .expect("closed again");
    }
}

#[tokio::test]
async fn malformed_answers_are_errors_not_panics() {
    let cloud = Cloud::start().await;
    let graph = client(&cloud, &cloud.graph_config());
    for kind in [
        MalformedBody::Truncated,
        MalformedBody::WrongShape,
        MalformedBody::NotJson,
    ] {
        cloud.fake.fault(
            Endpoint::CreateOrGet,
            Fault::Malformed(kind),
            Times::Next(1),
        );
        let r = cloud
            .drive(graph.create_or_get("t1", "alice", &meeting("x")))
            .await;
        assert!(
            matches!(
                r,
                Err(GraphError::Malformed {
                    endpoint: "createOrGet",
                    ..
                })
            ),
            "{kind:?}: {r:?}"
        );
    }
    cloud.fake.fault(
        Endpoint::Token,
        Fault::Malformed(MalformedBody::WrongShape),
        Times::Next(1),
    );
    let r = cloud.drive(graph.tokens().app_token("t9")).await;
    assert!(
        matches!(
            r,
            Err(GraphError::Malformed {
                endpoint: "token",
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn the_fake_throttles_by_itself_and_the_client_honours_it() {
    let cloud = Cloud::start().await;
    cloud.fake.enforce(Limit {
        endpoint: Some(Endpoint::CreateOrGet),
        scope: LimitScope::PerTenant,
        max: 3,
        window: Duration::from_secs(1),
    });
    // The server's own budgets are looser than the fake's limit here.
    let graph = client(&cloud, &cloud.graph_config());
    for ext in ["a", "b", "c", "d"] {
        cloud
            .drive(graph.create_or_get("t1", "alice", &meeting(ext)))
            .await
            .expect("meeting");
    }
    cloud
        .drive(graph.create_or_get("t2", "bob", &meeting("e")))
        .await
        .expect("another tenant");
    let calls = cloud.fake.calls_to(Endpoint::CreateOrGet);
    let t1: Vec<&RecordedCall> = calls
        .iter()
        .filter(|c| c.tenant.as_deref() == Some("t1"))
        .collect();
    assert_eq!(
        t1.iter().map(|c| c.status).collect::<Vec<_>>(),
        [201, 201, 201, 429, 201],
        "the fourth call within a second is throttled"
    );
    assert!(
        t1[4].at >= t1[0].at + Duration::from_secs(1),
        "retried once the window freed"
    );
    let t2: Vec<u16> = calls
        .iter()
        .filter(|c| c.tenant.as_deref() == Some("t2"))
        .map(|c| c.status)
        .collect();
    assert_eq!(t2, [201]);
}
