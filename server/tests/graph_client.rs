//! The Graph client against the fake Microsoft on 127.0.0.1: createOrGet
//! reuse, token caching, 429 with Retry-After, retries with backoff, the
//! circuit breaker, malformed answers, token endpoint errors.

mod cloud;

use std::time::Duration;

use cloud::Cloud;
use metaoffice_fakes::{
    DEFAULT_CLIENT_ID, Endpoint, FakeOptions, Fault, MalformedBody, RecordedCall, Times,
};
use metaoffice_server::graph::retry::RetryPolicy;
use metaoffice_server::graph::{CreateOrGet, GraphClient, GraphConfig, GraphError, Secret};

fn client(cloud: &Cloud, graph: &GraphConfig) -> GraphClient {
    GraphClient::new(graph, cloud.clock.shared()).expect("graph client")
}

fn meeting(external_id: &str) -> CreateOrGet {
    CreateOrGet {
        external_id: external_id.to_owned(),
        subject: Some("MetaOffice conversation".to_owned()),
        attendees: vec!["bob".to_owned()],
    }
}

fn statuses(calls: &[RecordedCall]) -> Vec<u16> {
    calls.iter().map(|c| c.status).collect()
}

#[tokio::test]
async fn create_or_get_reuses_the_meeting_of_the_same_tenant_organizer_and_external_id() {
    let cloud = Cloud::start().await;
    let graph = client(&cloud, &cloud.graph_config());
    let get = |tenant: &'static str, organizer: &'static str, ext: &'static str| {
        let graph = &graph;
        cloud.drive(async move { graph.create_or_get(tenant, organizer, &meeting(ext)).await })
    };
    let first = get("t1", "alice", "x1").await.expect("created");
    assert!(first.created);
    assert_eq!(first.external_id.as_deref(), Some("x1"));
    let again = get("t1", "alice", "x1").await.expect("found");
    assert!(!again.created);
    assert_eq!(
        (&again.id, &again.join_web_url),
        (&first.id, &first.join_web_url)
    );
    let mut ids = vec![first.id.clone()];
    for (tenant, organizer, ext) in [
        ("t1", "alice", "x2"),
        ("t1", "bob", "x1"),
        ("t2", "alice", "x1"),
    ] {
        let other = get(tenant, organizer, ext).await.expect("created");
        assert!(other.created, "{tenant}/{organizer}/{ext} is a new meeting");
        assert!(!ids.contains(&other.id));
        ids.push(other.id);
    }
    assert_eq!(cloud.fake.meetings().len(), 4);
    assert_eq!(
        statuses(&cloud.fake.calls_to(Endpoint::CreateOrGet)),
        [201, 200, 201, 201, 201]
    );
    // One app token per tenant, cached between calls.
    let tokens = cloud.fake.calls_to(Endpoint::Token);
    let tenants: Vec<_> = tokens.iter().filter_map(|c| c.tenant.as_deref()).collect();
    assert_eq!(tenants, ["t1", "t2"]);
    assert_eq!(statuses(&tokens), [200, 200]);
}

#[tokio::test]
async fn the_app_token_is_renewed_shortly_before_it_expires_and_when_refused() {
    let cloud = Cloud::start_with(FakeOptions {
        token_lifetime: Duration::from_secs(600),
        ..FakeOptions::default()
    })
    .await;
    let graph = client(&cloud, &cloud.graph_config());
    let token_calls = || cloud.fake.calls_to(Endpoint::Token).len();
    cloud
        .drive(graph.create_or_get("t1", "alice", &meeting("a")))
        .await
        .expect("a");
    assert_eq!(token_calls(), 1);
    // Renewed 300 s before expiry: still cached at 299 s.
    cloud.clock.advance(Duration::from_secs(299));
    cloud
        .drive(graph.create_or_get("t1", "alice", &meeting("b")))
        .await
        .expect("b");
    assert_eq!(token_calls(), 1);
    cloud.clock.advance(Duration::from_secs(2));
    cloud
        .drive(graph.create_or_get("t1", "alice", &meeting("c")))
        .await
        .expect("c");
    assert_eq!(token_calls(), 2);
    // Graph refuses a token it no longer knows: a fresh one is fetched once.
    cloud.fake.revoke_tokens();
    cloud
        .drive(graph.create_or_get("t1", "alice", &meeting("d")))
        .await
        .expect("d");
    assert_eq!(token_calls(), 3);
    assert_eq!(
        statuses(&cloud.fake.calls_to(Endpoint::CreateOrGet)),
        [201, 201, 201, 401, 201]
    );
}

#[tokio::test]
async fn a_429_pauses_its_tenant_for_retry_after_and_no_other() {
    let cloud = Cloud::start().await;
    let graph = std::sync::Arc::new(client(&cloud, &cloud.graph_config()));
    // Tokens first, so that only createOrGet calls follow.
    for tenant in ["t1", "t2"] {
        cloud
            .drive(graph.tokens().app_token(tenant))
            .await
            .expect("token");
    }
    cloud.fake.fault(
        Endpoint::CreateOrGet,
        Fault::Throttle {
            retry_after_secs: 7,
        },
        Times::Next(1),
    );
    let throttled = tokio::spawn({
        let graph = graph.clone();
        async move { graph.create_or_get("t1", "alice", &meeting("x1")).await }
    });
    // Nobody moves the clock: wait (real time) for the 429 to be answered.
    let t0 = tokio::time::timeout(cloud::PATIENCE, async {
        loop {
            if let Some(c) = cloud.fake.calls_to(Endpoint::CreateOrGet).first()
                && c.status == 429
            {
                return c.at;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the 429 came");
    // Another tenant is not paused: this completes without the clock moving.
    let other = tokio::time::timeout(
        cloud::PATIENCE,
        graph.create_or_get("t2", "bob", &meeting("x2")),
    )
    .await
    .expect("t2 was not held up by t1's Retry-After")
    .expect("t2's meeting");
    assert!(other.created);
    assert_eq!(cloud.now(), t0);
    // Another call of the paused tenant waits for the pause too: it ends up
    // sleeping on the clock instead of reaching the fake.
    let same_tenant = tokio::spawn({
        let graph = graph.clone();
        async move { graph.create_or_get("t1", "carol", &meeting("x3")).await }
    });
    let carol_calls = || {
        cloud
            .fake
            .calls_to(Endpoint::CreateOrGet)
            .into_iter()
            .filter(|c| c.path.contains("/carol/"))
            .count()
    };
    tokio::time::timeout(cloud::PATIENCE, async {
        while cloud.clock.sleepers() < 2 && carol_calls() == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("carol's call either waits or is sent");
    assert_eq!(carol_calls(), 0, "a call of the paused tenant was sent");
    let result = cloud
        .drive(throttled)
        .await
        .expect("task")
        .expect("t1's meeting after the pause");
    assert!(result.created);
    cloud
        .drive(same_tenant)
        .await
        .expect("task")
        .expect("carol's meeting");
    let t1_calls: Vec<RecordedCall> = cloud
        .fake
        .calls_to(Endpoint::CreateOrGet)
        .into_iter()
        .filter(|c| c.tenant.as_deref() == Some("t1"))
        .collect();
    assert_eq!(statuses(&t1_calls), [429, 201, 201]);
    assert!(t1_calls[2].at >= t0 + Duration::from_secs(7));
    assert!(
        t1_calls[1].at >= t0 + Duration::from_secs(7),
        "retried at {:?}, before Retry-After ended at {:?}",
        t1_calls[1].at,
        t0 + Duration::from_secs(7)
    );
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
async fn token_endpoint_refusals_and_the_on_behalf_of_exchange() {
    let cloud = Cloud::start().await;
    let mut wrong = cloud.graph_config();
    wrong.client_secret = Some(Secret::new("not-the-secret"));
    let graph = client(&cloud, &wrong);
    let r = cloud
        .drive(graph.create_or_get("t1", "alice", &meeting("x")))
        .await;
    match r {
        Err(GraphError::Rejected {
            endpoint: "token",
            status: 401,
            code,
            message,
        }) => {
            assert_eq!(code, "invalid_client");
            assert!(message.contains("AADSTS7000215"), "{message}");
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }
    // A refusal is final: one call, not retried.
    assert_eq!(cloud.fake.calls_to(Endpoint::Token).len(), 1);

    let graph = client(&cloud, &cloud.graph_config());
    let user = Secret::new(cloud.fake.user_token("t1", "alice", DEFAULT_CLIENT_ID));
    let obo = cloud
        .drive(
            graph
                .tokens()
                .on_behalf_of("t1", &user, "https://graph.microsoft.com/.default"),
        )
        .await
        .expect("on-behalf-of token");
    // The delegated token works on /me, as the fake's Graph checks.
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/me/onlineMeetings/createOrGet",
            cloud.fake.graph_url()
        ))
        .bearer_auth(obo.secret.expose())
        .json(&serde_json::json!({"externalId": "mine", "subject": "1:1"}))
        .send()
        .await
        .expect("send");
    assert_eq!(answer.status(), 201);
    let body: serde_json::Value = answer.json().await.expect("json");
    assert_eq!(
        body["participants"]["organizer"]["identity"]["user"]["id"],
        "alice"
    );
    let bad = cloud
        .drive(graph.tokens().on_behalf_of(
            "t1",
            &Secret::new("not-a-token"),
            "https://graph.microsoft.com/.default",
        ))
        .await;
    assert!(
        matches!(&bad, Err(GraphError::Rejected { status: 400, code, .. }) if code == "invalid_grant"),
        "{bad:?}"
    );
}
