//! What the fake remembers: issued tokens, meetings, every call, the faults
//! and limits tests set.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::control::{Fault, Limit, LimitScope, ScheduledFault, Times};
use crate::{FakeOptions, TimeSource};

/// The endpoints the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST {login}/{tenant}/oauth2/v2.0/token`.
    Token,
    /// `POST /v1.0/users/{id}/onlineMeetings/createOrGet` or `/v1.0/me/…`.
    CreateOrGet,
    /// `POST /teamsUser/:exchangeAccessToken`.
    AcsExchange,
    /// `GET /v1.0/teams/{id}/members`.
    TeamMembers,
    /// `POST /v1.0/communications/getPresencesByUserId`.
    GetPresences,
    /// `POST /v1.0/users/{id}/presence/setPresence`.
    SetPresence,
    /// `POST /v1.0/users/{id}/presence/clearPresence`.
    ClearPresence,
    /// `POST /v1.0/users/{id}/teamwork/sendActivityNotification`.
    SendActivityNotification,
    /// Anything else, and connections dropped while down (no request read).
    Unknown,
}

impl Endpoint {
    /// Whether this is a Microsoft Graph call (counted in Graph's budgets).
    pub fn is_graph(self) -> bool {
        matches!(
            self,
            Endpoint::CreateOrGet
                | Endpoint::TeamMembers
                | Endpoint::GetPresences
                | Endpoint::SetPresence
                | Endpoint::ClearPresence
                | Endpoint::SendActivityNotification
        )
    }
}

/// One call that reached the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The HTTP method.
    pub method: String,
    /// The path and query as received.
    pub path: String,
    /// The tenant: from the path for the token endpoint, from the bearer
    /// token for Graph; `None` where there is none.
    pub tenant: Option<String>,
    /// When it arrived, on the fake's [`TimeSource`].
    pub at: Duration,
    /// The status answered; 0 when the connection was cut off instead.
    pub status: u16,
    /// The JSON body received, for the endpoints whose bodies tests read
    /// (presence and activity notifications, ACS exchanges; the token
    /// endpoint's form as a JSON object of strings, without
    /// `client_secret`); `None` elsewhere.
    pub body: Option<serde_json::Value>,
}

/// A meeting the fake created.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMeeting {
    /// The organizer's tenant.
    pub tenant: String,
    /// The organizer's object id.
    pub organizer: String,
    /// The `externalId` it was created with.
    pub external_id: String,
    /// The onlineMeeting resource as Graph returns it.
    pub resource: serde_json::Value,
}

/// An access token the fake issued.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub tenant: String,
    pub client_id: String,
    /// The signed-in user for delegated tokens; `None` for app-only tokens.
    pub user: Option<String>,
    /// The audience (`aud`): the application itself for a token a client
    /// signed in to it with, else the resource of the scope asked for
    /// (`https://graph.microsoft.com`, `https://auth.msft.net`).
    pub audience: String,
    /// The scopes granted (`scp`, full names such as
    /// `https://auth.msft.net/Teams.ManageCalls`); empty when not asked for.
    pub scopes: Vec<String>,
    pub expires_at: Duration,
}

/// What the fake decided when a call arrived.
#[derive(Debug)]
pub(crate) struct Arrival {
    /// Index of the call in the record.
    pub index: usize,
    /// The fault to act out, if any.
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct Inner {
    tokens: HashMap<String, IssuedToken>,
    /// Users (object ids) who did not consent to the ACS scopes.
    no_consent: HashSet<String>,
    meetings: Vec<FakeMeeting>,
    meeting_index: HashMap<(String, String, String), usize>,
    calls: Vec<RecordedCall>,
    faults: HashMap<Endpoint, VecDeque<ScheduledFault>>,
    limits: Vec<Limit>,
    serial: u64,
    teams: HashMap<String, Vec<String>>,
    presence: HashMap<String, FakePresence>,
    sessions: HashMap<(String, String), PresenceSession>,
}

/// A user's presence as a test set it: (availability, activity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakePresence {
    pub availability: String,
    pub activity: String,
}

/// An application's presence session for a user (`setPresence`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceSession {
    /// The user's object id.
    pub user: String,
    /// The session id (the application's id).
    pub session_id: String,
    /// The availability set.
    pub availability: String,
    /// The activity set.
    pub activity: String,
    /// The expiration duration asked for.
    pub expiration: Duration,
    /// When it lapses, on the fake's clock.
    pub expires_at: Duration,
}

pub(crate) struct FakeState {
    pub options: FakeOptions,
    time: TimeSource,
    started_wall: SystemTime,
    /// `http://127.0.0.1:port`.
    pub base_url: String,
    down: AtomicBool,
    inner: Mutex<Inner>,
    random: RandomState,
}

impl FakeState {
    pub fn new(
        options: FakeOptions,
        time: TimeSource,
        started_wall: SystemTime,
        base_url: String,
    ) -> FakeState {
        FakeState {
            options,
            time,
            started_wall,
            base_url,
            down: AtomicBool::new(false),
            inner: Mutex::new(Inner::default()),
            random: RandomState::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the members (object ids) of `team`.
    pub fn set_team_members(&self, team: &str, members: Vec<String>) {
        self.lock().teams.insert(team.to_owned(), members);
    }

    /// The members of `team`, if it exists.
    pub fn team_members(&self, team: &str) -> Option<Vec<String>> {
        self.lock().teams.get(team).cloned()
    }

    /// Sets what `oid`'s presence reads give (before app sessions).
    pub fn set_presence(&self, oid: &str, availability: &str, activity: &str) {
        self.lock().presence.insert(
            oid.to_owned(),
            FakePresence {
                availability: availability.to_owned(),
                activity: activity.to_owned(),
            },
        );
    }

    /// Forgets `oid`'s presence: reads omit it, as for a user who left.
    pub fn forget_presence(&self, oid: &str) {
        self.lock().presence.remove(oid);
    }

    /// What a read of `oid` gives now: the user's own presence, unless a
    /// live application session ranks higher (DoNotDisturb > Busy >
    /// Available > Away); `None` for a user the fake does not know.
    pub fn read_presence(&self, oid: &str) -> Option<FakePresence> {
        let now = self.now();
        let inner = self.lock();
        let mut shown = inner.presence.get(oid).cloned();
        for session in inner
            .sessions
            .values()
            .filter(|s| s.user == oid && s.expires_at > now)
        {
            let beats = shown
                .as_ref()
                .is_none_or(|p| rank(&session.availability) > rank(&p.availability));
            if beats {
                shown = Some(FakePresence {
                    availability: session.availability.clone(),
                    activity: session.activity.clone(),
                });
            }
        }
        shown
    }

    /// Sets (or renews) an application presence session.
    pub fn set_session(&self, session: PresenceSession) {
        let key = (session.user.clone(), session.session_id.clone());
        self.lock().sessions.insert(key, session);
    }

    /// Ends an application presence session; `false` if there was none
    /// (or it had lapsed).
    pub fn clear_session(&self, user: &str, session_id: &str) -> bool {
        let now = self.now();
        self.lock()
            .sessions
            .remove(&(user.to_owned(), session_id.to_owned()))
            .is_some_and(|s| s.expires_at > now)
    }

    /// Live application presence sessions.
    pub fn sessions(&self) -> Vec<PresenceSession> {
        let now = self.now();
        let mut sessions: Vec<_> = self
            .lock()
            .sessions
            .values()
            .filter(|s| s.expires_at > now)
            .cloned()
            .collect();
        sessions.sort_by(|a, b| a.user.cmp(&b.user));
        sessions
    }

    /// Keeps `body` with the recorded call `index`.
    pub fn record_body(&self, index: usize, body: serde_json::Value) {
        if let Some(call) = self.lock().calls.get_mut(index) {
            call.body = Some(body);
        }
    }

    /// The time on the test's clock.
    pub fn now(&self) -> Duration {
        (self.time)()
    }

    /// Wall-clock time as the fake sees it: its start plus the test's clock.
    pub fn wall(&self) -> SystemTime {
        self.started_wall + self.now()
    }

    /// A fresh number for ids.
    pub fn serial(&self) -> u64 {
        let mut inner = self.lock();
        inner.serial += 1;
        inner.serial
    }

    /// 64 unpredictable bits, for token values.
    pub fn random_u64(&self, salt: u64) -> u64 {
        let mut h = self.random.build_hasher();
        h.write_u64(salt);
        h.finish()
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Records a call and decides whether it meets a fault or a limit.
    pub fn arrive(
        &self,
        endpoint: Endpoint,
        method: &str,
        path: &str,
        tenant: Option<String>,
    ) -> Arrival {
        let now = self.now();
        let down = self.is_down();
        let mut inner = self.lock();
        let index = inner.calls.len();
        inner.calls.push(RecordedCall {
            endpoint,
            method: method.to_owned(),
            path: path.to_owned(),
            tenant: tenant.clone(),
            at: now,
            status: 0,
            body: None,
        });
        if down {
            return Arrival {
                index,
                fault: Some(Fault::Disconnect),
            };
        }
        let mut fault = None;
        if let Some(queue) = inner.faults.get_mut(&endpoint) {
            while let Some(front) = queue.front_mut() {
                if let Some(f) = front.take() {
                    fault = Some(f);
                    break;
                }
                queue.pop_front();
            }
        }
        if fault.is_none() {
            fault = over_limit(&inner, endpoint, tenant.as_deref(), now)
                .map(|retry_after_secs| Fault::Throttle { retry_after_secs });
        }
        Arrival { index, fault }
    }

    /// Sets the status a recorded call was answered with.
    pub fn finish(&self, index: usize, status: u16) {
        if let Some(call) = self.lock().calls.get_mut(index) {
            call.status = status;
        }
    }

    /// Records a connection dropped before any request was read.
    pub fn record_dropped_connection(&self) {
        let at = self.now();
        self.lock().calls.push(RecordedCall {
            endpoint: Endpoint::Unknown,
            method: String::new(),
            path: String::new(),
            tenant: None,
            at,
            status: 0,
            body: None,
        });
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        self.lock().calls.clone()
    }

    pub fn add_fault(&self, endpoint: Endpoint, fault: Fault, times: Times) {
        self.lock()
            .faults
            .entry(endpoint)
            .or_default()
            .push_back(ScheduledFault { fault, times });
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub fn add_limit(&self, limit: Limit) {
        self.lock().limits.push(limit);
    }

    pub fn clear_limits(&self) {
        self.lock().limits.clear();
    }

    /// Issues an access token for `client_id` itself (as a client signed in
    /// to it holds), valid for the configured lifetime.
    pub fn issue_token(&self, tenant: &str, client_id: &str, user: Option<&str>) -> String {
        self.issue_token_for(tenant, client_id, user, client_id, Vec::new())
    }

    /// Issues an access token to `client_id` for `audience` with `scopes`.
    pub fn issue_token_for(
        &self,
        tenant: &str,
        client_id: &str,
        user: Option<&str>,
        audience: &str,
        scopes: Vec<String>,
    ) -> String {
        let serial = self.serial();
        let value = format!("fake-aad-{serial:06}-{:016x}", self.random_u64(serial));
        let expires_at = self.now() + self.options.token_lifetime;
        self.lock().tokens.insert(
            value.clone(),
            IssuedToken {
                tenant: tenant.to_owned(),
                client_id: client_id.to_owned(),
                user: user.map(str::to_owned),
                audience: audience.to_owned(),
                scopes,
                expires_at,
            },
        );
        value
    }

    /// Makes `oid` refuse consent to the ACS scopes (or consent again).
    pub fn set_acs_consent(&self, oid: &str, consented: bool) {
        let mut inner = self.lock();
        if consented {
            inner.no_consent.remove(oid);
        } else {
            inner.no_consent.insert(oid.to_owned());
        }
    }

    /// Whether `oid` consented to the ACS scopes (everyone, unless a test
    /// said otherwise).
    pub fn acs_consented(&self, oid: &str) -> bool {
        !self.lock().no_consent.contains(oid)
    }

    /// The token, if the fake issued it and it has not expired.
    pub fn valid_token(&self, value: &str) -> Option<IssuedToken> {
        let now = self.now();
        let inner = self.lock();
        inner
            .tokens
            .get(value)
            .filter(|t| t.expires_at > now)
            .cloned()
    }

    /// The token's tenant, valid or not (for recording).
    pub fn token_tenant(&self, value: &str) -> Option<String> {
        self.lock().tokens.get(value).map(|t| t.tenant.clone())
    }

    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// The meeting for (tenant, organizer, externalId), creating it with
    /// `make` the first time; `true` when it was created now.
    pub fn create_or_get(
        &self,
        tenant: &str,
        organizer: &str,
        external_id: &str,
        make: impl FnOnce(u64) -> serde_json::Value,
    ) -> (serde_json::Value, bool) {
        let key = (
            tenant.to_owned(),
            organizer.to_owned(),
            external_id.to_owned(),
        );
        let mut inner = self.lock();
        if let Some(&i) = inner.meeting_index.get(&key) {
            return (inner.meetings[i].resource.clone(), false);
        }
        inner.serial += 1;
        let resource = make(inner.serial);
        let index = inner.meetings.len();
        inner.meetings.push(FakeMeeting {
            tenant: key.0.clone(),
            organizer: key.1.clone(),
            external_id: key.2.clone(),
            resource: resource.clone(),
        });
        inner.meeting_index.insert(key, index);
        (resource, true)
    }

    pub fn meetings(&self) -> Vec<FakeMeeting> {
        self.lock().meetings.clone()
    }
}

/// If a limit is exceeded by the call just recorded at `now`, the seconds
/// until its window frees up.
fn over_limit(
    inner: &Inner,
    endpoint: Endpoint,
    tenant: Option<&str>,
    now: Duration,
) -> Option<u64> {
    let mut worst: Option<u64> = None;
    for limit in inner.limits.iter().filter(|l| l.counts(endpoint)) {
        let in_window: Vec<Duration> = inner
            .calls
            .iter()
            .filter(|c| limit.counts(c.endpoint) && c.at + limit.window > now && c.at <= now)
            .filter(|c| limit.scope == LimitScope::Global || c.tenant.as_deref() == tenant)
            .map(|c| c.at)
            .collect();
        if in_window.len() > limit.max as usize {
            let oldest = in_window.iter().min().copied().unwrap_or(now);
            let frees = (oldest + limit.window).saturating_sub(now);
            let secs = frees.as_secs() + u64::from(frees.subsec_nanos() > 0);
            worst = Some(worst.unwrap_or(0).max(secs.max(1)));
        }
    }
    worst
}

/// How presence sessions aggregate: the higher wins.
fn rank(availability: &str) -> u8 {
    match availability {
        "DoNotDisturb" => 4,
        "Busy" => 3,
        "Available" => 2,
        "Away" | "BeRightBack" => 1,
        _ => 0,
    }
}
