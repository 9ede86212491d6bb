//! The meeting desk: a task with a bounded set of requests through which
//! offices ask for meetings without ever blocking a tick (see the
//! [module docs](super) for how an office uses it).
//!
//! [`MeetingDesk::request`] and [`MeetingDesk::cancel`] only touch a small
//! mutex-guarded table and wake the task. The task starts up to
//! `[meetings] max_in_flight` provider calls at once, one per meeting
//! identity (requests with the same identity wait on the same call), answers
//! meetings it has seen from a bounded memory, and puts outcomes into the
//! bounded channel as the office takes them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, mpsc};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::provider::Providers;
use super::{
    MeetingFailure, MeetingInfo, MeetingKey, MeetingOutcome, MeetingRequest, MeetingsConfig,
    QueueFull,
};

/// Where an office asks for meetings. Cheap to clone; all clones are the
/// same desk.
#[derive(Debug, Clone)]
pub struct MeetingDesk {
    shared: Arc<Shared>,
}

/// What a desk holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeskStats {
    /// Requests waiting to start.
    pub queued: usize,
    /// Requests with a provider.
    pub running: usize,
    /// Outcomes not yet in the channel.
    pub undelivered: usize,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<DeskState>,
    wake: Notify,
    capacity: usize,
}

#[derive(Debug, Default)]
struct DeskState {
    queue: VecDeque<MeetingKey>,
    entries: HashMap<MeetingKey, Entry>,
    ready: VecDeque<MeetingOutcome>,
    closed: bool,
}

#[derive(Debug)]
struct Entry {
    /// The latest request for the key, not yet started.
    waiting: Option<MeetingRequest>,
    /// A request for the key is with a provider.
    running: bool,
    /// The running request's outcome is unwanted (cancelled or superseded).
    drop_running: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, DeskState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MeetingDesk {
    /// Starts a desk on `providers`; its task ends with `shutdown` or when
    /// the outcome receiver is dropped.
    pub fn start(
        config: &MeetingsConfig,
        providers: Providers,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> (MeetingDesk, mpsc::Receiver<MeetingOutcome>) {
        let shared = Arc::new(Shared {
            state: Mutex::new(DeskState::default()),
            wake: Notify::new(),
            capacity: config.queue.max(1),
        });
        let (outcomes, receiver) = mpsc::channel(config.outcomes.max(1));
        let runner = Runner {
            shared: shared.clone(),
            providers,
            outcomes,
            max_in_flight: config.max_in_flight.max(1),
            memory: Memory::new(config.cache),
            jobs: JoinSet::new(),
            job_identity: HashMap::new(),
            waiting_on: HashMap::new(),
        };
        tasks.spawn(runner.run(shutdown));
        (MeetingDesk { shared }, receiver)
    }

    /// Asks for a meeting; returns at once. A request for a key that is
    /// still pending replaces it (only the latest is answered).
    pub fn request(&self, request: MeetingRequest) -> Result<(), QueueFull> {
        let full = QueueFull {
            capacity: self.shared.capacity,
        };
        {
            let mut state = self.shared.lock();
            if state.closed {
                return Err(full);
            }
            if let Some(entry) = state.entries.get_mut(&request.key) {
                if entry.running {
                    entry.drop_running = true;
                }
                entry.waiting = Some(request);
            } else {
                if state.entries.len() + state.ready.len() >= self.shared.capacity {
                    return Err(full);
                }
                state.queue.push_back(request.key.clone());
                state.entries.insert(
                    request.key.clone(),
                    Entry {
                        waiting: Some(request),
                        running: false,
                        drop_running: false,
                    },
                );
            }
        }
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Withdraws the request for `key` (its group dissolved): a queued
    /// request is dropped and never sent; a running one finishes but its
    /// outcome is not delivered, nor is one not yet in the channel. `true`
    /// if there was something to withdraw. An outcome already in the
    /// channel can still arrive: offices ignore keys they no longer have.
    pub fn cancel(&self, key: &MeetingKey) -> bool {
        let mut state = self.shared.lock();
        let before = state.ready.len();
        state.ready.retain(|o| &o.key != key);
        let mut withdrew = state.ready.len() != before;
        if let Some(entry) = state.entries.get_mut(key) {
            withdrew = true;
            entry.waiting = None;
            if entry.running {
                entry.drop_running = true;
            } else {
                state.entries.remove(key);
            }
        }
        withdrew
    }

    /// What the desk holds now.
    pub fn stats(&self) -> DeskStats {
        let state = self.shared.lock();
        DeskStats {
            queued: state
                .entries
                .values()
                .filter(|e| e.waiting.is_some())
                .count(),
            running: state.entries.values().filter(|e| e.running).count(),
            undelivered: state.ready.len(),
        }
    }
}

/// Meetings seen, by identity, oldest forgotten first.
struct Memory {
    capacity: usize,
    meetings: HashMap<String, MeetingInfo>,
    order: VecDeque<String>,
}

impl Memory {
    fn new(capacity: usize) -> Memory {
        Memory {
            capacity,
            meetings: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn get(&self, identity: &str) -> Option<&MeetingInfo> {
        self.meetings.get(identity)
    }

    fn remember(&mut self, identity: String, info: MeetingInfo) {
        if self.capacity == 0 {
            return;
        }
        if self.meetings.insert(identity.clone(), info).is_none() {
            self.order.push_back(identity);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.meetings.remove(&old);
            }
        }
    }
}

type JobResult = Result<MeetingInfo, MeetingFailure>;

enum Event {
    Stop,
    Finished(Result<(tokio::task::Id, JobResult), JoinError>),
    Deliver(mpsc::OwnedPermit<MeetingOutcome>),
    Woken,
}

struct Runner {
    shared: Arc<Shared>,
    providers: Providers,
    outcomes: mpsc::Sender<MeetingOutcome>,
    max_in_flight: usize,
    memory: Memory,
    jobs: JoinSet<JobResult>,
    /// Each job's meeting identity, and whether its meeting may be remembered.
    job_identity: HashMap<tokio::task::Id, (String, bool)>,
    /// The requests waiting on each running identity: (key, office).
    waiting_on: HashMap<String, Vec<(MeetingKey, String)>>,
}

impl Runner {
    async fn run(mut self, shutdown: CancellationToken) {
        loop {
            self.start_jobs();
            let has_ready = !self.shared.lock().ready.is_empty();
            let event = tokio::select! {
                _ = shutdown.cancelled() => Event::Stop,
                Some(done) = self.jobs.join_next_with_id(), if !self.jobs.is_empty() => {
                    Event::Finished(done)
                }
                permit = self.outcomes.clone().reserve_owned(), if has_ready => match permit {
                    Ok(permit) => Event::Deliver(permit),
                    // The office is gone.
                    Err(_) => Event::Stop,
                },
                () = self.shared.wake.notified() => Event::Woken,
            };
            match event {
                Event::Stop => break,
                Event::Finished(done) => self.finished(done),
                Event::Deliver(permit) => {
                    if let Some(outcome) = self.shared.lock().ready.pop_front() {
                        permit.send(outcome);
                    }
                }
                Event::Woken => {}
            }
        }
        self.jobs.abort_all();
        self.shared.lock().closed = true;
    }

    /// The next request to start, marking its key running.
    fn next_request(&self) -> Option<MeetingRequest> {
        let mut state = self.shared.lock();
        while let Some(key) = state.queue.pop_front() {
            let Some(entry) = state.entries.get_mut(&key) else {
                continue; // cancelled
            };
            if entry.running {
                continue; // requeued when the running one finishes
            }
            if let Some(request) = entry.waiting.take() {
                entry.running = true;
                return Some(request);
            }
        }
        None
    }

    fn start_jobs(&mut self) {
        while self.jobs.len() < self.max_in_flight {
            let Some(request) = self.next_request() else {
                return;
            };
            let provider = self.providers.for_office(&request.office);
            let plan = match provider.plan(&request) {
                Ok(plan) => plan,
                Err(failure) => {
                    self.complete(&request.key, &request.office, Err(failure));
                    continue;
                }
            };
            if plan.cacheable
                && let Some(info) = self.memory.get(&plan.identity)
            {
                let info = info.clone();
                self.complete(&request.key, &request.office, Ok(info));
                continue;
            }
            let waiter = (request.key.clone(), request.office.clone());
            if let Some(waiters) = self.waiting_on.get_mut(&plan.identity) {
                waiters.push(waiter);
                continue;
            }
            self.waiting_on.insert(plan.identity.clone(), vec![waiter]);
            let identity = (plan.identity.clone(), plan.cacheable);
            let job = self.jobs.spawn(provider.open(plan, request));
            self.job_identity.insert(job.id(), identity);
        }
    }

    fn finished(&mut self, done: Result<(tokio::task::Id, JobResult), JoinError>) {
        let (id, result) = match done {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(cause = %e, "a meeting job failed");
                let failure = MeetingFailure::Unavailable("internal error".into());
                (e.id(), Err(failure))
            }
        };
        let Some((identity, cacheable)) = self.job_identity.remove(&id) else {
            return;
        };
        if let (true, Ok(info)) = (cacheable, &result) {
            self.memory.remember(identity.clone(), info.clone());
        }
        for (key, office) in self.waiting_on.remove(&identity).unwrap_or_default() {
            self.complete(&key, &office, result.clone());
        }
    }

    fn complete(&mut self, key: &MeetingKey, office: &str, result: JobResult) {
        if let Err(failure) = &result {
            tracing::warn!(key = %key, office, cause = %failure, "no meeting");
        }
        let mut state = self.shared.lock();
        let Some(entry) = state.entries.get_mut(key) else {
            return;
        };
        entry.running = false;
        let wanted = !std::mem::take(&mut entry.drop_running);
        if entry.waiting.is_some() {
            state.queue.push_front(key.clone());
        } else {
            state.entries.remove(key);
        }
        if wanted {
            state.ready.push_back(MeetingOutcome {
                key: key.clone(),
                office: office.to_owned(),
                result,
            });
        }
    }
}
