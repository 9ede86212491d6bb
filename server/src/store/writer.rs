//! The store task: writes that come from sign-ins and offices, applied in
//! order, off the tick. Senders never wait: a full queue drops the write
//! (and counts it). A failed write is retried with backoff until it succeeds
//! or the server stops, so a database that goes away while running delays
//! writes but never stops an office.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::queries::User;
use super::{Store, StoreError};

/// Writes waiting for the database.
pub const QUEUE: usize = 4096;

/// One write.
#[derive(Debug)]
pub enum Write {
    /// A sign-in: the user's name and UPN as of now.
    User(User),
    /// Where a user stands in an office.
    Position {
        /// The tenant.
        tenant_id: String,
        /// The user's object id.
        object_id: String,
        /// The office.
        office_id: String,
        /// The tile.
        tile: (i32, i32),
    },
    /// Remove an organisation, after every write queued before it.
    RemoveOrganisation {
        /// The tenant.
        tenant_id: String,
        /// Whether it existed, or the fault (tried once, not retried).
        done: oneshot::Sender<Result<bool, StoreError>>,
    },
}

/// The sending side of the store task; cheap to clone.
#[derive(Debug, Clone)]
pub struct StoreWriter {
    queue: mpsc::Sender<Write>,
    /// Writes dropped because the queue was full.
    pub dropped: Arc<AtomicU64>,
}

impl StoreWriter {
    /// Starts the store task on `tasks`; it drains what is queued, then ends
    /// once `shutdown` is cancelled and every sender is gone or the queue is empty.
    pub fn start(store: Store, shutdown: CancellationToken, tasks: &TaskTracker) -> StoreWriter {
        let (queue, mut writes) = mpsc::channel::<Write>(QUEUE);
        tasks.spawn(async move {
            loop {
                let write = tokio::select! {
                    biased;
                    write = writes.recv() => write,
                    _ = shutdown.cancelled() => writes.try_recv().ok(),
                };
                match write {
                    None => break,
                    Some(Write::RemoveOrganisation { tenant_id, done }) => {
                        let _ = done.send(store.remove_organisation(&tenant_id).await);
                    }
                    Some(write) => apply_with_retry(&store, &write, &shutdown).await,
                }
            }
        });
        StoreWriter {
            queue,
            dropped: Arc::default(),
        }
    }

    /// Queues `write` without waiting; `false` if it was dropped.
    pub fn send(&self, write: Write) -> bool {
        match self.queue.try_send(write) {
            Ok(()) => true,
            Err(_) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(dropped, "the store queue is full: writes are dropped");
                }
                false
            }
        }
    }
}

impl StoreWriter {
    /// Removes an organisation once every write queued before has been
    /// applied; waits for room in the queue (admin requests only).
    pub async fn remove_organisation(&self, tenant_id: &str) -> Result<bool, StoreError> {
        let (done, answer) = oneshot::channel();
        let write = Write::RemoveOrganisation {
            tenant_id: tenant_id.to_owned(),
            done,
        };
        if self.queue.send(write).await.is_err() {
            return Err(StoreError::Stopped);
        }
        answer.await.unwrap_or(Err(StoreError::Stopped))
    }
}

async fn apply(store: &Store, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::RemoveOrganisation { .. } => Ok(()),
        Write::User(user) => store.upsert_user(user).await,
        Write::Position {
            tenant_id,
            object_id,
            office_id,
            tile,
        } => {
            store
                .save_position(tenant_id, object_id, office_id, *tile)
                .await
        }
    }
}

/// Applies `write`, retrying with backoff; gives up only when the server
/// stops while the database is away.
async fn apply_with_retry(store: &Store, write: &Write, shutdown: &CancellationToken) {
    let mut wait = Duration::from_millis(100);
    loop {
        match apply(store, write).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(cause = %e, retry_in = ?wait, "a database write failed; retrying");
                if shutdown.is_cancelled() {
                    tracing::error!("the server is stopping: a database write is lost");
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => {}
                }
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}
