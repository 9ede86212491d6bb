//! Azure Communication Services, signed with the resource's access key as
//! ACS documents: `x-ms-date` (RFC 1123), `x-ms-content-sha256` (base64
//! SHA-256 of the body) and `Authorization: HMAC-SHA256
//! SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=…`, the
//! signature being the base64 HMAC-SHA256, keyed with the base64-decoded
//! access key, of `"{METHOD}\n{path and query}\n{date};{host};{content hash}"`.
//!
//! One call: the Teams user token exchange
//! (`POST /teamsUser/:exchangeAccessToken`), which turns a Teams user's
//! Entra ID token for ACS into an ACS token the client joins a call with.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use super::transport::{Call, Transport};
use super::{GraphError, Secret, error_of_graph};

/// The ACS identity API version used.
pub const ACS_API_VERSION: &str = "2023-10-01";

/// The headers that sign one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `x-ms-date`.
    pub date: String,
    /// `x-ms-content-sha256`.
    pub content_sha256: String,
    /// `Authorization`.
    pub authorization: String,
}

/// Signs a request to `host` (with `:port` when not the default) for
/// `path_and_query`, at `date` (RFC 1123), with the decoded access `key`.
pub fn sign(
    key: &[u8],
    method: &str,
    path_and_query: &str,
    host: &str,
    date: &str,
    body: &[u8],
) -> Signature {
    let content_sha256 = STANDARD.encode(Sha256::digest(body));
    let to_sign = format!("{method}\n{path_and_query}\n{date};{host};{content_sha256}");
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(to_sign.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    Signature {
        date: date.to_owned(),
        authorization: format!(
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
        ),
        content_sha256,
    }
}

/// An ACS access token for one Teams user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsToken {
    /// The token the client joins with.
    pub token: Secret,
    /// When it expires, as ACS wrote it (RFC 3339).
    pub expires_on: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExchangeBody<'a> {
    token: &'a str,
    app_id: &'a str,
    user_id: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExchangeAnswer {
    token: String,
    expires_on: String,
}

/// A client for one ACS resource.
#[derive(Debug)]
pub struct AcsClient {
    transport: Arc<Transport>,
    endpoint: Url,
    host: String,
    key: Vec<u8>,
}

impl AcsClient {
    /// A client for the resource at `endpoint` with `access_key` (base64, as
    /// the Azure portal shows it).
    pub fn new(
        transport: Arc<Transport>,
        endpoint: &str,
        access_key: &Secret,
    ) -> Result<AcsClient, GraphError> {
        let endpoint =
            Url::parse(endpoint).map_err(|e| GraphError::Request(format!("acs.endpoint: {e}")))?;
        let host = match (endpoint.host_str(), endpoint.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(GraphError::Request("acs.endpoint has no host".into())),
        };
        let key = STANDARD
            .decode(access_key.expose())
            .map_err(|_| GraphError::Request("acs.access_key is not base64".into()))?;
        Ok(AcsClient {
            transport,
            endpoint,
            host,
            key,
        })
    }

    /// Exchanges `aad_token` (user `user_oid`'s Entra ID token, issued to
    /// application `app_id`, for ACS) for an ACS token.
    pub async fn exchange_teams_token(
        &self,
        tenant: &str,
        app_id: &str,
        user_oid: &str,
        aad_token: &Secret,
    ) -> Result<AcsToken, GraphError> {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| GraphError::Request("acs.endpoint cannot be a base".into()))?
            .pop_if_empty()
            .extend(["teamsUser", ":exchangeAccessToken"]);
        url.query_pairs_mut()
            .append_pair("api-version", ACS_API_VERSION);
        let path_and_query = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        let body = serde_json::to_vec(&ExchangeBody {
            token: aad_token.expose(),
            app_id,
            user_id: user_oid,
        })
        .map_err(|e| GraphError::Request(e.to_string()))?;
        let clock = self.transport.clock().clone();
        let call = Call {
            endpoint: "acsExchange",
            tenant,
            budget: None,
        };
        let answer = self
            .transport
            .send(&call, |http| {
                // Signed afresh each attempt: the date is part of it.
                let date = httpdate::fmt_http_date(clock.wall());
                let signed = sign(&self.key, "POST", &path_and_query, &self.host, &date, &body);
                http.post(url.clone())
                    .header("x-ms-date", signed.date)
                    .header("x-ms-content-sha256", signed.content_sha256)
                    .header("authorization", signed.authorization)
                    .header("content-type", "application/json")
                    .body(body.clone())
            })
            .await?;
        if answer.status != 200 {
            return Err(error_of_graph("acsExchange", &answer));
        }
        let parsed: ExchangeAnswer =
            serde_json::from_slice(&answer.body).map_err(|e| GraphError::Malformed {
                endpoint: "acsExchange",
                reason: format!("not a token answer: {e}"),
            })?;
        if parsed.token.is_empty() || parsed.expires_on.is_empty() {
            return Err(GraphError::Malformed {
                endpoint: "acsExchange",
                reason: "empty token or expiresOn".into(),
            });
        }
        Ok(AcsToken {
            token: Secret::new(parsed.token),
            expires_on: parsed.expires_on,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_method_path_date_host_and_body() {
        let key = b"0123456789abcdef0123456789abcdef";
        let date = "Tue, 01 Oct 2024 12:00:00 GMT";
        let a = sign(
            key,
            "POST",
            "/teamsUser/:exchangeAccessToken?api-version=1",
            "h:1",
            date,
            b"{}",
        );
        assert_eq!(a.content_sha256, STANDARD.encode(Sha256::digest(b"{}")));
        assert!(a.authorization.starts_with(
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="
        ));
        // Recompute independently of `sign`.
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
        mac.update(
            format!(
                "POST\n/teamsUser/:exchangeAccessToken?api-version=1\n{date};h:1;{}",
                a.content_sha256
            )
            .as_bytes(),
        );
        let expected = STANDARD.encode(mac.finalize().into_bytes());
        assert!(a.authorization.ends_with(&format!("Signature={expected}")));
        for changed in [
            sign(
                key,
                "GET",
                "/teamsUser/:exchangeAccessToken?api-version=1",
                "h:1",
                date,
                b"{}",
            ),
            sign(
                key,
                "POST",
                "/teamsUser/:exchangeAccessToken?api-version=2",
                "h:1",
                date,
                b"{}",
            ),
            sign(
                key,
                "POST",
                "/teamsUser/:exchangeAccessToken?api-version=1",
                "h:2",
                date,
                b"{}",
            ),
            sign(
                key,
                "POST",
                "/teamsUser/:exchangeAccessToken?api-version=1",
                "h:1",
                date,
                b"[]",
            ),
            sign(
                b"another key",
                "POST",
                "/teamsUser/:exchangeAccessToken?api-version=1",
                "h:1",
                date,
                b"{}",
            ),
        ] {
            assert_ne!(changed.authorization, a.authorization);
        }
    }
}
