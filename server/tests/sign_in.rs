//! Teams sign-in, for real: tokens signed with RSA keys made here, keys
//! published by the fake identity platform, every kind of bad token refused
//! with the same unhelpful message.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TestServer, next};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use metaoffice_bots::{Client, Incoming};
use metaoffice_fakes::{FakeMicrosoft, FakeOptions};
use metaoffice_protocol::{ClientMessage, ErrorCode, Join, PROTOCOL_VERSION, ServerMessage};
use metaoffice_server::Config;
use metaoffice_server::identity::{REFUSED, SignIn, SignInError};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, rand_core::OsRng};
use serde_json::{Value, json};

const TENANT: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const AUDIENCE: &str = "api://metaoffice.example/11111111-2222-3333-4444-555555555555";

/// Two keys: the published one, and one an attacker holds.
fn keys() -> &'static (RsaPrivateKey, RsaPrivateKey) {
    static KEYS: OnceLock<(RsaPrivateKey, RsaPrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let a = RsaPrivateKey::new(&mut OsRng, 2048).expect("key");
        let b = RsaPrivateKey::new(&mut OsRng, 2048).expect("key");
        (a, b)
    })
}

fn jwk(key: &RsaPrivateKey, kid: &str) -> Value {
    let public = key.to_public_key();
    json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn claims(login: &str) -> Value {
    json!({
        "iss": format!("{login}/{TENANT}/v2.0"),
        "aud": AUDIENCE,
        "tid": TENANT,
        "oid": "00000000-0000-4000-8000-0000000000a1",
        "name": "Ann Example",
        "preferred_username": "ann@example.com",
        "iat": now() - 10, "nbf": now() - 10, "exp": now() + 3600,
    })
}

fn sign(key: &RsaPrivateKey, kid: &str, claims: &Value) -> String {
    let der = key.to_pkcs1_der().expect("der");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der.as_bytes())).expect("sign")
}

/// A token assembled by hand: any header, any claims, any signature.
fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

async fn setup() -> (FakeMicrosoft, SignIn) {
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1")] }));
    let sign_in = SignIn::new(
        &fake.login_url(),
        vec![AUDIENCE.to_owned()],
        60,
        Duration::from_secs(300),
    )
    .expect("sign-in");
    (fake, sign_in)
}

async fn refused(sign_in: &SignIn, token: &str) -> SignInError {
    sign_in.check(token).await.expect_err("refused")
}

#[tokio::test]
async fn a_valid_token_signs_in_as_tenant_and_object_id() {
    let (fake, sign_in) = setup().await;
    let user = sign_in
        .check(&sign(&keys().0, "k1", &claims(&fake.login_url())))
        .await
        .expect("valid");
    assert_eq!(user.tenant_id, TENANT);
    assert_eq!(user.object_id, "00000000-0000-4000-8000-0000000000a1");
    assert_eq!(user.display_name, "Ann Example");
    assert_eq!(user.upn, "ann@example.com");
    // v1 issuer too.
    let mut v1 = claims(&fake.login_url());
    v1["iss"] = json!(format!("https://sts.windows.net/{TENANT}/"));
    sign_in
        .check(&sign(&keys().0, "k1", &v1))
        .await
        .expect("v1 issuer");
    assert_eq!(fake.jwks_fetches(), 1, "keys are cached");
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused() {
    let (fake, sign_in) = setup().await;
    let token = sign(&keys().1, "k1", &claims(&fake.login_url()));
    assert!(matches!(
        refused(&sign_in, &token).await,
        SignInError::Rejected(_)
    ));
}

#[tokio::test]
async fn alg_none_is_refused() {
    let (fake, sign_in) = setup().await;
    let header = json!({ "alg": "none", "typ": "JWT", "kid": "k1" });
    let token = forge(&header, &claims(&fake.login_url()), b"");
    assert!(matches!(
        refused(&sign_in, &token).await,
        SignInError::Malformed
    ));
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let (fake, sign_in) = setup().await;
    let public_pem = {
        use rsa::pkcs1::EncodeRsaPublicKey;
        keys()
            .0
            .to_public_key()
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .expect("pem")
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &claims(&fake.login_url()),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .expect("sign");
    assert!(matches!(
        refused(&sign_in, &token).await,
        SignInError::Algorithm
    ));
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused_beyond_the_leeway() {
    let (fake, sign_in) = setup().await;
    let mut expired = claims(&fake.login_url());
    expired["exp"] = json!(now() - 120);
    refused(&sign_in, &sign(&keys().0, "k1", &expired)).await;
    let mut early = claims(&fake.login_url());
    early["nbf"] = json!(now() + 120);
    refused(&sign_in, &sign(&keys().0, "k1", &early)).await;
    // Within the leeway: accepted.
    let mut skewed = claims(&fake.login_url());
    skewed["exp"] = json!(now() - 5);
    sign_in
        .check(&sign(&keys().0, "k1", &skewed))
        .await
        .expect("leeway");
}

#[tokio::test]
async fn a_wrong_audience_or_issuer_is_refused() {
    let (fake, sign_in) = setup().await;
    let mut audience = claims(&fake.login_url());
    audience["aud"] = json!("api://someone-else/1234");
    refused(&sign_in, &sign(&keys().0, "k1", &audience)).await;
    let mut issuer = claims(&fake.login_url());
    issuer["iss"] = json!("https://evil.example/v2.0");
    refused(&sign_in, &sign(&keys().0, "k1", &issuer)).await;
}

#[tokio::test]
async fn an_issuer_of_another_tenant_is_refused() {
    let (fake, sign_in) = setup().await;
    let mut mismatch = claims(&fake.login_url());
    mismatch["iss"] = json!(format!(
        "{}/bbbbbbbb-0000-4000-8000-000000000002/v2.0",
        fake.login_url()
    ));
    refused(&sign_in, &sign(&keys().0, "k1", &mismatch)).await;
}

#[tokio::test]
async fn missing_claims_are_refused() {
    let (fake, sign_in) = setup().await;
    for claim in ["oid", "tid", "exp", "aud", "iss"] {
        let mut c = claims(&fake.login_url());
        c.as_object_mut().expect("object").remove(claim);
        refused(&sign_in, &sign(&keys().0, "k1", &c)).await;
    }
    let mut no_upn = claims(&fake.login_url());
    no_upn
        .as_object_mut()
        .expect("object")
        .remove("preferred_username");
    assert!(matches!(
        refused(&sign_in, &sign(&keys().0, "k1", &no_upn)).await,
        SignInError::Missing("upn")
    ));
}

#[tokio::test]
async fn garbage_is_refused() {
    let (_fake, sign_in) = setup().await;
    for token in [
        "",
        "garbage",
        "a.b.c",
        "....",
        "eyJhbGciOiJSUzI1NiJ9.e30.",
        "\u{0}",
    ] {
        refused(&sign_in, token).await;
    }
    let header = json!({ "alg": "RS256", "kid": "k1" });
    let bad_tenant = json!({ "tid": "../../evil?x=", "exp": now() + 60 });
    assert!(matches!(
        refused(&sign_in, &forge(&header, &bad_tenant, b"sig")).await,
        SignInError::Tenant
    ));
}

#[tokio::test]
async fn unknown_key_ids_refetch_the_keys_at_most_once_per_floor() {
    let (fake, sign_in) = setup().await;
    let c = claims(&fake.login_url());
    sign_in
        .check(&sign(&keys().0, "k1", &c))
        .await
        .expect("valid");
    assert_eq!(fake.jwks_fetches(), 1);
    // A key id nobody publishes, many times: no second fetch within the floor.
    for _ in 0..5 {
        refused(&sign_in, &sign(&keys().0, "nope", &c)).await;
    }
    assert_eq!(fake.jwks_fetches(), 1);
    // With no floor, a rotated key is picked up.
    let rotating = SignIn::new(
        &fake.login_url(),
        vec![AUDIENCE.to_owned()],
        60,
        Duration::ZERO,
    )
    .expect("sign-in");
    rotating
        .check(&sign(&keys().0, "k1", &c))
        .await
        .expect("valid");
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1"), jwk(&keys().1, "k2")] }));
    rotating
        .check(&sign(&keys().1, "k2", &c))
        .await
        .expect("rotated key");
}

async fn join_with_token(server: &TestServer, token: &str) -> Incoming {
    let mut client = Client::connect(&server.ws_url()).await.expect("connect");
    client
        .send(&ClientMessage::Join(Join {
            version: PROTOCOL_VERSION,
            office: "office".to_owned(),
            name: None,
            token: Some(token.to_owned()),
        }))
        .await
        .expect("send");
    next(&mut client).await
}

#[tokio::test]
async fn the_server_admits_valid_tokens_and_refuses_the_rest_alike() {
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1")] }));
    let mut config = Config::default();
    config.graph.login_url = fake.login_url();
    config.auth.audiences = vec![AUDIENCE.to_owned()];
    let server = TestServer::start_with(config).await;
    let good = sign(&keys().0, "k1", &claims(&fake.login_url()));
    match join_with_token(&server, &good).await {
        Incoming::Message(ServerMessage::Welcome(_)) => {}
        other => panic!("expected a welcome, got {other:?}"),
    }
    let bad = sign(&keys().1, "k1", &claims(&fake.login_url()));
    for token in [bad.as_str(), "garbage"] {
        match join_with_token(&server, token).await {
            Incoming::Message(ServerMessage::Error(e)) => {
                assert_eq!(e.code, ErrorCode::LoginRefused as u16);
                assert_eq!(e.message, REFUSED);
            }
            other => panic!("expected LoginRefused, got {other:?}"),
        }
    }
    server.stop().await;
}

fn own_tile(welcome: &metaoffice_protocol::Welcome) -> (i32, i32) {
    let me = welcome
        .avatars
        .iter()
        .find(|a| a.id == welcome.avatar)
        .expect("own avatar in the welcome");
    (me.x, me.y)
}

#[tokio::test]
async fn a_signed_in_user_starts_where_they_last_stood_and_is_recorded() {
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1")] }));
    let mut config = Config::default();
    config.graph.login_url = fake.login_url();
    config.auth.audiences = vec![AUDIENCE.to_owned()];
    let server = TestServer::start_with(config).await;
    // Once the server answers, its migrations are done: open the same database.
    common::http_get(&server.http_url("/healthz")).await;
    let store = metaoffice_server::store::Store::open(&server.db.url)
        .await
        .expect("store");
    let oid = "00000000-0000-4000-8000-0000000000a1";
    store
        .save_position(TENANT, oid, "office", (7, 3))
        .await
        .expect("seed");
    let token = sign(&keys().0, "k1", &claims(&fake.login_url()));
    let welcome = match join_with_token(&server, &token).await {
        Incoming::Message(ServerMessage::Welcome(w)) => w,
        other => panic!("expected a welcome, got {other:?}"),
    };
    assert_eq!(own_tile(&welcome), (7, 3));
    // The sign-in was recorded (through the store task).
    let mut recorded = None;
    for _ in 0..100 {
        recorded = store.user(TENANT, oid).await.expect("read");
        if recorded.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(recorded.expect("user row").upn, "ann@example.com");
    // A last position on a wall: a spawn instead.
    store
        .save_position(TENANT, oid, "office", (0, 0))
        .await
        .expect("seed");
    let welcome = match join_with_token(&server, &token).await {
        Incoming::Message(ServerMessage::Welcome(w)) => w,
        other => panic!("expected a welcome, got {other:?}"),
    };
    assert_ne!(own_tile(&welcome), (0, 0));
    store.close().await;
    server.stop().await;
}

#[tokio::test]
async fn removing_the_organisation_disconnects_its_signed_in_users() {
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1")] }));
    let admin = "admin-token-for-tests-0123456789";
    let mut config = Config::default();
    config.graph.login_url = fake.login_url();
    config.auth.audiences = vec![AUDIENCE.to_owned()];
    config.admin.token = Some(metaoffice_server::graph::Secret::new(admin));
    let server = TestServer::start_with(config).await;
    let token = sign(&keys().0, "k1", &claims(&fake.login_url()));
    let mut client = Client::connect(&server.ws_url()).await.expect("connect");
    client
        .send(&ClientMessage::Join(Join {
            version: PROTOCOL_VERSION,
            office: "office".to_owned(),
            name: None,
            token: Some(token),
        }))
        .await
        .expect("send");
    assert!(matches!(
        next(&mut client).await,
        Incoming::Message(ServerMessage::Welcome(_))
    ));
    let response = reqwest::Client::new()
        .delete(server.http_url(&format!("/admin/organisations/{TENANT}")))
        .bearer_auth(admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["disconnected"], 1);
    loop {
        match next(&mut client).await {
            Incoming::Message(ServerMessage::Error(e)) => {
                assert_eq!(e.code, ErrorCode::LoginRefused as u16);
            }
            Incoming::Message(_) => {}
            Incoming::Closed(_) => break,
        }
    }
    // Once the server answers, its migrations are done: open the same database.
    common::http_get(&server.http_url("/healthz")).await;
    let store = metaoffice_server::store::Store::open(&server.db.url)
        .await
        .expect("store");
    // Nothing of the removed organisation is written after it went.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store
            .user(TENANT, "00000000-0000-4000-8000-0000000000a1")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store
            .last_position(TENANT, "00000000-0000-4000-8000-0000000000a1", "office")
            .await
            .expect("read"),
        None
    );
    store.close().await;
    server.stop().await;
}

#[tokio::test]
async fn an_office_of_a_team_admits_only_its_members_and_its_organisation() {
    use metaoffice_fakes::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
    use metaoffice_server::store::queries::OfficeSettings;
    let fake = FakeMicrosoft::start(FakeOptions::default()).await;
    fake.set_jwks(json!({ "keys": [jwk(&keys().0, "k1")] }));
    let member = "00000000-0000-4000-8000-0000000000a1";
    fake.set_team_members("team-1", &[member, "someone-else"]);
    let mut config = Config::default();
    config.graph.login_url = fake.login_url();
    config.graph.base_url = fake.graph_url();
    config.graph.client_id = Some(DEFAULT_CLIENT_ID.to_owned());
    config.graph.client_secret = Some(metaoffice_server::graph::Secret::new(DEFAULT_CLIENT_SECRET));
    config.graph.room_organizer = Some("room-organizer-oid".to_owned());
    config.auth.audiences = vec![AUDIENCE.to_owned()];
    let server = TestServer::start_with(config).await;
    // Once the server answers, its migrations are done: open the same database.
    common::http_get(&server.http_url("/healthz")).await;
    let store = metaoffice_server::store::Store::open(&server.db.url)
        .await
        .expect("store");
    let mut office = OfficeSettings {
        office_id: "office".to_owned(),
        tenant_id: TENANT.to_owned(),
        map: "office".to_owned(),
        conversation_radius: 3,
        meeting_provider: "local".to_owned(),
        team_id: Some("team-1".to_owned()),
        channel_id: None,
        channel_name: None,
    };
    store.upsert_office(&office).await.expect("office");
    let member_token = sign(&keys().0, "k1", &claims(&fake.login_url()));
    assert!(matches!(
        join_with_token(&server, &member_token).await,
        Incoming::Message(ServerMessage::Welcome(_))
    ));
    let mut outsider = claims(&fake.login_url());
    outsider["oid"] = json!("00000000-0000-4000-8000-0000000000b2");
    match join_with_token(&server, &sign(&keys().0, "k1", &outsider)).await {
        Incoming::Message(ServerMessage::Error(e)) => {
            assert_eq!(e.code, ErrorCode::LoginRefused as u16);
            assert!(e.message.contains("not a member"), "{}", e.message);
        }
        other => panic!("expected LoginRefused, got {other:?}"),
    }
    // The office belongs to another organisation now.
    office.tenant_id = "bbbbbbbb-0000-4000-8000-000000000002".to_owned();
    store.upsert_office(&office).await.expect("office");
    match join_with_token(&server, &member_token).await {
        Incoming::Message(ServerMessage::Error(e)) => {
            assert_eq!(e.code, ErrorCode::LoginRefused as u16);
            assert!(e.message.contains("another organisation"), "{}", e.message);
        }
        other => panic!("expected LoginRefused, got {other:?}"),
    }
    store.close().await;
    server.stop().await;
}
