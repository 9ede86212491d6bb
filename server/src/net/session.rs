//! Who is in which office right now: one entry per joined connection, so the
//! admin API can list people and disconnect an organisation's sessions.
//! Presence like this is held in memory only, never stored.

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use metaoffice_protocol::ErrorCode;
use serde::Serialize;

use crate::office::outbox::Outbox;

/// One joined connection.
#[derive(Debug, Clone)]
pub struct Session {
    /// The office it is in.
    pub office: String,
    /// Its avatar there.
    pub avatar: u32,
    /// The name others see.
    pub name: String,
    /// `(tenant, object id)` for a Teams sign-in; `None` for the dev login.
    pub user: Option<(String, String)>,
    /// The client's outbox, to disconnect it.
    pub outbox: Outbox,
}

/// A session as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Present {
    /// The name others see.
    pub name: String,
    /// The tenant, for a Teams sign-in.
    pub tenant_id: Option<String>,
    /// The user's object id, for a Teams sign-in.
    pub object_id: Option<String>,
}

/// Every joined connection.
#[derive(Debug, Default)]
pub struct Sessions {
    next: AtomicU64,
    live: DashMap<u64, Session>,
}

impl Sessions {
    /// Registers `session`; its key is for [`Sessions::end`].
    pub fn begin(&self, session: Session) -> u64 {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        self.live.insert(key, session);
        key
    }

    /// Removes a session; `false` if it had been removed already (its
    /// organisation was removed: nothing of it may be written any more).
    pub fn end(&self, key: u64) -> bool {
        self.live.remove(&key).is_some()
    }

    /// Whether the session is still registered.
    pub fn is_live(&self, key: u64) -> bool {
        self.live.contains_key(&key)
    }

    /// Who is in `office`.
    pub fn in_office(&self, office: &str) -> Vec<Present> {
        let mut people: Vec<Present> = self
            .live
            .iter()
            .filter(|s| s.office == office)
            .map(|s| Present {
                name: s.name.clone(),
                tenant_id: s.user.as_ref().map(|u| u.0.clone()),
                object_id: s.user.as_ref().map(|u| u.1.clone()),
            })
            .collect();
        people.sort_by(|a, b| a.name.cmp(&b.name));
        people
    }

    /// The session of avatar `avatar` in `office`.
    pub fn of_avatar(&self, office: &str, avatar: u32) -> Option<Session> {
        self.live
            .iter()
            .find(|s| s.avatar == avatar && s.office == office)
            .map(|s| s.value().clone())
    }

    /// The sessions of user `oid` of `tenant`, in any office.
    pub fn of_user(&self, tenant: &str, oid: &str) -> Vec<Session> {
        self.live
            .iter()
            .filter(|s| s.user.as_ref().is_some_and(|u| u.0 == tenant && u.1 == oid))
            .map(|s| s.value().clone())
            .collect()
    }

    /// Disconnects every session of `tenant`; returns how many there were.
    pub fn disconnect_tenant(&self, tenant: &str) -> usize {
        let keys: Vec<u64> = self
            .live
            .iter()
            .filter(|s| s.user.as_ref().is_some_and(|u| u.0 == tenant))
            .map(|s| *s.key())
            .collect();
        let mut count = 0;
        for key in keys {
            if let Some((_, session)) = self.live.remove(&key) {
                session
                    .outbox
                    .fail(ErrorCode::LoginRefused, "your organisation was removed");
                count += 1;
            }
        }
        count
    }
}
