//! The admin API on the real server (port 0): authentication, office
//! configuration, audio and video configuration, who is where, removing an
//! organisation, validation errors naming the field, the OpenAPI document.

mod common;

use common::{TestServer, next};
use metaoffice_bots::Incoming;
use metaoffice_server::Config;
use metaoffice_server::graph::Secret;
use serde_json::{Value, json};

const TOKEN: &str = "admin-token-for-tests-0123456789";

async fn server() -> TestServer {
    let mut config = Config::default();
    config.admin.token = Some(Secret::new(TOKEN));
    TestServer::start_with(config).await
}

async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, server.http_url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn unique_tenant() -> String {
    format!(
        "tenant-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}

#[tokio::test]
async fn without_a_configured_token_there_is_no_admin_api() {
    let server = TestServer::start().await;
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        "/admin/offices",
        Some("x"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn requests_without_the_right_token_are_refused() {
    let server = server().await;
    for token in [
        None,
        Some("wrong"),
        Some(""),
        Some("admin-token-for-tests-012345678"),
    ] {
        let (status, body) =
            call(&server, reqwest::Method::GET, "/admin/offices", token, None).await;
        assert_eq!(status, 401, "{token:?}");
        assert_eq!(body["error"], "unauthorized");
    }
    let (status, body) = call(
        &server,
        reqwest::Method::GET,
        "/admin/openapi.json",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["openapi"], "3.1.0");
    assert!(body["paths"]["/admin/offices/{id}"]["put"].is_object());
    server.stop().await;
}

#[tokio::test]
async fn offices_are_created_updated_and_listed_with_who_is_in_them() {
    let server = server().await;
    let tenant = unique_tenant();
    let put = |body: Value| {
        call(
            &server,
            reqwest::Method::PUT,
            "/admin/offices/office",
            Some(TOKEN),
            Some(body),
        )
    };
    let (status, saved) = put(json!({ "tenant_id": tenant, "team_id": "team-1", "channel_id": "19:x@thread.tacv2", "channel_name": "General" })).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["conversation_radius"], 3);
    assert_eq!(saved["map"], "office");
    // ACS is not configured on this server: refused, naming the field.
    let (status, error) =
        put(json!({ "tenant_id": tenant, "conversation_radius": 6, "meeting_provider": "acs" }))
            .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field"], "meeting_provider", "{error}");
    let (status, saved) =
        put(json!({ "tenant_id": tenant, "conversation_radius": 6, "meeting_provider": "local" }))
            .await;
    assert_eq!(status, 200, "{saved}");
    let (status, read) = call(
        &server,
        reqwest::Method::GET,
        "/admin/offices/office",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(read["conversation_radius"], 6);
    assert_eq!(read["meeting_provider"], "local");
    let (_alice, _) = server.join("Alice").await;
    let (status, list) = call(
        &server,
        reqwest::Method::GET,
        "/admin/offices",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let office = list["offices"]
        .as_array()
        .expect("array")
        .iter()
        .find(|o| o["id"] == "office")
        .expect("the office")
        .clone();
    assert_eq!(office["running"], true);
    assert_eq!(office["settings"]["tenant_id"], tenant.as_str());
    assert_eq!(office["people"][0]["name"], "Alice");
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        "/admin/offices/nowhere",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 404);
    server.stop().await;
}

#[tokio::test]
async fn invalid_input_is_a_400_naming_the_field() {
    let server = server().await;
    let tenant = unique_tenant();
    let cases = [
        (json!({}), "tenant_id"),
        (json!({ "tenant_id": "bad tenant!" }), "tenant_id"),
        (
            json!({ "tenant_id": tenant, "conversation_radius": 0 }),
            "conversation_radius",
        ),
        (
            json!({ "tenant_id": tenant, "conversation_radius": 32 }),
            "conversation_radius",
        ),
        (
            json!({ "tenant_id": tenant, "conversation_radius": "far" }),
            "body",
        ),
        (
            json!({ "tenant_id": tenant, "meeting_provider": "zoom" }),
            "meeting_provider",
        ),
        (
            json!({ "tenant_id": tenant, "channel_name": "" }),
            "channel_name",
        ),
        (json!({ "tenant_id": tenant, "colour": "red" }), "colour"),
    ];
    for (body, field) in cases {
        let (status, error) = call(
            &server,
            reqwest::Method::PUT,
            "/admin/offices/office",
            Some(TOKEN),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["error"], "invalid", "{body}");
        if field != "body" {
            assert_eq!(error["field"], field, "{body}: {error}");
        }
    }
    let (status, error) = call(
        &server,
        reqwest::Method::PUT,
        "/admin/organisations/t1/users/o1/media",
        Some(TOKEN),
        Some(json!({ "camera_on": "yes" })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"], "invalid");
    server.stop().await;
}

#[tokio::test]
async fn media_settings_are_read_and_set() {
    let server = server().await;
    let tenant = unique_tenant();
    let path = format!("/admin/organisations/{tenant}/users/o1/media");
    let (status, _) = call(&server, reqwest::Method::GET, &path, Some(TOKEN), None).await;
    assert_eq!(status, 404);
    let media = json!({ "camera_on": true, "microphone_on": true, "camera_device": "Front", "microphone_device": null, "speaker_device": "Headset" });
    let (status, saved) = call(
        &server,
        reqwest::Method::PUT,
        &path,
        Some(TOKEN),
        Some(media.clone()),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    let (status, read) = call(&server, reqwest::Method::GET, &path, Some(TOKEN), None).await;
    assert_eq!(status, 200);
    assert_eq!(read, media);
    server.stop().await;
}

#[tokio::test]
async fn removing_an_organisation_deletes_its_rows() {
    let server = server().await;
    let tenant = unique_tenant();
    let (status, _) = call(
        &server,
        reqwest::Method::PUT,
        "/admin/offices/office",
        Some(TOKEN),
        Some(json!({ "tenant_id": tenant })),
    )
    .await;
    assert_eq!(status, 200);
    let media = format!("/admin/organisations/{tenant}/users/o1/media");
    let (status, _) = call(
        &server,
        reqwest::Method::PUT,
        &media,
        Some(TOKEN),
        Some(json!({ "camera_on": true })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/admin/organisations/{tenant}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["removed"], true);
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        "/admin/offices/office",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(&server, reqwest::Method::GET, &media, Some(TOKEN), None).await;
    assert_eq!(status, 404);
    // The dev-login client of no organisation stays connected.
    let (mut bob, _) = server.join("Bob").await;
    let (status, body) = call(
        &server,
        reqwest::Method::DELETE,
        &format!("/admin/organisations/{tenant}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["removed"], false);
    assert_eq!(body["disconnected"], 0);
    bob.ping(1).await.expect("ping");
    assert!(matches!(next(&mut bob).await, Incoming::Message(_)));
    server.stop().await;
}
