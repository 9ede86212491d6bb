//! Knocks: limits per sender, merging repeated knocks, and the Teams
//! activity-feed notification within the notification budgets.
//!
//! A knock is decided at once, without waiting: knocking oneself or more
//! than `[presence] knocks_per_minute` (every knock counts, merged or not)
//! is refused; a knock from the same person on the same person within
//! `knock_merge_secs` of the last notified one is merged; otherwise, for
//! two Teams users with Graph configured, a notification is queued if the
//! notification budgets (`[graph.budgets]`, per second, per tenant of the
//! person knocked on and overall) have room now and the queue is not full,
//! else it is [`FeedStatus::OverBudget`] and not sent at all.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{FeedStatus, KnockError, Shared};
use crate::graph::budget::WindowBucket;
use crate::graph::{ActivityNotification, BudgetConfig, GraphClient};
use crate::meetings::UserRef;

const MINUTE: Duration = Duration::from_secs(60);
const SECOND: Duration = Duration::from_secs(1);
/// Entries kept before old ones are swept.
const SWEEP_ABOVE: usize = 10_000;
/// Longest display name put in a notification, characters.
const NAME_CHARS: usize = 64;
/// Teams shows the first 150 characters of a preview.
const PREVIEW_CHARS: usize = 150;
/// Notifications on their way at once.
const SENDING: usize = 16;

/// A knock whose notification is to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Knock {
    /// Who is knocked on (the notification goes to them, in their tenant).
    pub to: UserRef,
    /// The notification.
    pub notification: ActivityNotification,
}

/// Knock limits and the notification budgets as the hub sees them.
#[derive(Debug)]
pub(super) struct Knocks {
    senders: HashMap<UserRef, WindowBucket>,
    pairs: HashMap<(UserRef, UserRef), Instant>,
    global: WindowBucket,
    tenants: HashMap<String, WindowBucket>,
    per_tenant: u32,
}

impl Knocks {
    pub fn new(budgets: &BudgetConfig) -> Knocks {
        Knocks {
            senders: HashMap::new(),
            pairs: HashMap::new(),
            global: WindowBucket::new(budgets.notifications_per_second, SECOND),
            tenants: HashMap::new(),
            per_tenant: budgets.notifications_per_second_per_tenant,
        }
    }
}

pub(super) fn knock(
    shared: &Shared,
    from: &UserRef,
    from_name: &str,
    to: &UserRef,
    office: Option<&str>,
) -> Result<FeedStatus, KnockError> {
    if from == to {
        return Err(KnockError::Myself);
    }
    let config = &shared.config;
    let now = shared.clock.now();
    let merge = Duration::from_secs(config.knock_merge_secs);
    let mut state = shared.lock();
    let knocks = &mut state.knocks;
    if knocks.senders.len() > SWEEP_ABOVE {
        knocks
            .senders
            .retain(|_, b| b.free(now) < config.knocks_per_minute);
    }
    if knocks.pairs.len() > SWEEP_ABOVE {
        knocks.pairs.retain(|_, at| *at + merge > now);
    }
    let sender = knocks
        .senders
        .entry(from.clone())
        .or_insert_with(|| WindowBucket::new(config.knocks_per_minute, MINUTE));
    if sender.free(now) == 0 {
        return Err(KnockError::TooOften);
    }
    sender.take(now, 1);
    let pair = (from.clone(), to.clone());
    if knocks.pairs.get(&pair).is_some_and(|&at| at + merge > now) {
        return Ok(FeedStatus::Merged);
    }
    knocks.pairs.insert(pair, now);
    let Some(feed) = &shared.feed else {
        return Ok(FeedStatus::NotConfigured);
    };
    if !shared.graph_user(from) || !shared.graph_user(to) {
        return Ok(FeedStatus::NotConfigured);
    }
    let per_tenant = knocks.per_tenant;
    let tenant = knocks
        .tenants
        .entry(to.tenant.clone())
        .or_insert_with(|| WindowBucket::new(per_tenant, SECOND));
    if tenant.free(now) == 0 || knocks.global.free(now) == 0 {
        return Ok(FeedStatus::OverBudget);
    }
    let knock = Knock {
        to: to.clone(),
        notification: notification(config, from_name, office),
    };
    match feed.try_send(knock) {
        Ok(()) => {
            tenant.take(now, 1);
            knocks.global.take(now, 1);
            if knocks.tenants.len() > SWEEP_ABOVE {
                knocks.tenants.retain(|_, b| b.free(now) < per_tenant);
            }
            Ok(FeedStatus::Queued)
        }
        Err(_) => Ok(FeedStatus::OverBudget),
    }
}

fn notification(
    config: &super::PresenceConfig,
    from_name: &str,
    office: Option<&str>,
) -> ActivityNotification {
    let name: String = from_name.trim().chars().take(NAME_CHARS).collect();
    let name = if name.is_empty() {
        "Someone".to_owned()
    } else {
        name
    };
    let topic = match office {
        Some(office) => format!("MetaOffice: {office}"),
        None => "MetaOffice".to_owned(),
    };
    let text = match office {
        Some(office) => format!("{name} is knocking on your door in {office}"),
        None => format!("{name} is knocking on your door"),
    };
    let web_url = config
        .knock_web_url
        .replace("{office}", office.unwrap_or_default());
    let parameters = if config.knock_activity_type == "systemDefault" {
        vec![("systemDefaultText".to_owned(), text.clone())]
    } else {
        vec![
            ("actor".to_owned(), name),
            ("office".to_owned(), office.unwrap_or_default().to_owned()),
        ]
    };
    ActivityNotification {
        topic,
        web_url,
        activity_type: config.knock_activity_type.clone(),
        preview: text.chars().take(PREVIEW_CHARS).collect(),
        parameters,
    }
}

/// Sends queued knock notifications, a few at a time, until `shutdown`.
pub(super) async fn run_feed(
    graph: Arc<GraphClient>,
    mut knocks: mpsc::Receiver<Knock>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let sending = Arc::new(Semaphore::new(SENDING));
    loop {
        let knock = tokio::select! {
            knock = knocks.recv() => knock,
            () = shutdown.cancelled() => None,
        };
        let Some(knock) = knock else { return };
        let Ok(permit) = sending.clone().acquire_owned().await else {
            return;
        };
        let graph = graph.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let Knock { to, notification } = knock;
            let sent = tokio::select! {
                sent = graph.send_activity_notification(&to.tenant, &to.oid, &notification) => sent,
                () = shutdown.cancelled() => return,
            };
            if let Err(e) = sent {
                tracing::warn!(user = %to, cause = %e, "knock notification not sent");
            }
        });
    }
}
