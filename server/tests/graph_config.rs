//! `[graph]`, `[acs]` and `[meetings]`: read from TOML, validated with the
//! bad key named, and secrets never shown: not by `Debug`, not in logs.

mod cloud;

use std::io::Write;
use std::sync::{Arc, Mutex};

use cloud::{Cloud, desk, group, outcomes};
use metaoffice_fakes::{
    DEFAULT_ACS_KEY, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Endpoint, Fault, Times,
};
use metaoffice_server::Config;
use metaoffice_server::config::ConfigError;
use metaoffice_server::graph::Secret;
use metaoffice_server::meetings::{
    MeetingKey, MeetingKind, MeetingRequest, Member, ProviderChoice, ProviderKind, Providers,
};

fn invalid_key(config: &Config) -> &'static str {
    match config.validate() {
        Err(ConfigError::Invalid { key, .. }) => key,
        other => panic!("expected an invalid key, got {other:?}"),
    }
}

#[test]
fn graph_acs_and_meetings_are_read_from_toml_and_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("metaoffice.toml");
    std::fs::write(
        &file,
        r#"
[graph]
base_url = "http://127.0.0.1:9/v1.0"
client_id = "app"
client_secret = "toml-secret-value"
room_organizer = "organizer-oid"
[graph.budgets]
all_calls_per_second = 100
[graph.retry]
max_attempts = 3
[acs]
endpoint = "https://example.communication.azure.com"
access_key = "c2VjcmV0LWtleQ=="
[meetings]
provider = "graph"
max_in_flight = 8
[meetings.offices]
lobby = "local"
"#,
    )
    .expect("write");
    let config = Config::load(Some(&file)).expect("loads");
    config.validate().expect("valid");
    assert_eq!(
        config.graph.client_secret.as_ref().map(Secret::expose),
        Some("toml-secret-value")
    );
    assert_eq!(config.graph.login_url, "https://login.microsoftonline.com");
    assert_eq!(config.graph.budgets.all_calls_per_second, 100);
    assert_eq!(config.graph.budgets.meetings_per_user_per_month, 2000);
    assert_eq!(config.graph.retry.max_attempts, 3);
    assert_eq!(config.meetings.provider, ProviderChoice::Graph);
    assert_eq!(config.meetings.offices["lobby"], ProviderChoice::Local);
    for shown in [format!("{config:?}"), format!("{config:#?}")] {
        assert!(
            !shown.contains("toml-secret-value"),
            "client secret in Debug"
        );
        assert!(!shown.contains("c2VjcmV0LWtleQ=="), "access key in Debug");
        assert!(shown.contains("<redacted>"));
    }

    std::fs::write(&file, "[graph]\nclient_sekret = \"x\"\n").expect("write");
    let unknown = Config::load(Some(&file)).expect_err("unknown key");
    assert!(unknown.to_string().contains("client_sekret"), "{unknown}");
}

#[test]
fn invalid_settings_name_their_key() {
    let mut c = Config::default();
    c.graph.base_url = "not a url".into();
    assert_eq!(invalid_key(&c), "graph.base_url");
    let mut c = Config::default();
    c.graph.client_id = Some("app".into());
    assert_eq!(invalid_key(&c), "graph.client_secret");
    let mut c = Config::default();
    c.meetings.provider = ProviderChoice::Graph;
    assert_eq!(invalid_key(&c), "meetings.provider");
    let mut c = Config::default();
    c.meetings.offices.insert("x".into(), ProviderChoice::Acs);
    assert_eq!(invalid_key(&c), "meetings.offices");
    let mut c = Config::default();
    c.acs.endpoint = Some("https://x.communication.azure.com".into());
    c.acs.access_key = Some(Secret::new("%%%"));
    assert_eq!(invalid_key(&c), "acs.access_key");
    let mut c = Config::default();
    c.graph.budgets.presence_users = 0;
    assert_eq!(invalid_key(&c), "graph.budgets.presence_users");
    let mut c = Config::default();
    c.meetings.queue = 0;
    assert_eq!(invalid_key(&c), "meetings.queue");
    // The default chooses local, and says so.
    let c = Config::default();
    assert_eq!(
        c.meetings.provider.resolve(&c.graph, &c.acs),
        ProviderKind::Local
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
async fn secrets_and_tokens_never_reach_the_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let cloud = Cloud::start().await;
    let mut config = cloud.config();
    config.meetings.provider = ProviderChoice::Graph;
    config
        .meetings
        .offices
        .insert("acs-office".into(), ProviderChoice::Acs);
    config.graph.retry.max_attempts = 2;
    tracing::debug!(?config, "configuration");
    let providers = Providers::from_config(&config, cloud.clock.shared()).expect("providers");
    let (desk, mut rx, _stop) = desk(&config, providers);
    // A throttled call, a failing one, and a good one; then an ACS exchange.
    cloud.fake.fault(
        Endpoint::CreateOrGet,
        Fault::Throttle {
            retry_after_secs: 1,
        },
        Times::Next(1),
    );
    cloud
        .fake
        .fault(Endpoint::CreateOrGet, Fault::Status(500), Times::Next(2));
    desk.request(group(
        MeetingKey::group("demo", 1),
        "t1",
        &[("t1", "a"), ("t1", "b")],
    ))
    .expect("queued");
    desk.request(group(
        MeetingKey::group("demo", 2),
        "t1",
        &[("t1", "c"), ("t1", "d")],
    ))
    .expect("queued");
    let aad = cloud.fake.user_token("t1", "alice", DEFAULT_CLIENT_ID);
    let mut alice = Member::new("t1", "alice");
    alice.teams_token = Some(Secret::new(aad.clone()));
    desk.request(MeetingRequest {
        key: MeetingKey::group("acs-office", 3),
        office: "acs-office".into(),
        tenant: "t1".into(),
        kind: MeetingKind::Group {
            members: vec![alice],
        },
        subject: None,
    })
    .expect("queued");
    let got = outcomes(&cloud.clock, &mut rx, 3).await;
    tracing::debug!(?got, "outcomes");
    let acs_token = got
        .iter()
        .find_map(|o| {
            o.result
                .as_ref()
                .ok()?
                .acs
                .as_ref()?
                .tokens
                .first()
                .cloned()
        })
        .expect("an ACS token was handed out");
    drop(_guard);

    let text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
    assert!(text.contains("throttled"), "the capture works: {text}");
    assert!(text.contains("call failed: retrying"), "{text}");
    for secret in [
        DEFAULT_CLIENT_SECRET,
        DEFAULT_ACS_KEY,
        aad.as_str(),
        acs_token.token.expose(),
        "fake-aad-",
        "fake-acs-",
    ] {
        assert!(!text.contains(secret), "{secret} appears in the logs");
    }
}
