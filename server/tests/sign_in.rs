//! Teams sign-in, for real: tokens signed with RSA keys made here, keys
//! published by the fake identity platform, every kind of bad token refused.
//! The server-level behaviour (joining, positions, organisations, teams) is
//! in `sign_in_server.rs`.

mod common;

use std::time::Duration;

use common::tokens::{AUDIENCE, TENANT, claims, forge, jwk, keys, now, sign};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use metaoffice_fakes::{FakeMicrosoft, FakeOptions};
use metaoffice_server::identity::{SignIn, SignInError};
use serde_json::json;

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
