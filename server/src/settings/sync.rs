//! The config sync: applies the stored office configurations at start, then
//! polls the database every `[database] config_sync_ms` for rows written
//! since it last looked (an `updated_at` watermark), so settings written by
//! another node sharing the database reach this node's offices. Rows are
//! applied only when they differ from what is in force; configurations gone
//! from the database (an organisation removed elsewhere) are forgotten.
//!
//! It runs in a task of its own, never in a tick; each poll is bounded by a
//! timeout; a failing database is logged (once until it answers again) and
//! tried again at the next poll.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::{Prepared, apply, forget, prepare};
use crate::server::ServerContext;
use crate::store::StoreError;

/// How far before the watermark each poll looks again: rows stamped by a
/// node whose clock is a little behind are still seen.
const CLOCK_SKEW_SECS: i64 = 30;

/// Longest a poll may take before it is abandoned (and tried again).
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the sync has read up to: the newest `updated_at` seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark(pub i64);

impl Watermark {
    /// Nothing read yet: the first poll reads every row.
    pub const START: Watermark = Watermark(i64::MIN);

    fn since(self) -> i64 {
        self.0.saturating_sub(CLOCK_SKEW_SECS)
    }
}

/// Why a poll read nothing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The database failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The database did not answer in time.
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
}

/// Reads the rows changed since `watermark` and the ids still configured,
/// applies what differs from what is in force, forgets what is gone.
/// Returns how many offices changed.
pub async fn sync_once(ctx: &ServerContext, watermark: &mut Watermark) -> Result<usize, SyncError> {
    let _applying = ctx.settings.applying.lock().await;
    let read = async {
        let changed = ctx.store.offices_changed_since(watermark.since()).await?;
        let ids: HashSet<String> = ctx.store.office_ids().await?.into_iter().collect();
        Ok::<_, StoreError>((changed, ids))
    };
    let (changed, ids) = tokio::time::timeout(POLL_TIMEOUT, read)
        .await
        .map_err(|_| SyncError::Timeout(POLL_TIMEOUT))??;
    let mut applied = 0;
    for (settings, updated_at) in changed {
        watermark.0 = watermark.0.max(updated_at);
        if ctx.settings.get(&settings.office_id).as_ref() == Some(&settings) {
            continue;
        }
        applied += 1;
        let prepared = match prepare(ctx, settings.clone()).await {
            Ok(prepared) => prepared,
            Err(e) => {
                // Written elsewhere: apply what this node can (who may
                // enter, the radius); the office keeps its map.
                tracing::warn!(office = %settings.office_id, "stored settings partly applied: {e}");
                Prepared {
                    settings,
                    map: None,
                }
            }
        };
        apply(ctx, prepared).await;
    }
    for id in ctx.settings.ids() {
        if !ids.contains(&id) {
            applied += 1;
            forget(ctx, &id).await;
        }
    }
    Ok(applied)
}

/// Applies the stored configurations now (at start, after the maps
/// folder's offices opened), then starts the polling task on the server's
/// tasks. A database that fails now is logged; the task tries again.
pub async fn start(ctx: &Arc<ServerContext>) {
    let mut watermark = Watermark::START;
    match sync_once(ctx, &mut watermark).await {
        Ok(count) => tracing::info!(offices = count, "stored office settings applied"),
        Err(e) => tracing::warn!(cause = %e, "stored office settings unavailable; retrying"),
    }
    let period = Duration::from_millis(ctx.config.database.config_sync_ms.max(1));
    let ctx = ctx.clone();
    let tasks = ctx.tasks.clone();
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        let mut failing = false;
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = ctx.shutdown.cancelled() => break,
            }
            match sync_once(&ctx, &mut watermark).await {
                Ok(_) => {
                    if failing {
                        tracing::info!("config sync: the database answers again");
                    }
                    failing = false;
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(cause = %e, "config sync failed; retrying");
                    }
                    failing = true;
                }
            }
        }
    });
}
