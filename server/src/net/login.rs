//! Who a connection is and where it may go: the development login or a
//! Teams token ([`crate::identity`]), access to an office (its organisation
//! and team), and the user's last position (read on joining, written through
//! the store task while they stay and when they leave).

use std::time::Duration;

use metaoffice_protocol::Join;
use tokio::sync::oneshot;

use super::connection::{Connection, MAX_NAME_CHARS, Seat};
use crate::office::network::OfficeCommand;
use crate::store::Write;
use crate::store::queries::User;

/// Why a Teams user is refused an office that has no stored configuration.
pub(crate) const NOT_SET_UP: &str = "this office has not been set up for your organisation";

/// How long a join may wait for the office to say where an avatar stands.
const WHERE_WAIT: Duration = Duration::from_secs(10);

/// Who is joining.
pub(super) struct Login {
    pub(super) name: String,
    /// The Teams user; `None` for the development login.
    pub(super) user: Option<User>,
}

impl Connection {
    /// Who is joining, or why the login is refused. A Teams token is
    /// checked here, in the connection's own task.
    pub(super) async fn check_login(&self, join: &Join) -> Result<Login, &'static str> {
        if let Some(token) = join.token.as_deref() {
            let Some(sign_in) = self.ctx.sign_in.as_ref() else {
                return Err("Teams sign-in is not configured on this server");
            };
            return match sign_in.check(token).await {
                Ok(user) => {
                    self.ctx.writer.send(Write::User(user.clone()));
                    Ok(Login {
                        name: user.display_name.clone(),
                        user: Some(user),
                    })
                }
                Err(e) => {
                    tracing::info!(peer = %self.peer, reason = %e, "Teams token refused");
                    Err(crate::identity::REFUSED)
                }
            };
        }
        let Some(name) = join.name.as_deref() else {
            return Err("give a display name (development login) or a Teams token");
        };
        if !self.ctx.dev_login_allowed {
            return Err("the development login is not accepted on this server");
        }
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err("a display name has 1 to 64 characters and no control characters");
        }
        Ok(Login {
            name: name.to_owned(),
            user: None,
        })
    }

    /// Whether a Teams user may enter `office`: an office configured for an
    /// organisation admits only its users, and, when it names a team, only
    /// that team's members (when Graph is configured). An office with no
    /// stored configuration admits only users of the server's home tenant
    /// (`[graph] tenant_id`), and nobody when that is not set. The
    /// configuration is read from the in-memory copy the config sync keeps.
    pub(super) async fn check_access(
        &self,
        login: &Login,
        office: &str,
    ) -> Result<(), &'static str> {
        let Some(user) = login.user.as_ref() else {
            return Ok(());
        };
        const UNAVAILABLE: &str = "access to this office cannot be checked now; try again";
        let Some(settings) = self.ctx.settings.get(office) else {
            let home = self.ctx.config.graph.tenant_id.as_deref();
            return match home {
                Some(home) if home == user.tenant_id => Ok(()),
                _ => Err(NOT_SET_UP),
            };
        };
        if settings.tenant_id != user.tenant_id {
            return Err("this office belongs to another organisation");
        }
        let (Some(team), Some(membership)) = (settings.team_id.as_deref(), &self.ctx.membership)
        else {
            return Ok(());
        };
        match membership
            .is_member(&user.tenant_id, team, &user.object_id)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err("you are not a member of the team that owns this office"),
            Err(e) => {
                tracing::warn!(cause = %e, "team membership unavailable");
                Err(UNAVAILABLE)
            }
        }
    }

    /// Where `user` last stood in `office`; `None` if unknown or the
    /// database does not answer soon (the avatar then starts on a spawn).
    pub(super) async fn last_position(&self, user: &User, office: &str) -> Option<(i32, i32)> {
        let read = self
            .ctx
            .store
            .last_position(&user.tenant_id, &user.object_id, office);
        match tokio::time::timeout(Duration::from_secs(2), read).await {
            Ok(Ok(tile)) => tile,
            Ok(Err(e)) => {
                tracing::warn!(cause = %e, "last position unavailable");
                None
            }
            Err(_) => None,
        }
    }

    /// Asks the office where the avatar stands and queues the position for
    /// the store; `leaving` ends the session. Nothing is written for a
    /// development login, or once the user's organisation was removed.
    pub(super) async fn save_position(&self, seat: &Seat, leaving: bool) {
        let still_here = if leaving {
            self.ctx.sessions.end(seat.session)
        } else {
            self.ctx.sessions.is_live(seat.session)
        };
        let Some(user) = seat.user.as_ref().filter(|_| still_here) else {
            return;
        };
        let (reply, answer) = oneshot::channel();
        let ask = OfficeCommand::Where {
            avatar: seat.joined.entity,
            reply,
        };
        if seat.office.inbox.try_send(ask).is_err() {
            return;
        }
        if let Ok(Ok(tile)) = tokio::time::timeout(WHERE_WAIT, answer).await {
            self.ctx.writer.send(Write::Position {
                tenant_id: user.tenant_id.clone(),
                object_id: user.object_id.clone(),
                office_id: seat.office.id.clone(),
                tile,
            });
        }
    }
}
