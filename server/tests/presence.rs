//! Teams presence against the fake Microsoft on a manual clock: reads within
//! the presence budget (5,000 users, freshness figures), batches of at most
//! 650 ids, unknown ids, 429 and outages; Busy / InACall written while in a
//! meeting, renewed and cleared; knocks merged, limited and sent within the
//! notification budgets.

mod cloud;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cloud::{Cloud, PATIENCE, max_in_window};
use metaoffice_fakes::{DEFAULT_CLIENT_ID, Endpoint, Fault, MAX_PRESENCE_IDS, RecordedCall, Times};
use metaoffice_server::Config;
use metaoffice_server::clock::ManualClock;
use metaoffice_server::graph::GraphClient;
use metaoffice_server::meetings::UserRef;
use metaoffice_server::presence::{
    Activity, Availability, FeedStatus, KnockError, Presence, PresenceConfig, PresenceHub,
    PresenceUpdate,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const OFFICE: &str = "hq";

fn user(tenant: &str, oid: &str) -> UserRef {
    UserRef {
        tenant: tenant.to_owned(),
        oid: oid.to_owned(),
    }
}

/// A hub on the fake Microsoft, stopped when dropped.
struct Rig {
    cloud: Cloud,
    hub: PresenceHub,
    shutdown: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn rig(change: impl FnOnce(&mut Config)) -> Rig {
    let cloud = Cloud::start().await;
    let mut config = cloud.config();
    change(&mut config);
    config.validate().expect("valid configuration");
    let graph = GraphClient::new(&config.graph, cloud.clock.shared()).expect("graph client");
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let hub = PresenceHub::start(
        &config,
        Some(Arc::new(graph)),
        cloud.clock.shared(),
        shutdown.clone(),
        &tasks,
    );
    Rig {
        cloud,
        hub,
        shutdown,
    }
}

impl Rig {
    /// Drives the clock until it reads `secs` since the start.
    async fn run_until(&self, secs: u64) {
        let clock = self.cloud.clock.clone();
        self.cloud
            .drive(async move {
                while clock.elapsed() < Duration::from_secs(secs) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
    }

    /// Drives the clock until `done` holds.
    async fn run_until_true(&self, done: impl Fn() -> bool) {
        self.cloud
            .drive(async {
                while !done() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
    }

    fn presence_calls(&self) -> Vec<RecordedCall> {
        self.cloud.fake.calls_to(Endpoint::GetPresences)
    }
}

fn ids_of(call: &RecordedCall) -> Vec<String> {
    call.body.as_ref().expect("a recorded body")["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("an id").to_owned())
        .collect()
}

/// The most ids read in any `window` ending at a call (its start excluded).
fn max_ids_in_window(calls: &[RecordedCall], window: Duration) -> usize {
    let counted: Vec<(Duration, usize)> = calls.iter().map(|c| (c.at, ids_of(c).len())).collect();
    counted
        .iter()
        .map(|&(end, _)| {
            counted
                .iter()
                .filter(|&&(at, _)| at <= end && at + window > end)
                .map(|&(_, n)| n)
                .sum()
        })
        .max()
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn available() -> Presence {
    Presence {
        availability: Availability::Available,
        activity: Activity::Available,
    }
}

/// Takes what is in `rx` now, the latest per user.
fn drain(rx: &mut mpsc::Receiver<PresenceUpdate>) -> HashMap<UserRef, Presence> {
    let mut latest = HashMap::new();
    while let Ok(update) = rx.try_recv() {
        latest.insert(update.user, update.presence);
    }
    latest
}

#[tokio::test]
async fn presence_of_5000_users_stays_within_the_budget_seen_ones_first() {
    let rig = rig(|_| {}).await;
    let fake = &rig.cloud.fake;
    let mut users = Vec::new();
    for i in 0..5000 {
        // Two tenants: batches are per tenant, the budget across both.
        let tenant = if i % 5 < 3 { "t1" } else { "t2" };
        let oid = format!("user-{i:04}");
        if i % 3 == 0 {
            fake.set_presence(&oid, "Busy", "InAMeeting");
        } else {
            fake.set_presence(&oid, "Available", "Available");
        }
        users.push(user(tenant, &oid));
    }
    // The office's queue is not read until the end: updates wait, coalesced.
    let mut rx = rig.hub.subscribe(OFFICE);
    for u in &users {
        rig.hub.online(OFFICE, u);
    }
    let seen: Vec<UserRef> = users.iter().step_by(10).cloned().collect();
    rig.hub.set_seen(OFFICE, seen.clone());
    assert_eq!(rig.hub.online_in(OFFICE), 5000);

    let minutes = 10;
    let end = minutes * 60;
    rig.run_until(end).await;

    let calls = rig.presence_calls();
    assert!(calls.iter().all(|c| c.status == 200), "every read answered");
    let window = Duration::from_secs(30);
    let worst = max_ids_in_window(&calls, window);
    assert!(worst <= 1500, "{worst} ids read within 30 s");
    assert!(
        calls.iter().all(|c| ids_of(c).len() <= MAX_PRESENCE_IDS),
        "a request had more than 650 ids"
    );

    // When each user was read, from the fake's record.
    let mut reads: HashMap<String, Vec<Duration>> = HashMap::new();
    for c in &calls {
        for id in ids_of(c) {
            reads.entry(id).or_default().push(c.at);
        }
    }
    let everyone_read_by = users
        .iter()
        .map(|u| reads.get(&u.oid).and_then(|r| r.first().copied()))
        .max()
        .flatten()
        .expect("everyone was read");
    // Age of the presence shown, sampled every 5 s after the first two
    // minutes: seen users and the others apart.
    let seen_oids: std::collections::HashSet<&str> = seen.iter().map(|u| u.oid.as_str()).collect();
    let (mut seen_ages, mut unseen_ages) = (Vec::new(), Vec::new());
    for t in (240..=end).step_by(5) {
        let t = Duration::from_secs(t);
        for u in &users {
            let last = reads[&u.oid].iter().rev().find(|&&at| at <= t).copied();
            let age = t - last.expect("read before the sample");
            if seen_oids.contains(u.oid.as_str()) {
                seen_ages.push(age);
            } else {
                unseen_ages.push(age);
            }
        }
    }
    seen_ages.sort();
    unseen_ages.sort();
    let figures = |ages: &[Duration]| {
        format!(
            "p50 {:>5.1} s, p99 {:>5.1} s, max {:>5.1} s",
            percentile(ages, 0.5).as_secs_f64(),
            percentile(ages, 0.99).as_secs_f64(),
            ages.last().copied().unwrap_or_default().as_secs_f64()
        )
    };
    if std::env::var_os("PRESENCE_DEBUG").is_some() {
        let mut firsts = std::collections::HashSet::new();
        for c in &calls {
            let ids = ids_of(c);
            let new = ids.iter().filter(|id| firsts.insert((*id).clone())).count();
            let seen_n = ids
                .iter()
                .filter(|id| seen_oids.contains(id.as_str()))
                .count();
            println!(
                "{:?} {:?} ids {} new {new} seen {seen_n}",
                c.at,
                c.tenant,
                ids.len()
            );
        }
    }
    let ids_total: usize = calls.iter().map(|c| ids_of(c).len()).sum();
    println!(
        "presence freshness, 5000 users online (500 seen), {minutes} min on the manual clock:\n  \
         requests {}, ids read {ids_total}, most ids in any 30 s window {worst}\n  \
         everyone read once by {:.0} s\n  seen:   {}\n  unseen: {}",
        calls.len(),
        everyone_read_by.as_secs_f64(),
        figures(&seen_ages),
        figures(&unseen_ages),
    );
    // Seen users are refreshed first: every ~30 s, the others less often.
    let seen_max = *seen_ages.last().expect("ages");
    assert!(
        seen_max <= Duration::from_secs(40),
        "seen presence was {seen_max:?} old"
    );
    assert!(percentile(&seen_ages, 0.99) < percentile(&unseen_ages, 0.5));
    // Nobody's presence became too stale to show.
    assert!(*unseen_ages.last().expect("ages") < Duration::from_secs(300));

    // What the office was told, the latest per user, is what Graph says.
    let told = drain_all(&mut rx, &rig).await;
    for (i, u) in users.iter().enumerate() {
        let expected = if i % 3 == 0 {
            Presence {
                availability: Availability::Busy,
                activity: Activity::InAMeeting,
            }
        } else {
            available()
        };
        assert_eq!(rig.hub.shown(u), expected, "{u}");
        assert_eq!(told.get(u), Some(&expected), "{u}");
    }
}

/// Drains the office queue until the hub has delivered everything it held
/// back (the queue holds 1024; the rest waits in the hub).
async fn drain_all(
    rx: &mut mpsc::Receiver<PresenceUpdate>,
    rig: &Rig,
) -> HashMap<UserRef, Presence> {
    let mut told = HashMap::new();
    let started = std::time::Instant::now();
    loop {
        let got = drain(rx);
        if got.is_empty() && !told.is_empty() {
            // One more tick to flush what waited, then look again.
            let now = rig.cloud.clock.elapsed().as_secs();
            rig.run_until(now + 2).await;
            let more = drain(rx);
            if more.is_empty() {
                return told;
            }
            told.extend(more);
            continue;
        }
        told.extend(got);
        let now = rig.cloud.clock.elapsed().as_secs();
        rig.run_until(now + 1).await;
        assert!(started.elapsed() < PATIENCE, "the queue never emptied");
    }
}

#[tokio::test]
async fn batches_hold_at_most_650_ids_and_unknown_ids_show_unknown() {
    let rig = rig(|_| {}).await;
    let fake = &rig.cloud.fake;
    let mut rx = rig.hub.subscribe(OFFICE);
    let users: Vec<UserRef> = (0..1400).map(|i| user("t1", &format!("u{i}"))).collect();
    for (i, u) in users.iter().enumerate() {
        match i % 100 {
            0 => {} // never heard of: left out of the answer
            1 => fake.set_presence(&u.oid, "PresenceUnknown", "PresenceUnknown"),
            _ => fake.set_presence(&u.oid, "Away", "Away"),
        }
        rig.hub.online(OFFICE, u);
    }
    rig.run_until(10).await;
    let calls = rig.presence_calls();
    let sizes: Vec<usize> = calls.iter().map(|c| ids_of(c).len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 1400, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n <= MAX_PRESENCE_IDS), "{sizes:?}");
    assert!(sizes.contains(&MAX_PRESENCE_IDS), "{sizes:?}");
    let told = drain_all(&mut rx, &rig).await;
    let away = Presence {
        availability: Availability::Away,
        activity: Activity::Away,
    };
    for (i, u) in users.iter().enumerate() {
        let expected = if i % 100 < 2 {
            Presence::default()
        } else {
            away
        };
        assert_eq!(rig.hub.shown(u), expected, "{u}");
        // Unknown is what the office assumes already: nothing is sent.
        assert_eq!(
            told.get(u).copied(),
            (expected != Presence::default()).then_some(expected)
        );
    }

    // Someone leaves the tenant: at their next read they show Unknown.
    fake.forget_presence(&users[5].oid);
    rig.run_until(60).await;
    assert_eq!(rig.hub.shown(&users[5]), Presence::default());
    assert_eq!(drain(&mut rx).get(&users[5]), Some(&Presence::default()));
    // Unknown ids are not read again before the staleness rule says so.
    let reads_of = |oid: &str| {
        rig.presence_calls()
            .iter()
            .filter(|c| ids_of(c).iter().any(|id| id == oid))
            .count()
    };
    assert_eq!(reads_of(&users[0].oid), 1);
    assert_eq!(reads_of(&users[1].oid), 1);
    assert!(reads_of(&users[2].oid) >= 2, "known users are refreshed");

    // The fake refuses more than 650 ids, as Graph does.
    let graph = GraphClient::new(&rig.cloud.graph_config(), rig.cloud.clock.shared())
        .expect("graph client");
    let token = rig
        .cloud
        .drive(graph.tokens().app_token("t1"))
        .await
        .expect("token");
    let ids: Vec<String> = (0..651).map(|i| format!("x{i}")).collect();
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/communications/getPresencesByUserId",
            rig.cloud.fake.graph_url()
        ))
        .bearer_auth(token.expose())
        .json(&serde_json::json!({ "ids": ids }))
        .send()
        .await
        .expect("send");
    assert_eq!(answer.status(), 400);
    // And the client does not even try.
    let refused = rig
        .cloud
        .drive(graph.presences_by_user_id("t1", &ids))
        .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn a_429_holds_presence_reads_for_retry_after() {
    let rig = rig(|_| {}).await;
    let fake = &rig.cloud.fake;
    fake.fault(
        Endpoint::GetPresences,
        Fault::Throttle {
            retry_after_secs: 20,
        },
        Times::Next(1),
    );
    let users: Vec<UserRef> = (0..100).map(|i| user("t1", &format!("u{i}"))).collect();
    for u in &users {
        fake.set_presence(&u.oid, "Available", "Available");
        rig.hub.online(OFFICE, u);
    }
    rig.run_until_true(|| rig.hub.shown(&users[0]) == available())
        .await;
    let calls = rig.presence_calls();
    assert_eq!(calls[0].status, 429);
    assert_eq!(calls[1].status, 200);
    assert!(
        calls[1].at >= calls[0].at + Duration::from_secs(20),
        "read again at {:?} after a 429 at {:?} with Retry-After: 20",
        calls[1].at,
        calls[0].at
    );
    assert_eq!(ids_of(&calls[1]).len(), 100);
    assert!(users.iter().all(|u| rig.hub.shown(u) == available()));
}

#[tokio::test]
async fn an_outage_makes_presence_unknown_once_stale_and_it_comes_back() {
    let rig = rig(|_| {}).await;
    let fake = &rig.cloud.fake;
    let mut rx = rig.hub.subscribe(OFFICE);
    let users: Vec<UserRef> = (0..50).map(|i| user("t1", &format!("u{i}"))).collect();
    for u in &users {
        fake.set_presence(&u.oid, "Available", "Available");
        rig.hub.online(OFFICE, u);
    }
    rig.run_until(40).await;
    assert!(users.iter().all(|u| rig.hub.shown(u) == available()));
    fake.set_down(true);
    let down_at = rig.cloud.now();
    let calls_before = fake.calls().len();
    let last_read = rig
        .presence_calls()
        .iter()
        .filter(|c| c.status == 200)
        .map(|c| c.at)
        .max()
        .expect("a read");
    // Still shown until it is 300 s old, Unknown after.
    rig.run_until((last_read + Duration::from_secs(295)).as_secs())
        .await;
    assert!(users.iter().all(|u| rig.hub.shown(u) == available()));
    rig.run_until((last_read + Duration::from_secs(302)).as_secs())
        .await;
    assert!(
        users
            .iter()
            .all(|u| rig.hub.shown(u) == Presence::default())
    );
    let told = drain(&mut rx);
    assert!(
        users
            .iter()
            .all(|u| told.get(u) == Some(&Presence::default()))
    );
    // Nothing hammered the dead service: the breaker (5 failures, 30 s
    // cool-down) lets one probe through per cool-down.
    let outage = rig.cloud.now() - down_at;
    let attempts = fake.calls().len() - calls_before;
    let allowed = 5 + (outage.as_secs() / 30 + 1) as usize * 5;
    assert!(
        attempts <= allowed,
        "{attempts} attempts in a {outage:?} outage (at most {allowed})"
    );
    fake.set_down(false);
    let back = rig.cloud.now();
    rig.run_until_true(|| users.iter().all(|u| rig.hub.shown(u) == available()))
        .await;
    assert!(rig.cloud.now() - back <= Duration::from_secs(90));
    let told = drain(&mut rx);
    assert!(users.iter().all(|u| told.get(u) == Some(&available())));
}

#[tokio::test]
async fn busy_in_a_call_is_written_renewed_and_cleared() {
    let rig = rig(|c| {
        c.presence.expiration_secs = 300;
        c.presence.renew_margin_secs = 60;
    })
    .await;
    let fake = &rig.cloud.fake;
    let alice = user("t1", "alice");
    let dev = user("local", "dev:hq:7");
    fake.set_presence(&alice.oid, "Available", "Available");
    rig.hub.online(OFFICE, &alice);
    rig.hub.online(OFFICE, &dev);
    rig.hub.in_meeting(&alice, true);
    rig.hub.in_meeting(&dev, true);
    rig.run_until_true(|| !fake.presence_sessions().is_empty())
        .await;
    let sets = fake.calls_to(Endpoint::SetPresence);
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].status, 200);
    assert_eq!(sets[0].path, "/v1.0/users/alice/presence/setPresence");
    assert_eq!(
        sets[0].body,
        Some(serde_json::json!({
            "sessionId": DEFAULT_CLIENT_ID,
            "availability": "Busy",
            "activity": "InACall",
            "expirationDuration": "PT5M",
        }))
    );
    let started = sets[0].at;
    // Teams now shows alice Busy / InACall, and so does her avatar.
    rig.run_until(started.as_secs() + 40).await;
    assert_eq!(
        rig.hub.shown(&alice),
        Presence {
            availability: Availability::Busy,
            activity: Activity::InACall,
        }
    );
    // Renewed before it lapses, for as long as she stays.
    rig.run_until(started.as_secs() + 1000).await;
    let sets = fake.calls_to(Endpoint::SetPresence);
    assert!(sets.len() >= 4, "{} writes in 1000 s", sets.len());
    for pair in sets.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_secs(239) && gap < Duration::from_secs(300),
            "renewed after {gap:?}"
        );
    }
    assert_eq!(fake.presence_sessions().len(), 1);
    // She leaves the group: cleared.
    rig.hub.in_meeting(&alice, false);
    rig.run_until_true(|| fake.presence_sessions().is_empty())
        .await;
    let clears = fake.calls_to(Endpoint::ClearPresence);
    assert_eq!(clears.len(), 1);
    assert_eq!(clears[0].status, 200);
    assert_eq!(
        clears[0].body,
        Some(serde_json::json!({ "sessionId": DEFAULT_CLIENT_ID }))
    );
    // In a meeting again, then she disconnects: cleared too.
    rig.hub.in_meeting(&alice, true);
    rig.run_until_true(|| !fake.presence_sessions().is_empty())
        .await;
    rig.hub.offline(OFFICE, &alice);
    rig.run_until_true(|| fake.presence_sessions().is_empty())
        .await;
    assert_eq!(fake.calls_to(Endpoint::ClearPresence).len(), 2);
    // The dev-login user never reached Graph.
    assert!(fake.calls().iter().all(|c| !c.path.contains("dev")));
    assert!(
        rig.presence_calls()
            .iter()
            .all(|c| ids_of(c).iter().all(|id| id == "alice"))
    );
}

#[tokio::test]
async fn knocks_are_merged_limited_and_notified_in_the_documented_shape() {
    let rig = rig(|_| {}).await;
    let fake = &rig.cloud.fake;
    let alice = user("t1", "alice");
    let bob = user("t1", "bob");
    let hub = &rig.hub;
    assert_eq!(
        hub.knock(&alice, "Alice", &alice, Some(OFFICE)),
        Err(KnockError::Myself)
    );
    assert_eq!(
        hub.knock(&alice, "Alice", &bob, Some(OFFICE)),
        Ok(FeedStatus::Queued)
    );
    assert_eq!(
        hub.knock(&alice, "Alice", &bob, Some(OFFICE)),
        Ok(FeedStatus::Merged)
    );
    rig.run_until_true(|| !fake.calls_to(Endpoint::SendActivityNotification).is_empty())
        .await;
    let sent = fake.calls_to(Endpoint::SendActivityNotification);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status, 204);
    assert_eq!(
        sent[0].path,
        "/v1.0/users/bob/teamwork/sendActivityNotification"
    );
    assert_eq!(
        sent[0].body,
        Some(serde_json::json!({
            "topic": {
                "source": "text",
                "value": "MetaOffice: hq",
                "webUrl": "https://teams.microsoft.com",
            },
            "activityType": "systemDefault",
            "previewText": { "content": "Alice is knocking on your door in hq" },
            "templateParameters": [
                { "name": "systemDefaultText", "value": "Alice is knocking on your door in hq" }
            ],
        }))
    );
    // After the merge window, a new notification.
    let now = rig.cloud.now().as_secs();
    rig.run_until(now + 31).await;
    assert_eq!(
        hub.knock(&alice, "Alice", &bob, None),
        Ok(FeedStatus::Queued)
    );
    // Ten knocks a minute at most, merged ones included.
    rig.run_until(now + 33).await;
    let carol = user("t1", "carol");
    let mut results = Vec::new();
    for i in 0..12 {
        results.push(hub.knock(&carol, "Carol", &user("t1", &format!("p{}", i % 6)), None));
    }
    assert_eq!(
        results
            .iter()
            .filter(|r| **r == Ok(FeedStatus::Queued))
            .count(),
        5
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| **r == Ok(FeedStatus::Merged))
            .count(),
        4
    );
    assert_eq!(results[10], Err(KnockError::TooOften));
    assert_eq!(results[11], Err(KnockError::TooOften));
    assert!(!KnockError::TooOften.to_string().is_empty());
    // Dev-login users: no Teams notification, same merging.
    let dev = user("local", "dev:hq:1");
    assert_eq!(
        hub.knock(&dev, "Dev", &bob, None),
        Ok(FeedStatus::NotConfigured)
    );
    assert_eq!(hub.knock(&dev, "Dev", &bob, None), Ok(FeedStatus::Merged));
    assert_eq!(
        hub.knock(&bob, "Bob", &dev, None),
        Ok(FeedStatus::NotConfigured)
    );
}

#[tokio::test]
async fn knock_notifications_stay_within_5_per_second_per_tenant_and_50_overall() {
    let rig = rig(|_| {}).await;
    let fake = &rig.cloud.fake;
    let hub = &rig.hub;
    // 12 tenants, 6 knocks on each at the same instant.
    let mut queued = 0;
    let mut over = 0;
    for t in 0..12 {
        let tenant = format!("t{t}");
        for k in 0..6 {
            let from = user(&tenant, &format!("from{k}"));
            let to = user(&tenant, &format!("to{k}"));
            match hub.knock(&from, "Someone", &to, None) {
                Ok(FeedStatus::Queued) => queued += 1,
                Ok(FeedStatus::OverBudget) => over += 1,
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(queued, 50);
    assert_eq!(over, 22);
    rig.run_until_true(|| fake.calls_to(Endpoint::SendActivityNotification).len() == 50)
        .await;
    // A second later there is room again.
    let now = rig.cloud.now().as_secs();
    rig.run_until(now + 2).await;
    assert_eq!(
        hub.knock(&user("t0", "late"), "Late", &user("t0", "to0"), None),
        Ok(FeedStatus::Queued)
    );
    rig.run_until_true(|| fake.calls_to(Endpoint::SendActivityNotification).len() == 51)
        .await;
    let sent = fake.calls_to(Endpoint::SendActivityNotification);
    assert!(sent.iter().all(|c| c.status == 204));
    let second = Duration::from_secs(1);
    assert!(max_in_window(&sent, second, |c| c.tenant.clone()) <= 5);
    assert!(max_in_window(&sent, second, |_| ()) <= 50);
}

#[tokio::test]
async fn without_graph_knocks_are_still_merged_and_limited() {
    let clock = ManualClock::new();
    let config = PresenceConfig {
        knocks_per_minute: 3,
        ..PresenceConfig::default()
    };
    let hub = PresenceHub::local_with(&config, &Default::default(), clock.shared());
    let (a, b, c) = (user("t1", "a"), user("t1", "b"), user("t1", "c"));
    assert_eq!(hub.knock(&a, "A", &b, None), Ok(FeedStatus::NotConfigured));
    assert_eq!(hub.knock(&a, "A", &b, None), Ok(FeedStatus::Merged));
    assert_eq!(hub.knock(&a, "A", &c, None), Ok(FeedStatus::NotConfigured));
    assert_eq!(hub.knock(&a, "A", &c, None), Err(KnockError::TooOften));
    clock.advance(Duration::from_secs(31));
    assert_eq!(hub.knock(&b, "B", &a, None), Ok(FeedStatus::NotConfigured));
    assert_eq!(hub.knock(&a, "A", &b, None), Err(KnockError::TooOften));
    clock.advance(Duration::from_secs(30));
    assert_eq!(hub.knock(&a, "A", &b, None), Ok(FeedStatus::NotConfigured));
    // Presence: nobody is read, everyone shows Unknown.
    let mut rx = hub.subscribe(OFFICE);
    hub.online(OFFICE, &a);
    hub.in_meeting(&a, true);
    assert_eq!(hub.shown(&a), Presence::default());
    assert!(rx.try_recv().is_err());
    assert_eq!(hub.online_in(OFFICE), 1);
    hub.offline(OFFICE, &a);
    assert_eq!(hub.online_in(OFFICE), 0);
}

#[tokio::test]
async fn the_fake_refuses_presence_writes_graph_refuses() {
    let cloud = Cloud::start().await;
    let graph = GraphClient::new(&cloud.graph_config(), cloud.clock.shared()).expect("graph");
    let token = cloud
        .drive(graph.tokens().app_token("t1"))
        .await
        .expect("token");
    let post = |path: &str, body: serde_json::Value| {
        reqwest::Client::new()
            .post(format!(
                "{}/users/alice/presence/{path}",
                cloud.fake.graph_url()
            ))
            .bearer_auth(token.expose())
            .json(&body)
            .send()
    };
    let status = |r: reqwest::Result<reqwest::Response>| r.expect("send").status().as_u16();
    let set = |session: &str, availability: &str, activity: &str, duration: &str| {
        serde_json::json!({
            "sessionId": session,
            "availability": availability,
            "activity": activity,
            "expirationDuration": duration,
        })
    };
    let app = DEFAULT_CLIENT_ID;
    assert_eq!(
        status(post("setPresence", set(app, "Busy", "InACall", "PT4M")).await),
        400
    );
    assert_eq!(
        status(post("setPresence", set(app, "Busy", "InACall", "PT4H1M")).await),
        400
    );
    assert_eq!(
        status(post("setPresence", set("other-app", "Busy", "InACall", "PT5M")).await),
        400
    );
    assert_eq!(
        status(post("setPresence", set(app, "Busy", "Away", "PT5M")).await),
        400
    );
    assert!(cloud.fake.presence_sessions().is_empty());
    // Nothing to clear: 404, which the client takes as "already gone".
    let cleared = cloud
        .drive(graph.clear_presence("t1", "alice"))
        .await
        .expect("a 404 is not an error");
    assert!(!cleared);
    cloud
        .drive(graph.set_presence(
            "t1",
            "alice",
            "Busy",
            "InACall",
            Duration::from_secs(4 * 3600),
        ))
        .await
        .expect("PT4H is accepted");
    let sessions = cloud.fake.presence_sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].expiration, Duration::from_secs(4 * 3600));
    assert!(
        cloud
            .drive(graph.clear_presence("t1", "alice"))
            .await
            .expect("cleared")
    );
    // A notification without its required parts is refused.
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/users/bob/teamwork/sendActivityNotification",
            cloud.fake.graph_url()
        ))
        .bearer_auth(token.expose())
        .json(&serde_json::json!({"topic": {"source": "text", "value": "x"}, "activityType": "systemDefault", "previewText": {"content": "hi"}}))
        .send()
        .await
        .expect("send");
    assert_eq!(answer.status(), 400, "a text topic needs a webUrl");
}

#[tokio::test]
async fn the_hub_uses_graph_only_when_configured_and_enabled() {
    let cloud = Cloud::start().await;
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let (a, b) = (user("t1", "a"), user("t1", "b"));
    let knock = |config: &Config| {
        let hub = PresenceHub::from_config(config, cloud.clock.shared(), shutdown.clone(), &tasks);
        hub.knock(&a, "A", &b, None)
    };
    assert_eq!(knock(&cloud.config()), Ok(FeedStatus::Queued));
    assert_eq!(knock(&Config::default()), Ok(FeedStatus::NotConfigured));
    let mut off = cloud.config();
    off.presence.enabled = false;
    assert_eq!(knock(&off), Ok(FeedStatus::NotConfigured));
    shutdown.cancel();
    tasks.close();
    tokio::time::timeout(PATIENCE, tasks.wait())
        .await
        .expect("the hub's tasks end at shutdown");
}

#[tokio::test]
async fn a_refused_read_is_not_asked_again_before_presence_would_be_stale() {
    let rig = rig(|_| {}).await;
    let fake = &rig.cloud.fake;
    fake.fault(Endpoint::GetPresences, Fault::Status(403), Times::Next(1));
    let users: Vec<UserRef> = (0..10).map(|i| user("t1", &format!("u{i}"))).collect();
    for u in &users {
        fake.set_presence(&u.oid, "Available", "Available");
        rig.hub.online(OFFICE, u);
    }
    rig.run_until_true(|| rig.hub.shown(&users[0]) == available())
        .await;
    let calls = rig.presence_calls();
    assert_eq!(calls[0].status, 403);
    assert_eq!(calls[1].status, 200);
    assert!(calls[1].at >= calls[0].at + Duration::from_secs(300));
}
