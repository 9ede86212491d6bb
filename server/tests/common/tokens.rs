//! Tokens for sign-in tests: RSA keys made here (once per test binary),
//! their JWKS entries, claims as Entra ID puts them, signed and forged tokens.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, rand_core::OsRng};
use serde_json::{Value, json};

pub const TENANT: &str = "aaaaaaaa-0000-4000-8000-000000000001";
pub const AUDIENCE: &str = "api://metaoffice.example/11111111-2222-3333-4444-555555555555";

/// Two keys: the published one, and one an attacker holds.
pub fn keys() -> &'static (RsaPrivateKey, RsaPrivateKey) {
    static KEYS: OnceLock<(RsaPrivateKey, RsaPrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let a = RsaPrivateKey::new(&mut OsRng, 2048).expect("key");
        let b = RsaPrivateKey::new(&mut OsRng, 2048).expect("key");
        (a, b)
    })
}

pub fn jwk(key: &RsaPrivateKey, kid: &str) -> Value {
    let public = key.to_public_key();
    json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    })
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn claims(login: &str) -> Value {
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

pub fn sign(key: &RsaPrivateKey, kid: &str, claims: &Value) -> String {
    let der = key.to_pkcs1_der().expect("der");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der.as_bytes())).expect("sign")
}

/// A token assembled by hand: any header, any claims, any signature.
pub fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}
