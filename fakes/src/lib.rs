//! A faithful fake of the Microsoft endpoints the MetaOffice server calls, for
//! tests only: one axum server on `127.0.0.1:0` that answers in the shapes
//! Microsoft documents.
//!
//! | endpoint | path (as Microsoft serves it) | module |
//! |---|---|---|
//! | identity platform token endpoint (client credentials, on-behalf-of) | `POST {login}/{tenant}/oauth2/v2.0/token` | `token` |
//! | Graph `onlineMeetings/createOrGet` | `POST {graph}/users/{id}/onlineMeetings/createOrGet`, `POST {graph}/me/onlineMeetings/createOrGet` | `graph` |
//! | ACS identity: Teams user token exchange | `POST {acs}/teamsUser/:exchangeAccessToken?api-version=…` | `acs` |
//! | Graph: members of a team (`$filter` on `userId` honoured) | `GET {graph}/teams/{id}/members` | `teams` |
//! | Graph presence: read many, set and clear an app session; activity-feed notifications | `POST {graph}/communications/getPresencesByUserId`, `POST {graph}/users/{id}/presence/setPresence`, `…/clearPresence`, `POST {graph}/users/{id}/teamwork/sendActivityNotification` | `presence` |
//! | OpenID configuration and signing keys (JWKS) | `GET {login}/{tenant}/v2.0/.well-known/openid-configuration`, `GET {login}/{tenant}/discovery/v2.0/keys` | `openid` |
//!
//! All three live on one listener: [`FakeMicrosoft::login_url`] and
//! [`FakeMicrosoft::acs_endpoint`] are its root, [`FakeMicrosoft::graph_url`]
//! is its root plus `/v1.0`.
//!
//! Everything that reaches the fake is recorded ([`RecordedCall`]: endpoint,
//! method, path, tenant, time, status) so that tests can check rates. Time
//! comes from a [`TimeSource`] the test gives (a closure returning the time
//! elapsed on the test's clock), so that the fake and the server under test
//! agree on "when" even when the server runs on a manual clock.
//!
//! Tests steer it: [`FakeMicrosoft::fault`] makes an endpoint answer `429` with
//! `Retry-After`, `5xx`, a malformed body, a slow answer or a dropped
//! connection for the next N calls or until [`FakeMicrosoft::clear_faults`];
//! [`FakeMicrosoft::set_down`] drops every connection; [`FakeMicrosoft::enforce`]
//! makes it throttle by itself, like Graph, when more than N calls arrive in a
//! window (per tenant or across all), so a test can prove the server never
//! trips a budget.

mod acs;
mod answer;
mod control;
mod graph;
mod listen;
mod openid;
mod presence;
mod state;
mod teams;
mod token;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::routing::post;
use tokio::task::JoinHandle;

pub use control::{Fault, Limit, LimitScope, MalformedBody, Times};
pub use presence::MAX_PRESENCE_IDS;
pub use state::{Endpoint, FakeMeeting, PresenceSession, RecordedCall};

use state::FakeState;

/// The time on the test's clock: how long since the test's origin. The fake
/// stamps every call with it and measures windows, token lifetimes and
/// `Retry-After` with it.
pub type TimeSource = Arc<dyn Fn() -> Duration + Send + Sync>;

/// An application registered with the fake identity platform.
#[derive(Clone)]
pub struct FakeApp {
    /// The application (client) id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
}

/// How the fake is set up.
#[derive(Clone)]
pub struct FakeOptions {
    /// Applications that may get tokens.
    pub apps: Vec<FakeApp>,
    /// The ACS resource's access key, base64 as the Azure portal shows it.
    pub acs_access_key: String,
    /// Lifetime of the access tokens it issues.
    pub token_lifetime: Duration,
    /// The clock calls are stamped with; `None`: real time since start.
    pub time: Option<TimeSource>,
}

/// The client id of [`FakeOptions::default`]'s application.
pub const DEFAULT_CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
/// The client secret of [`FakeOptions::default`]'s application.
pub const DEFAULT_CLIENT_SECRET: &str = "fake-client-secret-do-not-log";
/// The resource (audience) of Entra tokens ACS exchanges for Teams users.
pub const ACS_RESOURCE: &str = "https://auth.msft.net";
/// The delegated scopes a Teams user's Entra token needs for ACS's exchange.
pub const ACS_TEAMS_SCOPES: [&str; 2] = [
    "https://auth.msft.net/Teams.ManageCalls",
    "https://auth.msft.net/Teams.ManageChats",
];
/// The ACS access key of [`FakeOptions::default`] (base64 of 32 bytes).
pub const DEFAULT_ACS_KEY: &str = "bWV0YW9mZmljZS1mYWtlLWFjcy1hY2Nlc3Mta2V5ISE=";

impl Default for FakeOptions {
    fn default() -> FakeOptions {
        FakeOptions {
            apps: vec![FakeApp {
                client_id: DEFAULT_CLIENT_ID.to_owned(),
                client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            }],
            acs_access_key: DEFAULT_ACS_KEY.to_owned(),
            token_lifetime: Duration::from_secs(3599),
            time: None,
        }
    }
}

/// A running fake. Dropping it stops the server.
pub struct FakeMicrosoft {
    addr: SocketAddr,
    state: Arc<FakeState>,
    openid: Arc<openid::OpenId>,
    task: JoinHandle<()>,
}

impl FakeMicrosoft {
    /// Starts the fake on `127.0.0.1:0`.
    pub async fn start(options: FakeOptions) -> FakeMicrosoft {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the fake binds 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let time = options.time.clone().unwrap_or_else(|| {
            let start = Instant::now();
            Arc::new(move || start.elapsed())
        });
        let state = Arc::new(FakeState::new(
            options,
            time,
            SystemTime::now(),
            format!("http://{addr}"),
        ));
        let openid = openid::OpenId::new(format!("http://{addr}"));
        // The ACS path has a segment starting with ':', literally.
        let app = Router::new()
            .without_v07_checks()
            .route("/{tenant}/oauth2/v2.0/token", post(token::token))
            .route(
                "/v1.0/users/{user}/onlineMeetings/createOrGet",
                post(graph::create_or_get_for_user),
            )
            .route(
                "/v1.0/me/onlineMeetings/createOrGet",
                post(graph::create_or_get_for_me),
            )
            .route("/teamsUser/:exchangeAccessToken", post(acs::exchange))
            .route(
                "/v1.0/teams/{team}/members",
                axum::routing::get(teams::members),
            )
            .route(
                "/v1.0/communications/getPresencesByUserId",
                post(presence::get_presences),
            )
            .route(
                "/v1.0/users/{user}/presence/setPresence",
                post(presence::set_presence),
            )
            .route(
                "/v1.0/users/{user}/presence/clearPresence",
                post(presence::clear_presence),
            )
            .route(
                "/v1.0/users/{user}/teamwork/sendActivityNotification",
                post(presence::send_activity_notification),
            )
            .fallback(graph::not_found)
            .with_state(state.clone())
            .merge(openid::router(openid.clone()));
        let listener = listen::DroppingListener::new(listener, state.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(cause = %e, "fake Microsoft stopped");
            }
        });
        FakeMicrosoft {
            addr,
            state,
            openid,
            task,
        }
    }

    /// Makes `team` exist with `members` (object ids).
    pub fn set_team_members(&self, team: &str, members: &[&str]) {
        self.state
            .set_team_members(team, members.iter().map(|m| (*m).to_owned()).collect());
    }

    /// Sets `oid`'s presence as Teams shows it (`"Available"`,
    /// `"Available"`); `"PresenceUnknown"` is answered as such. Ids never set
    /// are left out of presence answers.
    pub fn set_presence(&self, oid: &str, availability: &str, activity: &str) {
        self.state.set_presence(oid, availability, activity);
    }

    /// Forgets `oid`'s presence, as for a user who left the tenant.
    pub fn forget_presence(&self, oid: &str) {
        self.state.forget_presence(oid);
    }

    /// The application presence sessions alive now (`setPresence`), by user.
    pub fn presence_sessions(&self) -> Vec<PresenceSession> {
        self.state.sessions()
    }

    /// Publishes `jwks` (`{"keys": [...]}`) as every tenant's signing keys.
    pub fn set_jwks(&self, jwks: serde_json::Value) {
        self.openid.set_jwks(jwks);
    }

    /// How many times the signing keys were fetched.
    pub fn jwks_fetches(&self) -> u64 {
        self.openid.fetches()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The identity platform's base (`[graph] login_url`).
    pub fn login_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graph's base including the version (`[graph] base_url`).
    pub fn graph_url(&self) -> String {
        format!("http://{}/v1.0", self.addr)
    }

    /// The ACS resource endpoint (`[acs] endpoint`).
    pub fn acs_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state.calls()
    }

    /// The calls to one endpoint, in arrival order.
    pub fn calls_to(&self, endpoint: Endpoint) -> Vec<RecordedCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.endpoint == endpoint)
            .collect()
    }

    /// The meetings it holds, in creation order.
    pub fn meetings(&self) -> Vec<FakeMeeting> {
        self.state.meetings()
    }

    /// Makes `endpoint` misbehave `times`; faults queue up and are used in
    /// the order given.
    pub fn fault(&self, endpoint: Endpoint, fault: Fault, times: Times) {
        self.state.add_fault(endpoint, fault, times);
    }

    /// Removes every fault not yet used up.
    pub fn clear_faults(&self) {
        self.state.clear_faults();
    }

    /// While down, new connections are accepted and closed at once and
    /// requests on open connections are cut off before an answer.
    pub fn set_down(&self, down: bool) {
        self.state.set_down(down);
    }

    /// Throttles like Graph: more than `limit.max` calls within
    /// `limit.window` get `429` with `Retry-After`.
    pub fn enforce(&self, limit: Limit) {
        self.state.add_limit(limit);
    }

    /// Removes every enforced limit.
    pub fn clear_limits(&self) {
        self.state.clear_limits();
    }

    /// Issues a delegated (user) access token, as a Teams client would hold
    /// after signing in `oid` of `tenant` to application `client_id`.
    pub fn user_token(&self, tenant: &str, oid: &str, client_id: &str) -> String {
        self.state.issue_token(tenant, client_id, Some(oid))
    }

    /// Makes `oid` withhold consent to the ACS scopes: on-behalf-of requests
    /// for them answer `invalid_grant`, `suberror: consent_required`.
    pub fn withhold_acs_consent(&self, oid: &str) {
        self.state.set_acs_consent(oid, false);
    }

    /// Forgets every token issued so far (as if they were revoked).
    pub fn revoke_tokens(&self) {
        self.state.revoke_tokens();
    }

    /// The time on the fake's clock now.
    pub fn now(&self) -> Duration {
        self.state.now()
    }
}

impl Drop for FakeMicrosoft {
    fn drop(&mut self) {
        self.task.abort();
    }
}
