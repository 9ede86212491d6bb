//! The ACS provider against the fake: requests signed with HMAC-SHA256 as
//! ACS documents (the fake verifies them; a wrong key is refused), Teams
//! sign-in tokens exchanged (on-behalf-of, then ACS's exchange: see
//! `acs_obo.rs`) for ACS tokens, group call ids derived from the key.

mod cloud;

use cloud::{Cloud, desk, outcomes};
use metaoffice_fakes::{DEFAULT_CLIENT_ID, Endpoint};
use metaoffice_server::Config;
use metaoffice_server::graph::Secret;
use metaoffice_server::meetings::{
    MeetingFailure, MeetingKey, MeetingKind, MeetingRequest, Member, ProviderChoice, ProviderKind,
    Providers, ids,
};

fn acs_config(cloud: &Cloud) -> Config {
    let mut config = cloud.config();
    config.meetings.provider = ProviderChoice::Acs;
    config.validate().expect("valid");
    config
}

fn member(cloud: &Cloud, oid: &str, token: bool) -> Member {
    let mut m = Member::new("t1", oid);
    if token {
        m.teams_token = Some(Secret::new(cloud.fake.user_token(
            "t1",
            oid,
            DEFAULT_CLIENT_ID,
        )));
    }
    m
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

#[tokio::test]
async fn members_with_teams_tokens_get_acs_tokens_for_a_derived_group_call() {
    let cloud = Cloud::start().await;
    let config = acs_config(&cloud);
    let providers = Providers::from_config(&config, cloud.clock.shared()).expect("providers");
    let (desk, mut rx, _stop) = desk(&config, providers);
    let members = vec![
        member(&cloud, "alice", true),
        member(&cloud, "bob", true),
        member(&cloud, "carol", false),
    ];
    desk.request(request(1, members.clone())).expect("queued");
    let got = outcomes(&cloud.clock, &mut rx, 1).await;
    let info = got[0].result.as_ref().expect("group call");
    assert_eq!(info.provider, ProviderKind::Acs);
    assert_eq!(info.join_url, None);
    let join = info.acs.as_ref().expect("join data");
    let external = ids::group_external_id(members.iter().map(|m| &m.user));
    assert_eq!(join.group_call_id, ids::group_call_id(&external));
    assert_eq!(info.meeting_id, join.group_call_id);
    let mut holders: Vec<&str> = join.tokens.iter().map(|t| t.user.oid.as_str()).collect();
    holders.sort();
    assert_eq!(holders, ["alice", "bob"]);
    assert!(
        join.tokens
            .iter()
            .all(|t| t.token.expose().starts_with("fake-acs-"))
    );
    assert!(join.tokens.iter().all(|t| !t.expires_on.is_empty()));
    let calls = cloud.fake.calls_to(Endpoint::AcsExchange);
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [200, 200]
    );
    assert!(
        calls
            .iter()
            .all(|c| c.path == "/teamsUser/:exchangeAccessToken?api-version=2023-10-01")
    );

    // The same people under another key: the same call, fresh tokens.
    desk.request(request(2, members)).expect("queued");
    let again = outcomes(&cloud.clock, &mut rx, 1).await;
    let again = again[0].result.as_ref().expect("group call");
    assert_eq!(again.meeting_id, info.meeting_id);
    assert_eq!(cloud.fake.calls_to(Endpoint::AcsExchange).len(), 4);

    // A token that is not the member's gets them nothing; the others still join.
    let mut impostor = member(&cloud, "dave", false);
    impostor.teams_token = Some(Secret::new(cloud.fake.user_token(
        "t1",
        "erin",
        DEFAULT_CLIENT_ID,
    )));
    desk.request(request(3, vec![member(&cloud, "alice", true), impostor]))
        .expect("queued");
    let partial = outcomes(&cloud.clock, &mut rx, 1).await;
    let tokens = &partial[0]
        .result
        .as_ref()
        .expect("call")
        .acs
        .as_ref()
        .expect("join")
        .tokens;
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].user.oid, "alice");
}

#[tokio::test]
async fn a_request_signed_with_another_key_is_refused() {
    let cloud = Cloud::start().await;
    let mut config = acs_config(&cloud);
    config.acs.access_key = Some(Secret::new(
        "YW5vdGhlci1rZXktdGhhdC1pcy1ub3QtdGhlLXJpZ2h0LW9uZQ==",
    ));
    let providers = Providers::from_config(&config, cloud.clock.shared()).expect("providers");
    let (desk, mut rx, _stop) = desk(&config, providers);
    desk.request(request(1, vec![member(&cloud, "alice", true)]))
        .expect("queued");
    let got = outcomes(&cloud.clock, &mut rx, 1).await;
    match &got[0].result {
        Err(MeetingFailure::Refused(reason)) => assert!(reason.contains("Denied"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let calls = cloud.fake.calls_to(Endpoint::AcsExchange);
    assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), [401]);
}

#[tokio::test]
async fn the_fake_refuses_unsigned_and_tampered_requests() {
    let cloud = Cloud::start().await;
    let url = format!(
        "{}/teamsUser/:exchangeAccessToken?api-version=2023-10-01",
        cloud.fake.acs_endpoint()
    );
    let body = br#"{"token":"x","appId":"y","userId":"z"}"#.to_vec();
    let http = reqwest::Client::new();
    let unsigned = http
        .post(&url)
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(unsigned.status(), 401);
    // Signed correctly, then the body changed on the way.
    let host = cloud.fake.addr().to_string();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let key = base64_key();
    let signed = metaoffice_server::graph::acs::sign(
        &key,
        "POST",
        "/teamsUser/:exchangeAccessToken?api-version=2023-10-01",
        &host,
        &date,
        &body,
    );
    let send = |body: Vec<u8>| {
        http.post(&url)
            .header("x-ms-date", &signed.date)
            .header("x-ms-content-sha256", &signed.content_sha256)
            .header("authorization", &signed.authorization)
            .body(body)
            .send()
    };
    let tampered = send(br#"{"token":"x","appId":"y","userId":"Z"}"#.to_vec())
        .await
        .expect("send");
    assert_eq!(tampered.status(), 401);
    // The untampered one passes the signature and fails on the (fake) token.
    let honest = send(body).await.expect("send");
    assert_eq!(honest.status(), 401);
    let error: serde_json::Value = honest.json().await.expect("json");
    assert_eq!(error["error"]["code"], "InvalidAccessToken");
}

fn base64_key() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(metaoffice_fakes::DEFAULT_ACS_KEY)
        .expect("key")
}
