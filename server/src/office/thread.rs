//! The thread offices tick on.
//!
//! Offices run on a runtime of their own, on one thread, instead of on the
//! network's workers. A tick then never waits in a worker's queue behind
//! thousands of writer tasks, and it starts on a thread that slept since
//! the last one, so the kernel lets it finish instead of cutting it short
//! for the threads that were busy meanwhile. What would cost the most
//! across threads, waking the writer of every frame a tick queued, is done
//! in one task on the network runtime after the tick.

use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;

use super::outbox::Outbox;

/// Where offices tick, and the network runtime their writers live on.
#[derive(Debug, Clone)]
pub struct OfficeThread {
    offices: Handle,
    network: Handle,
}

impl OfficeThread {
    /// Starts the thread from within the network runtime. It drives the
    /// offices until `tasks` is closed and every task in it has ended.
    pub fn start(tasks: TaskTracker) -> std::io::Result<OfficeThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let offices = runtime.handle().clone();
        std::thread::Builder::new()
            .name("metaoffice-offices".into())
            .spawn(move || runtime.block_on(tasks.wait()))?;
        Ok(OfficeThread {
            offices,
            network: Handle::current(),
        })
    }

    /// The offices' runtime.
    pub fn offices(&self) -> &Handle {
        &self.offices
    }

    /// Wakes, from a task on the network runtime, the writers of frames
    /// an office queued during a tick (see [`holding_wakes`]).
    ///
    /// [`holding_wakes`]: super::outbox::holding_wakes
    pub fn wake(&self, outboxes: Vec<Outbox>) {
        if outboxes.is_empty() {
            return;
        }
        self.network.spawn(async move {
            for outbox in outboxes {
                outbox.wake();
            }
        });
    }
}
