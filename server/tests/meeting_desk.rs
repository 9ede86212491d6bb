//! The meeting desk with the Graph provider against the fake Microsoft:
//! coalescing, cancelling, failures as outcomes, the monthly budget, the
//! bounded queue; and the local provider.

mod cloud;

use std::collections::HashSet;
use std::time::Duration;

use cloud::{Cloud, desk, group, outcomes};
use metaoffice_fakes::{Endpoint, Fault, MalformedBody, Times};
use metaoffice_server::Config;
use metaoffice_server::meetings::{
    MeetingFailure, MeetingKey, MeetingKind, MeetingRequest, Member, ProviderChoice, ProviderKind,
    Providers, QueueFull, UserRef,
};
use tokio::sync::mpsc::error::TryRecvError;

fn graph_config(cloud: &Cloud) -> Config {
    let mut config = cloud.config();
    config.meetings.provider = ProviderChoice::Graph;
    config
}

fn providers(cloud: &Cloud, config: &Config) -> Providers {
    config.validate().expect("valid configuration");
    Providers::from_config(config, cloud.clock.shared()).expect("providers")
}

fn key(n: u64) -> MeetingKey {
    MeetingKey::group("demo", n)
}

/// Makes the next createOrGet answer 429 for `secs` and waits (real time)
/// until it has: the desk then holds that call until the clock moves.
async fn stall_next_call(cloud: &Cloud, secs: u64) {
    cloud.fake.fault(
        Endpoint::CreateOrGet,
        Fault::Throttle {
            retry_after_secs: secs,
        },
        Times::Next(1),
    );
}

async fn wait_for_429(cloud: &Cloud) {
    tokio::time::timeout(cloud::PATIENCE, async {
        while !cloud
            .fake
            .calls_to(Endpoint::CreateOrGet)
            .iter()
            .any(|c| c.status == 429)
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the first call was throttled");
}

const AB: [(&str, &str); 2] = [("t1", "alice"), ("t1", "bob")];

#[tokio::test]
async fn requests_for_the_same_meeting_share_one_call_and_later_ones_none() {
    let cloud = Cloud::start().await;
    let config = graph_config(&cloud);
    let (desk, mut rx, _stop) = desk(&config, providers(&cloud, &config));
    stall_next_call(&cloud, 5).await;
    desk.request(group(key(1), "t1", &AB)).expect("queued");
    wait_for_429(&cloud).await;
    // While that call waits: the same key again, other keys for the same
    // people (in another order), and another pair.
    desk.request(group(key(1), "t1", &AB)).expect("replaced");
    desk.request(group(key(2), "t1", &[("t1", "bob"), ("t1", "alice")]))
        .expect("queued");
    desk.request(group(key(3), "t1", &AB)).expect("queued");
    desk.request(group(key(4), "t1", &[("t1", "carol"), ("t1", "dave")]))
        .expect("queued");
    let got = outcomes(&cloud.clock, &mut rx, 4).await;
    let keys: HashSet<_> = got.iter().map(|o| o.key.clone()).collect();
    assert_eq!(keys, HashSet::from([key(1), key(2), key(3), key(4)]));
    let id_of = |k: MeetingKey| {
        let o = got.iter().find(|o| o.key == k).expect("outcome");
        o.result.as_ref().expect("meeting").meeting_id.clone()
    };
    assert_eq!(id_of(key(1)), id_of(key(2)));
    assert_eq!(id_of(key(1)), id_of(key(3)));
    assert_ne!(id_of(key(1)), id_of(key(4)));
    let calls = cloud.fake.calls_to(Endpoint::CreateOrGet);
    assert_eq!(
        calls.len(),
        3,
        "one throttled call, then one per meeting: {calls:?}"
    );
    assert_eq!(cloud.fake.meetings().len(), 2);
    // The same people again later: answered from memory, no call.
    desk.request(group(key(5), "t1", &AB)).expect("queued");
    let again = outcomes(&cloud.clock, &mut rx, 1).await;
    assert_eq!(again[0].key, key(5));
    assert_eq!(
        again[0].result.as_ref().expect("meeting").meeting_id,
        id_of(key(1))
    );
    assert_eq!(cloud.fake.calls_to(Endpoint::CreateOrGet).len(), 3);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
}

#[tokio::test]
async fn a_cancelled_request_is_never_sent_and_a_cancelled_outcome_never_delivered() {
    let cloud = Cloud::start().await;
    let mut config = graph_config(&cloud);
    config.meetings.max_in_flight = 1;
    let (desk, mut rx, _stop) = desk(&config, providers(&cloud, &config));
    stall_next_call(&cloud, 5).await;
    desk.request(group(key(1), "t1", &AB)).expect("queued");
    wait_for_429(&cloud).await;
    assert_eq!(desk.stats().running, 1);
    desk.request(group(key(2), "t1", &[("t1", "carol"), ("t1", "dave")]))
        .expect("queued");
    assert_eq!(desk.stats().queued, 1);
    assert!(desk.cancel(&key(2)));
    assert_eq!(desk.stats().queued, 0);
    // The running one is withdrawn too: it finishes, unseen.
    assert!(desk.cancel(&key(1)));
    assert!(!desk.cancel(&key(99)));
    desk.request(group(key(3), "t1", &[("t1", "erin"), ("t1", "frank")]))
        .expect("queued");
    // Key 3 starts only after key 1's call finished (one at a time), so
    // key 1's outcome would have come first.
    let got = outcomes(&cloud.clock, &mut rx, 1).await;
    assert_eq!(got[0].key, key(3));
    assert!(got[0].result.is_ok());
    let paths: Vec<String> = cloud
        .fake
        .calls_to(Endpoint::CreateOrGet)
        .into_iter()
        .map(|c| c.path)
        .collect();
    assert!(
        paths.iter().all(|p| !p.contains("/carol/")),
        "cancelled request sent: {paths:?}"
    );
    assert!(paths.iter().any(|p| p.contains("/alice/")));
    assert!(paths.iter().any(|p| p.contains("/erin/")));
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
}

#[tokio::test]
async fn malformed_answers_and_outages_become_unavailable_outcomes() {
    let cloud = Cloud::start().await;
    let mut config = graph_config(&cloud);
    config.graph.retry.max_attempts = 2;
    let (desk, mut rx, _stop) = desk(&config, providers(&cloud, &config));
    cloud.fake.fault(
        Endpoint::CreateOrGet,
        Fault::Malformed(MalformedBody::WrongShape),
        Times::Next(1),
    );
    desk.request(group(key(1), "t1", &AB)).expect("queued");
    let got = outcomes(&cloud.clock, &mut rx, 1).await;
    match &got[0].result {
        Err(MeetingFailure::Unavailable(reason)) => {
            assert!(reason.contains("unexpected answer"), "{reason}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    cloud.fake.fault(
        Endpoint::CreateOrGet,
        Fault::Status(503),
        Times::UntilCleared,
    );
    desk.request(group(key(2), "t1", &[("t1", "carol"), ("t1", "dave")]))
        .expect("queued");
    let got = outcomes(&cloud.clock, &mut rx, 1).await;
    assert!(
        matches!(&got[0].result, Err(MeetingFailure::Unavailable(r)) if r.contains("gave up")),
        "{got:?}"
    );
    // Nothing was remembered from the failures: the same people succeed later.
    cloud.fake.clear_faults();
    desk.request(group(key(3), "t1", &AB)).expect("queued");
    let got = outcomes(&cloud.clock, &mut rx, 1).await;
    assert_eq!(
        got[0].result.as_ref().expect("meeting").provider,
        ProviderKind::Graph
    );
}

#[tokio::test]
async fn an_organizer_gets_the_monthly_budget_of_meetings_and_no_more() {
    let cloud = Cloud::start().await;
    let mut config = graph_config(&cloud);
    config.graph.budgets.meetings_per_user_per_month = 2;
    let (desk, mut rx, _stop) = desk(&config, providers(&cloud, &config));
    let pair = |other: &'static str| [("t1", "alice"), ("t1", other)];
    for (n, other) in [(1, "bob"), (2, "carol"), (3, "dave")] {
        desk.request(group(key(n), "t1", &pair(other)))
            .expect("queued");
        outcomes(&cloud.clock, &mut rx, 1).await;
    }
    desk.request(group(key(4), "t1", &pair("bob")))
        .expect("queued");
    let reused = outcomes(&cloud.clock, &mut rx, 1).await;
    assert!(
        reused[0].result.is_ok(),
        "a meeting already made is reused: {reused:?}"
    );
    assert_eq!(cloud.fake.calls_to(Endpoint::CreateOrGet).len(), 2);
    desk.request(group(key(5), "t1", &pair("erin")))
        .expect("queued");
    let refused = outcomes(&cloud.clock, &mut rx, 1).await;
    let alice = UserRef {
        tenant: "t1".into(),
        oid: "alice".into(),
    };
    assert_eq!(
        refused[0].result,
        Err(MeetingFailure::OverBudget {
            organizer: alice,
            limit: 2
        })
    );
    assert_eq!(cloud.fake.calls_to(Endpoint::CreateOrGet).len(), 2);
    // A new month, a new budget.
    cloud.clock.advance(Duration::from_secs(32 * 86_400));
    desk.request(group(key(6), "t1", &pair("erin")))
        .expect("queued");
    let next_month = outcomes(&cloud.clock, &mut rx, 1).await;
    assert!(next_month[0].result.is_ok(), "{next_month:?}");
}

#[tokio::test]
async fn the_desk_is_bounded_and_says_so() {
    let cloud = Cloud::start().await;
    let mut config = graph_config(&cloud);
    config.meetings.queue = 2;
    config.meetings.max_in_flight = 1;
    let (desk, mut rx, _stop) = desk(&config, providers(&cloud, &config));
    stall_next_call(&cloud, 5).await;
    desk.request(group(key(1), "t1", &AB)).expect("queued");
    desk.request(group(key(2), "t1", &[("t1", "carol"), ("t1", "dave")]))
        .expect("queued");
    assert_eq!(
        desk.request(group(key(3), "t1", &[("t1", "erin"), ("t1", "frank")])),
        Err(QueueFull { capacity: 2 })
    );
    // Replacing a pending request takes no new place.
    desk.request(group(key(2), "t1", &[("t1", "carol"), ("t1", "dave")]))
        .expect("replaced");
    assert_eq!(outcomes(&cloud.clock, &mut rx, 2).await.len(), 2);
    desk.request(group(key(3), "t1", &[("t1", "erin"), ("t1", "frank")]))
        .expect("room again");
}

#[tokio::test]
async fn rooms_are_organized_by_the_configured_organizer() {
    let cloud = Cloud::start().await;
    let config = graph_config(&cloud);
    let (desk, mut rx, _stop) = desk(&config, providers(&cloud, &config));
    let room = |n: u64| MeetingRequest {
        key: MeetingKey::room("demo", &format!("kitchen-{n}")),
        office: "demo".into(),
        tenant: "t1".into(),
        kind: MeetingKind::Room {
            room: "kitchen".into(),
            members: vec![Member::new("t1", "alice")],
        },
        subject: None,
    };
    desk.request(room(1)).expect("queued");
    let got = outcomes(&cloud.clock, &mut rx, 1).await;
    let info = got[0].result.as_ref().expect("meeting");
    assert_eq!(
        info.organizer.as_ref().map(|o| o.oid.as_str()),
        Some("room-organizer-oid")
    );
    assert!(info.external_id.starts_with("mo-room-"));
    let meetings = cloud.fake.meetings();
    assert_eq!(meetings.len(), 1);
    assert_eq!(meetings[0].organizer, "room-organizer-oid");
    assert_eq!(meetings[0].external_id, info.external_id);
    assert_eq!(meetings[0].resource["subject"], "MetaOffice: kitchen");
}

#[tokio::test]
async fn without_azure_settings_meetings_are_local_and_say_so() {
    let cloud = Cloud::start().await;
    let config = Config::default();
    let (desk, mut rx, _stop) = desk(&config, providers(&cloud, &config));
    desk.request(group(key(1), "t1", &AB)).expect("queued");
    desk.request(MeetingRequest {
        key: MeetingKey::room("demo", "lounge"),
        office: "demo".into(),
        tenant: String::new(),
        kind: MeetingKind::Room {
            room: "lounge".into(),
            members: Vec::new(),
        },
        subject: None,
    })
    .expect("queued");
    for outcome in outcomes(&cloud.clock, &mut rx, 2).await {
        let info = outcome.result.expect("local meeting");
        assert_eq!(info.provider, ProviderKind::Local);
        assert_eq!(info.provider.as_str(), "local");
        let url = info.join_url.expect("url");
        assert!(url.starts_with("local://metaoffice/demo/mo-"), "{url}");
    }
    assert!(cloud.fake.calls().is_empty());
    desk.request(group(key(2), "t1", &[])).expect("queued");
    let empty = outcomes(&cloud.clock, &mut rx, 1).await;
    assert!(matches!(empty[0].result, Err(MeetingFailure::Invalid(_))));
}
