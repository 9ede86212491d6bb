//! The Graph client against the fake Microsoft on 127.0.0.1: createOrGet
//! reuse, token caching, 429 with Retry-After, token endpoint errors and
//! the on-behalf-of exchange. Failures: `graph_failures.rs`.

mod cloud;

use std::time::Duration;

use cloud::Cloud;
use metaoffice_fakes::{DEFAULT_CLIENT_ID, Endpoint, FakeOptions, Fault, RecordedCall, Times};
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
