//! The ACS provider gets each member's ACS token in two steps against the
//! fake: an on-behalf-of exchange of the member's Teams sign-in token for
//! ACS's Teams user scopes (cached per user in memory), then ACS's Teams
//! user token exchange of that token. The fake's ACS takes only tokens its
//! token endpoint issued for those scopes.

mod cloud;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloud::{Cloud, desk, outcomes};
use metaoffice_fakes::{DEFAULT_CLIENT_ID, Endpoint, Fault, RecordedCall, Times};
use metaoffice_server::Config;
use metaoffice_server::graph::{ACS_TEAMS_SCOPES, GraphClient, OboTokens, Secret};
use metaoffice_server::meetings::{
    MeetingFailure, MeetingKey, MeetingKind, MeetingOutcome, MeetingRequest, Member,
    ProviderChoice, Providers,
};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ACS_SCOPES: &str =
    "https://auth.msft.net/Teams.ManageCalls https://auth.msft.net/Teams.ManageChats";

fn acs_config(cloud: &Cloud) -> Config {
    let mut config = cloud.config();
    config.meetings.provider = ProviderChoice::Acs;
    config.graph.retry.max_attempts = 2;
    config.validate().expect("valid");
    config
}

/// A member of t1 signed in to the app (their SSO token, as the Teams
/// client hands it over).
fn signed_in(cloud: &Cloud, oid: &str) -> (Member, String) {
    let sso = cloud.fake.user_token("t1", oid, DEFAULT_CLIENT_ID);
    let mut m = Member::new("t1", oid);
    m.teams_token = Some(Secret::new(sso.clone()));
    (m, sso)
}

fn request(n: u64, members: Vec<Member>) -> MeetingRequest {
    MeetingRequest {
        key: MeetingKey::group("demo", n),
        office: "demo".into(),
        tenant: "t1".into(),
        kind: MeetingKind::Group { members },
        subject: None,
    }
}

fn field<'c>(call: &'c RecordedCall, name: &str) -> &'c str {
    call.body
        .as_ref()
        .and_then(|b| b[name].as_str())
        .unwrap_or_default()
}

fn obo_calls(cloud: &Cloud) -> Vec<RecordedCall> {
    cloud
        .fake
        .calls_to(Endpoint::Token)
        .into_iter()
        .filter(|c| field(c, "grant_type") == JWT_BEARER)
        .collect()
}

/// The ACS tokens handed out, by member oid, sorted.
fn acs_tokens(outcome: &MeetingOutcome) -> Vec<(String, String)> {
    let mut tokens: Vec<(String, String)> = outcome
        .result
        .as_ref()
        .expect("a group call")
        .acs
        .as_ref()
        .expect("join data")
        .tokens
        .iter()
        .map(|t| (t.user.oid.clone(), t.token.expose().to_owned()))
        .collect();
    tokens.sort();
    tokens
}

/// The Entra token each exchange sent, by userId, sorted.
fn exchanged(calls: &[RecordedCall]) -> Vec<(String, String)> {
    let mut sent: Vec<(String, String)> = calls
        .iter()
        .map(|c| (field(c, "userId").to_owned(), field(c, "token").to_owned()))
        .collect();
    sent.sort();
    sent
}

/// The tests here run one at a time: the log test captures with a
/// thread-local subscriber, and tracing caches per call site whether anyone
/// listens, so a call site first hit by a concurrent test on another thread
/// can be skipped for the capturing one.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn sign_in_tokens_go_through_on_behalf_of_once_per_user_then_to_acs() {
    let _serial = SERIAL.lock().await;
    let cloud = Cloud::start().await;
    let config = acs_config(&cloud);
    let providers = Providers::from_config(&config, cloud.clock.shared()).expect("providers");
    let (desk, mut rx, _stop) = desk(&config, providers);
    let (alice, alice_sso) = signed_in(&cloud, "alice");
    let (bob, bob_sso) = signed_in(&cloud, "bob");
    desk.request(request(1, vec![alice.clone(), bob.clone()]))
        .expect("queued");
    let first = outcomes(&cloud.clock, &mut rx, 1).await;

    // One on-behalf-of call per member, as the identity platform documents it.
    let obo = obo_calls(&cloud);
    assert_eq!(obo.len(), 2, "{obo:?}");
    let mut assertions: Vec<&str> = obo.iter().map(|c| field(c, "assertion")).collect();
    assertions.sort();
    let mut ssos = [alice_sso.as_str(), bob_sso.as_str()];
    ssos.sort();
    assert_eq!(assertions, ssos);
    for call in &obo {
        assert_eq!(call.status, 200);
        assert_eq!(call.path, "/t1/oauth2/v2.0/token");
        assert_eq!(field(call, "requested_token_use"), "on_behalf_of");
        assert_eq!(field(call, "scope"), ACS_SCOPES);
        assert_eq!(field(call, "client_id"), DEFAULT_CLIENT_ID);
        // The secret went (the fake checks it) but is not kept with the call.
        assert!(call.body.as_ref().expect("form")["client_secret"].is_null());
    }
    // Then ACS's exchange, with the on-behalf-of tokens, not the SSO tokens.
    let exchanges = cloud.fake.calls_to(Endpoint::AcsExchange);
    assert_eq!(
        exchanges.iter().map(|c| c.status).collect::<Vec<_>>(),
        [200, 200]
    );
    let sent = exchanged(&exchanges);
    assert_eq!(
        sent.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    for (_, token) in &sent {
        assert!(token.starts_with("fake-aad-"), "{token}");
        assert!(*token != alice_sso && *token != bob_sso);
    }
    assert!(
        exchanges
            .iter()
            .all(|c| field(c, "appId") == DEFAULT_CLIENT_ID)
    );
    let tokens = acs_tokens(&first[0]);
    assert_eq!(
        tokens.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert!(tokens.iter().all(|(_, t)| t.starts_with("fake-acs-")));

    // A second meeting soon after: the cached tokens, no new on-behalf-of call.
    cloud.clock.advance(Duration::from_secs(600));
    desk.request(request(2, vec![alice.clone(), bob.clone()]))
        .expect("queued");
    let second = outcomes(&cloud.clock, &mut rx, 1).await;
    assert_eq!(obo_calls(&cloud).len(), 2);
    let exchanges = cloud.fake.calls_to(Endpoint::AcsExchange);
    assert_eq!(exchanges.len(), 4);
    assert_eq!(exchanged(&exchanges[2..]), sent);
    assert_eq!(acs_tokens(&second[0]).len(), 2);
    assert_ne!(acs_tokens(&second[0]), tokens, "fresh ACS tokens");

    // Shortly before the on-behalf-of tokens expire (the fake's last 3599 s),
    // new ones are asked for with the same sign-in tokens.
    assert!(cloud.now() < Duration::from_secs(3000), "{:?}", cloud.now());
    cloud.clock.advance(Duration::from_secs(3300) - cloud.now());
    desk.request(request(3, vec![alice, bob])).expect("queued");
    let third = outcomes(&cloud.clock, &mut rx, 1).await;
    let obo = obo_calls(&cloud);
    assert_eq!(obo.len(), 4);
    assert!(obo[2..].iter().all(|c| c.status == 200));
    let exchanges = cloud.fake.calls_to(Endpoint::AcsExchange);
    let renewed = exchanged(&exchanges[4..]);
    assert_eq!(renewed.len(), 2);
    for ((_, old), (_, new)) in sent.iter().zip(&renewed) {
        assert_ne!(old, new);
    }
    assert_eq!(acs_tokens(&third[0]).len(), 2);
}

#[tokio::test]
async fn a_refused_on_behalf_of_exchange_costs_only_that_member_their_token() {
    let _serial = SERIAL.lock().await;
    let cloud = Cloud::start().await;
    let config = acs_config(&cloud);
    let providers = Providers::from_config(&config, cloud.clock.shared()).expect("providers");
    let (desk, mut rx, _stop) = desk(&config, providers);
    let (alice, _) = signed_in(&cloud, "alice");
    let (bob, _) = signed_in(&cloud, "bob");
    // Bob never consented to the ACS scopes.
    cloud.fake.withhold_acs_consent("bob");
    // Carol's sign-in token is not the app's (another app's audience).
    let mut carol = Member::new("t1", "carol");
    carol.teams_token = Some(Secret::new(cloud.fake.user_token(
        "t1",
        "carol",
        "99999999-0000-0000-0000-000000000000",
    )));
    desk.request(request(1, vec![alice.clone(), bob, carol]))
        .expect("queued");
    let got = outcomes(&cloud.clock, &mut rx, 1).await;
    let tokens = acs_tokens(&got[0]);
    assert_eq!(
        tokens.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
        ["alice"]
    );
    let mut statuses: Vec<u16> = obo_calls(&cloud).iter().map(|c| c.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 400, 400]);
    // Only Alice reached ACS.
    let exchanges = cloud.fake.calls_to(Endpoint::AcsExchange);
    assert_eq!(
        exchanged(&exchanges)
            .iter()
            .map(|(u, _)| u.as_str())
            .collect::<Vec<_>>(),
        ["alice"]
    );

    // When the identity platform fails for everyone, so does the request,
    // and ACS is not called.
    cloud
        .fake
        .fault(Endpoint::Token, Fault::Status(503), Times::UntilCleared);
    let (dave, _) = signed_in(&cloud, "dave");
    desk.request(request(2, vec![dave])).expect("queued");
    let failed = outcomes(&cloud.clock, &mut rx, 1).await;
    assert!(
        matches!(&failed[0].result, Err(MeetingFailure::Unavailable(_))),
        "{:?}",
        failed[0].result
    );
    assert_eq!(cloud.fake.calls_to(Endpoint::AcsExchange).len(), 1);
    cloud.fake.clear_faults();
    // A refusal is not cached: the next meeting asks again.
    let before = obo_calls(&cloud).len();
    let (bob, _) = signed_in(&cloud, "bob");
    desk.request(request(3, vec![alice, bob])).expect("queued");
    let again = outcomes(&cloud.clock, &mut rx, 1).await;
    assert_eq!(acs_tokens(&again[0]).len(), 1);
    // Alice's token is cached; Bob is asked for again and refused again.
    let after = obo_calls(&cloud);
    assert_eq!(after.len(), before + 1);
    assert_eq!(after.last().map(|c| c.status), Some(400));
}

#[tokio::test]
async fn a_cached_token_acs_refuses_is_forgotten() {
    let _serial = SERIAL.lock().await;
    let cloud = Cloud::start().await;
    let config = acs_config(&cloud);
    let providers = Providers::from_config(&config, cloud.clock.shared()).expect("providers");
    let (desk, mut rx, _stop) = desk(&config, providers);
    let (alice, _) = signed_in(&cloud, "alice");
    desk.request(request(1, vec![alice.clone()]))
        .expect("queued");
    assert_eq!(
        acs_tokens(&outcomes(&cloud.clock, &mut rx, 1).await[0]).len(),
        1
    );
    assert_eq!(obo_calls(&cloud).len(), 1);
    // Every token is revoked: ACS refuses the cached one.
    cloud.fake.revoke_tokens();
    desk.request(request(2, vec![alice.clone()]))
        .expect("queued");
    let refused = outcomes(&cloud.clock, &mut rx, 1).await;
    assert!(
        matches!(&refused[0].result, Err(MeetingFailure::Refused(_))),
        "{:?}",
        refused[0].result
    );
    assert_eq!(obo_calls(&cloud).len(), 1, "the cached token was used");
    // So the next meeting asks the identity platform again (refused too:
    // the sign-in token is revoked as well).
    desk.request(request(3, vec![alice])).expect("queued");
    let again = outcomes(&cloud.clock, &mut rx, 1).await;
    assert!(again[0].result.is_err());
    let obo = obo_calls(&cloud);
    assert_eq!(obo.iter().map(|c| c.status).collect::<Vec<_>>(), [200, 400]);
    assert_eq!(cloud.fake.calls_to(Endpoint::AcsExchange).len(), 2);
}

#[tokio::test]
async fn the_cache_holds_at_most_its_capacity_and_forgets_the_oldest_user() {
    let _serial = SERIAL.lock().await;
    let cloud = Cloud::start().await;
    let graph = GraphClient::new(&cloud.graph_config(), cloud.clock.shared()).expect("client");
    let obo = OboTokens::new(graph.tokens().clone(), ACS_TEAMS_SCOPES, 2);
    assert_eq!(obo.scope(), ACS_SCOPES);
    let sso = |oid: &str| Secret::new(cloud.fake.user_token("t1", oid, DEFAULT_CLIENT_ID));
    let (a, b, c) = (sso("a"), sso("b"), sso("c"));
    let mut got = Vec::new();
    for (oid, token) in [
        ("a", &a),
        ("b", &b),
        ("a", &a),
        ("c", &c),
        ("c", &c),
        ("a", &a),
    ] {
        let t = cloud
            .drive(obo.token("t1", oid, token))
            .await
            .expect("token");
        got.push(t.expose().to_owned());
        assert!(obo.len() <= 2);
    }
    // a, b, (a cached), c evicts a, (c cached), a again evicts b.
    let whose = |assertion: &str| {
        [("a", &a), ("b", &b), ("c", &c)]
            .into_iter()
            .find(|(_, s)| s.expose() == assertion)
            .map_or("?", |(oid, _)| oid)
    };
    let asked: Vec<&str> = obo_calls(&cloud)
        .iter()
        .map(|c| whose(field(c, "assertion")))
        .collect();
    assert_eq!(asked, ["a", "b", "c", "a"]);
    assert_eq!(got[0], got[2]);
    assert_eq!(got[3], got[4]);
    assert_ne!(got[0], got[5]);
    assert_eq!(obo.len(), 2);
    // A new sign-in token for a cached user is exchanged afresh.
    let a2 = sso("a");
    let t = cloud.drive(obo.token("t1", "a", &a2)).await.expect("token");
    assert_ne!(t.expose(), got[5]);
    assert_eq!(obo_calls(&cloud).len(), 5);
    // Debug shows neither tokens nor digests.
    let shown = format!("{obo:?}");
    assert!(
        !shown.contains("fake-aad-") && shown.contains("users: 2"),
        "{shown}"
    );
}

#[tokio::test]
async fn the_fake_acs_takes_only_on_behalf_of_tokens_for_its_scopes() {
    let _serial = SERIAL.lock().await;
    let cloud = Cloud::start().await;
    let http = reqwest::Client::new();
    let sso = cloud.fake.user_token("t1", "alice", DEFAULT_CLIENT_ID);
    let obo = |scope: &'static str, assertion: String| {
        let http = http.clone();
        let url = format!("{}/t1/oauth2/v2.0/token", cloud.fake.login_url());
        async move {
            let answer = http
                .post(url)
                .form(&[
                    ("grant_type", JWT_BEARER),
                    ("client_id", DEFAULT_CLIENT_ID),
                    ("client_secret", metaoffice_fakes::DEFAULT_CLIENT_SECRET),
                    ("assertion", &assertion),
                    ("scope", scope),
                    ("requested_token_use", "on_behalf_of"),
                ])
                .send()
                .await
                .expect("send");
            let status = answer.status().as_u16();
            let body: serde_json::Value = answer.json().await.expect("json");
            (status, body)
        }
    };
    let (status, acs) = obo(ACS_SCOPES, sso.clone()).await;
    assert_eq!(status, 200, "{acs}");
    assert_eq!(acs["scope"], ACS_SCOPES);
    let acs = acs["access_token"].as_str().expect("token").to_owned();
    let (_, graph) = obo("https://graph.microsoft.com/.default", sso.clone()).await;
    let graph = graph["access_token"].as_str().expect("token").to_owned();
    // An on-behalf-of token is not an assertion for this app.
    let (status, refused) = obo(ACS_SCOPES, acs.clone()).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let exchange = |token: String| {
        let http = http.clone();
        let url = format!(
            "{}/teamsUser/:exchangeAccessToken?api-version=2023-10-01",
            cloud.fake.acs_endpoint()
        );
        let host = cloud.fake.addr().to_string();
        async move {
            let body = serde_json::to_vec(&serde_json::json!({
                "token": token, "appId": DEFAULT_CLIENT_ID, "userId": "alice"
            }))
            .expect("json");
            let date = httpdate::fmt_http_date(std::time::SystemTime::now());
            let signed = metaoffice_server::graph::acs::sign(
                &base64_key(),
                "POST",
                "/teamsUser/:exchangeAccessToken?api-version=2023-10-01",
                &host,
                &date,
                &body,
            );
            let answer = http
                .post(url)
                .header("x-ms-date", &signed.date)
                .header("x-ms-content-sha256", &signed.content_sha256)
                .header("authorization", &signed.authorization)
                .body(body)
                .send()
                .await
                .expect("send");
            let status = answer.status().as_u16();
            let body: serde_json::Value = answer.json().await.expect("json");
            (status, body)
        }
    };
    // The SSO token itself, and a Graph token, are refused; the ACS one is not.
    for wrong in [sso, graph] {
        let (status, body) = exchange(wrong).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "InvalidAccessToken");
    }
    let (status, body) = exchange(acs).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("fake-acs-"))
    );
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn on_behalf_of_tokens_and_refusals_are_logged_without_tokens() {
    let _serial = SERIAL.lock().await;
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let cloud = Cloud::start().await;
    let config = acs_config(&cloud);
    let providers = Providers::from_config(&config, cloud.clock.shared()).expect("providers");
    let (desk, mut rx, _stop) = desk(&config, providers);
    let (alice, alice_sso) = signed_in(&cloud, "alice");
    let (bob, bob_sso) = signed_in(&cloud, "bob");
    cloud.fake.withhold_acs_consent("bob");
    desk.request(request(1, vec![alice, bob])).expect("queued");
    let got = outcomes(&cloud.clock, &mut rx, 1).await;
    tracing::debug!(?got, "outcomes");
    let tokens = acs_tokens(&got[0]);
    assert_eq!(tokens.len(), 1);
    let exchanged_with = exchanged(&cloud.fake.calls_to(Endpoint::AcsExchange));
    drop(_guard);

    let text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
    assert!(
        text.contains("on-behalf-of token acquired"),
        "the capture works: {text}"
    );
    assert!(
        text.contains("on-behalf-of token for ACS failed")
            && text.contains("consent_required")
            && text.contains("AADSTS65001"),
        "the reason is logged: {text}"
    );
    let mut secrets = vec![
        alice_sso,
        bob_sso,
        tokens[0].1.clone(),
        metaoffice_fakes::DEFAULT_CLIENT_SECRET.to_owned(),
        "fake-aad-".to_owned(),
        "fake-acs-".to_owned(),
    ];
    secrets.extend(exchanged_with.into_iter().map(|(_, t)| t));
    for secret in secrets {
        assert!(!text.contains(&secret), "{secret} appears in the logs");
    }
}

fn base64_key() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(metaoffice_fakes::DEFAULT_ACS_KEY)
        .expect("key")
}
