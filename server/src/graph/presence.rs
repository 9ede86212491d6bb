//! Graph's presence and activity-feed calls, app-only in the user's tenant:
//! reading many users' presence (`getPresencesByUserId`, counted in user ids
//! against the presence budget), writing and clearing the application's
//! presence session of a user (`setPresence`, `clearPresence`), and sending
//! a Teams activity-feed notification (`sendActivityNotification`, counted
//! against the notification budgets).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::budget::BudgetKind;
use super::client::GraphClient;
use super::transport::Call;
use super::{GraphError, error_of_graph};

/// Most user ids Graph takes in one `getPresencesByUserId`.
pub const MAX_PRESENCE_IDS: usize = 650;

/// One user's presence as Graph answered it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GraphPresence {
    /// The user's object id.
    pub id: String,
    /// Graph's availability (`Available`, `Busy`, `PresenceUnknown`…).
    #[serde(default)]
    pub availability: String,
    /// Graph's activity (`InACall`, `Away`…).
    #[serde(default)]
    pub activity: String,
}

/// A Teams activity-feed notification, with a text topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityNotification {
    /// The topic's text (what the notification is about).
    pub topic: String,
    /// Where a click on the notification leads.
    pub web_url: String,
    /// The activity type (`systemDefault`, or one the Teams app declares).
    pub activity_type: String,
    /// The preview text (Teams shows its first 150 characters).
    pub preview: String,
    /// Values of the activity type's template parameters.
    pub parameters: Vec<(String, String)>,
}

#[derive(Serialize)]
struct IdsBody<'a> {
    ids: &'a [String],
}

#[derive(Deserialize)]
struct PresencesAnswer {
    value: Vec<GraphPresence>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SetPresenceBody<'a> {
    session_id: &'a str,
    availability: &'a str,
    activity: &'a str,
    expiration_duration: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClearPresenceBody<'a> {
    session_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Topic<'a> {
    source: &'static str,
    value: &'a str,
    web_url: &'a str,
}

#[derive(Serialize)]
struct ItemBody<'a> {
    content: &'a str,
}

#[derive(Serialize)]
struct KeyValue<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationBody<'a> {
    topic: Topic<'a>,
    activity_type: &'a str,
    preview_text: ItemBody<'a>,
    template_parameters: Vec<KeyValue<'a>>,
}

/// An ISO 8601 duration (`PT10M`, `PT90S`) for `d`, whole seconds.
pub fn iso_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(3600) && secs > 0 {
        format!("PT{}H", secs / 3600)
    } else if secs.is_multiple_of(60) && secs > 0 {
        format!("PT{}M", secs / 60)
    } else {
        format!("PT{secs}S")
    }
}

fn to_json<T: Serialize>(body: &T) -> Result<Vec<u8>, GraphError> {
    serde_json::to_vec(body).map_err(|e| GraphError::Request(e.to_string()))
}

impl GraphClient {
    /// `POST /communications/getPresencesByUserId` in `tenant`: the presence
    /// of `ids` (at most [`MAX_PRESENCE_IDS`]), as Graph answered it; ids
    /// Graph does not know may be missing. Costs `ids.len()` of the presence
    /// budget.
    pub async fn presences_by_user_id(
        &self,
        tenant: &str,
        ids: &[String],
    ) -> Result<Vec<GraphPresence>, GraphError> {
        const ENDPOINT: &str = "getPresencesByUserId";
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > MAX_PRESENCE_IDS {
            return Err(GraphError::Request(format!(
                "{ENDPOINT}: {} ids, at most {MAX_PRESENCE_IDS} per request",
                ids.len()
            )));
        }
        let url = self.url(&["communications", ENDPOINT])?;
        let call = Call {
            endpoint: ENDPOINT,
            tenant,
            budget: Some((BudgetKind::Presence, ids.len() as u32)),
        };
        let answer = self
            .post_json(&call, &url, to_json(&IdsBody { ids })?)
            .await?;
        if answer.status != 200 {
            return Err(error_of_graph(ENDPOINT, &answer));
        }
        let parsed: PresencesAnswer =
            serde_json::from_slice(&answer.body).map_err(|e| GraphError::Malformed {
                endpoint: ENDPOINT,
                reason: format!("not a list of presences: {e}"),
            })?;
        Ok(parsed.value)
    }

    /// `POST /users/{user}/presence/setPresence` in `tenant`: this
    /// application's presence session of `user` shows `availability` /
    /// `activity` for `expiration` (Graph takes 5 minutes to 4 hours).
    pub async fn set_presence(
        &self,
        tenant: &str,
        user: &str,
        availability: &str,
        activity: &str,
        expiration: Duration,
    ) -> Result<(), GraphError> {
        const ENDPOINT: &str = "setPresence";
        let url = self.url(&["users", user, "presence", ENDPOINT])?;
        let call = Call {
            endpoint: ENDPOINT,
            tenant,
            budget: Some((BudgetKind::Other, 1)),
        };
        let body = to_json(&SetPresenceBody {
            session_id: self.tokens().client_id(),
            availability,
            activity,
            expiration_duration: iso_duration(expiration),
        })?;
        let answer = self.post_json(&call, &url, body).await?;
        if answer.status != 200 {
            return Err(error_of_graph(ENDPOINT, &answer));
        }
        Ok(())
    }

    /// `POST /users/{user}/presence/clearPresence` in `tenant`: ends this
    /// application's presence session of `user`. `false` when there was
    /// none (`404`: it had lapsed or was cleared already).
    pub async fn clear_presence(&self, tenant: &str, user: &str) -> Result<bool, GraphError> {
        const ENDPOINT: &str = "clearPresence";
        let url = self.url(&["users", user, "presence", ENDPOINT])?;
        let call = Call {
            endpoint: ENDPOINT,
            tenant,
            budget: Some((BudgetKind::Other, 1)),
        };
        let body = to_json(&ClearPresenceBody {
            session_id: self.tokens().client_id(),
        })?;
        let answer = self.post_json(&call, &url, body).await?;
        match answer.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(error_of_graph(ENDPOINT, &answer)),
        }
    }

    /// `POST /users/{user}/teamwork/sendActivityNotification` in `tenant`.
    /// Counts against the notification budgets (per tenant and overall).
    pub async fn send_activity_notification(
        &self,
        tenant: &str,
        user: &str,
        notification: &ActivityNotification,
    ) -> Result<(), GraphError> {
        const ENDPOINT: &str = "sendActivityNotification";
        let url = self.url(&["users", user, "teamwork", ENDPOINT])?;
        let call = Call {
            endpoint: ENDPOINT,
            tenant,
            budget: Some((BudgetKind::Notifications, 1)),
        };
        let body = to_json(&NotificationBody {
            topic: Topic {
                source: "text",
                value: &notification.topic,
                web_url: &notification.web_url,
            },
            activity_type: &notification.activity_type,
            preview_text: ItemBody {
                content: &notification.preview,
            },
            template_parameters: notification
                .parameters
                .iter()
                .map(|(name, value)| KeyValue { name, value })
                .collect(),
        })?;
        let answer = self.post_json(&call, &url, body).await?;
        if answer.status != 204 && answer.status != 200 {
            return Err(error_of_graph(ENDPOINT, &answer));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_iso_8601() {
        assert_eq!(iso_duration(Duration::from_secs(600)), "PT10M");
        assert_eq!(iso_duration(Duration::from_secs(7200)), "PT2H");
        assert_eq!(iso_duration(Duration::from_secs(301)), "PT301S");
    }
}
