//! Finding and reaching colleagues from a connection: knocks (in the office
//! and as a Teams activity-feed notification through the presence hub),
//! the list of people in the office, where a colleague is, and walks to
//! a colleague (done by the office).

use std::time::Duration;

use bytes::Bytes;
use metaoffice_protocol::{
    ErrorCode, Knock, KnockSent, Knocked, Located, People, ServerMessage, feed,
};
use tokio::sync::oneshot;

use super::connection::{Connection, Seat};
use super::session::Session;
use crate::meetings::UserRef;
use crate::office::network::OfficeCommand;
use crate::office::people::dev_user;
use crate::presence::{FeedStatus, KnockError};

/// How long a list of people or a user lookup may take.
const ASK_WAIT: Duration = Duration::from_secs(5);

/// Longest object id accepted in `Knock` and `Locate`.
const MAX_USER_CHARS: usize = 64;

fn frame(message: ServerMessage) -> Bytes {
    Bytes::from(message.encode())
}

fn user_of(session: &Session) -> Option<UserRef> {
    session.user.as_ref().map(|(tenant, oid)| UserRef {
        tenant: tenant.clone(),
        oid: oid.clone(),
    })
}

impl Seat {
    /// The Teams user of this seat, if any.
    fn teams_user(&self) -> Option<UserRef> {
        self.user.as_ref().map(|u| UserRef {
            tenant: u.tenant_id.clone(),
            oid: u.object_id.clone(),
        })
    }
}

impl Connection {
    /// The stored display name of `user`; `None`, with the error sent to
    /// the client, when nobody has that id in the organisation or the
    /// database cannot say now.
    async fn known_name(&self, user: &UserRef) -> Option<String> {
        let read = self.ctx.store.user(&user.tenant, &user.oid);
        let message = match tokio::time::timeout(ASK_WAIT, read).await {
            Ok(Ok(Some(found))) => return Some(found.display_name),
            Ok(Ok(None)) => "nobody with that id is known in your organisation",
            Ok(Err(e)) => {
                tracing::warn!(cause = %e, "user lookup failed");
                "that user cannot be looked up now; try again"
            }
            Err(_) => "that user cannot be looked up now; try again",
        };
        self.error(ErrorCode::UnknownUser, message);
        None
    }

    fn valid_user_id(&self, oid: &str) -> bool {
        let ok = !oid.is_empty()
            && oid.chars().count() <= MAX_USER_CHARS
            && !oid.chars().any(char::is_control);
        if !ok {
            self.error(
                ErrorCode::UnknownUser,
                "a user id has 1 to 64 characters and no control characters",
            );
        }
        ok
    }

    /// `Knock`: tells the colleague in their office(s) and, within limits,
    /// in Teams.
    pub(super) async fn knock(&self, seat: &Seat, knock: Knock) {
        let office = seat.office.id.as_str();
        let me_teams = seat.teams_user();
        let me = me_teams
            .clone()
            .unwrap_or_else(|| dev_user(office, seat.joined.id));
        let (to, targets) = match (knock.avatar, knock.user.as_deref()) {
            (Some(avatar), None) => {
                let Some(session) = self.ctx.sessions.of_avatar(office, avatar) else {
                    self.error(
                        ErrorCode::UnknownUser,
                        "nobody in this office has that avatar",
                    );
                    return;
                };
                match user_of(&session) {
                    // A Teams user hears the knock wherever they are connected.
                    Some(user) => {
                        let all = self.ctx.sessions.of_user(&user.tenant, &user.oid);
                        (user, all)
                    }
                    None => (dev_user(office, avatar), vec![session]),
                }
            }
            (None, Some(oid)) => {
                let Some(mine) = me_teams.as_ref() else {
                    self.error(
                        ErrorCode::NotAllowed,
                        "knocking on a user by id needs a Teams sign-in",
                    );
                    return;
                };
                if !self.valid_user_id(oid) {
                    return;
                }
                let user = UserRef {
                    tenant: mine.tenant.clone(),
                    oid: oid.to_owned(),
                };
                let sessions = self.ctx.sessions.of_user(&user.tenant, &user.oid);
                if sessions.is_empty() && user != *mine && self.known_name(&user).await.is_none() {
                    return;
                }
                (user, sessions)
            }
            _ => {
                self.error(
                    ErrorCode::Malformed,
                    "a knock names exactly one of avatar and user",
                );
                return;
            }
        };
        let status = match self.ctx.presence.knock(&me, &seat.name, &to, Some(office)) {
            Ok(status) => status,
            Err(KnockError::Myself) => {
                self.error(ErrorCode::NotAllowed, "you cannot knock on yourself");
                return;
            }
            Err(e @ KnockError::TooOften) => {
                self.error(ErrorCode::TooManyKnocks, &e.to_string());
                return;
            }
        };
        if status != FeedStatus::Merged {
            for target in &targets {
                let knocked = Knocked {
                    from_name: seat.name.clone(),
                    from_avatar: (target.office == office).then_some(seat.joined.id),
                    from_user: me_teams.as_ref().map(|u| u.oid.clone()),
                    from_office: Some(office.to_owned()),
                };
                let _ = target.outbox.push(frame(ServerMessage::Knocked(knocked)));
            }
        }
        let here = targets.iter().find(|t| t.office == office);
        let sent = KnockSent {
            avatar: knock.avatar.or(here.map(|t| t.avatar)),
            user: (to.tenant != crate::office::people::LOCAL_TENANT).then(|| to.oid.clone()),
            office: here.or(targets.first()).map(|t| t.office.clone()),
            feed: match status {
                FeedStatus::Queued => feed::QUEUED,
                FeedStatus::Merged => feed::MERGED,
                FeedStatus::OverBudget => feed::OVER_BUDGET,
                FeedStatus::NotConfigured => feed::NOT_SENT,
            },
        };
        let _ = self.outbox.push(frame(ServerMessage::KnockSent(sent)));
    }

    /// `WalkTo`: the office walks the avatar there (or says why not).
    pub(super) fn walk_to(&self, seat: &Seat, target: u32) {
        let command = OfficeCommand::WalkTo {
            avatar: seat.joined.entity,
            target,
        };
        if seat.office.inbox.try_send(command).is_err() {
            self.error(ErrorCode::RateLimited, "the office is busy; try again");
        }
    }

    /// `ListPeople`: everyone in the office.
    pub(super) async fn list_people(&self, seat: &Seat) {
        let (reply, answer) = oneshot::channel();
        if seat
            .office
            .inbox
            .try_send(OfficeCommand::People { reply })
            .is_err()
        {
            self.error(ErrorCode::RateLimited, "the office is busy; try again");
            return;
        }
        match tokio::time::timeout(ASK_WAIT, answer).await {
            Ok(Ok(people)) => {
                let _ = self
                    .outbox
                    .push(frame(ServerMessage::People(People { people })));
            }
            _ => self.error(
                ErrorCode::RateLimited,
                "the office did not answer; try again",
            ),
        }
    }

    /// `Locate`: which office a colleague of the same organisation is in.
    pub(super) async fn locate(&self, seat: &Seat, oid: &str) {
        let Some(mine) = seat.teams_user() else {
            self.error(
                ErrorCode::NotAllowed,
                "finding a user by id needs a Teams sign-in",
            );
            return;
        };
        if !self.valid_user_id(oid) {
            return;
        }
        let sessions = self.ctx.sessions.of_user(&mine.tenant, oid);
        // Where they are in this office first, else anywhere.
        let found = sessions
            .iter()
            .find(|s| s.office == seat.office.id)
            .or(sessions.first());
        let located = match found {
            Some(session) => Located {
                user: oid.to_owned(),
                office: Some(session.office.clone()),
                avatar: Some(session.avatar),
                name: Some(session.name.clone()),
            },
            None => {
                let user = UserRef {
                    tenant: mine.tenant.clone(),
                    oid: oid.to_owned(),
                };
                let Some(name) = self.known_name(&user).await else {
                    return;
                };
                Located {
                    user: oid.to_owned(),
                    office: None,
                    avatar: None,
                    name: Some(name),
                }
            }
        };
        let _ = self.outbox.push(frame(ServerMessage::Located(located)));
    }
}
