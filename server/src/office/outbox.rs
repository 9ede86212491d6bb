//! A client's outbox: a bounded queue of encoded frames between the office
//! (and the connection task) that fill it and the writer task that drains it
//! to the socket. The office never waits on it: a full outbox is reported,
//! and the office may replace its whole content with a fresh snapshot.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use metaoffice_protocol::{Error, ErrorCode, ServerMessage};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What the writer sends next.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A binary frame.
    Frame(Bytes),
    /// A close frame with this code and reason; nothing follows it.
    Close(u16, String),
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The queue holds as many frames as it may.
    Full,
    /// The connection is closing or gone.
    Closed,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Bytes>,
    close: Option<(u16, String)>,
    closed: bool,
}

#[derive(Debug)]
struct Inner {
    queue: Mutex<Queue>,
    ready: Notify,
    closed: CancellationToken,
    capacity: usize,
}

/// A bounded queue of frames for one client; clones share it.
#[derive(Debug, Clone)]
pub struct Outbox(Arc<Inner>);

/// The WebSocket close code for a fatal error: 4000 + its number.
pub fn close_code(code: ErrorCode) -> u16 {
    4000 + code.number()
}

impl Outbox {
    /// An empty outbox holding at most `capacity` frames.
    pub fn new(capacity: usize) -> Outbox {
        Outbox(Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            closed: CancellationToken::new(),
            capacity: capacity.max(1),
        }))
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding this lock cannot leave the queue half-changed.
        self.0
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a frame.
    pub fn push(&self, frame: Bytes) -> Result<(), PushError> {
        let mut queue = self.queue();
        if queue.closed {
            return Err(PushError::Closed);
        }
        if queue.frames.len() >= self.0.capacity {
            return Err(PushError::Full);
        }
        queue.frames.push_back(frame);
        drop(queue);
        self.0.ready.notify_one();
        Ok(())
    }

    /// Drops every queued frame and queues `frame` instead (a snapshot).
    pub fn replace(&self, frame: Bytes) -> Result<(), PushError> {
        let mut queue = self.queue();
        if queue.closed {
            return Err(PushError::Closed);
        }
        queue.frames.clear();
        queue.frames.push_back(frame);
        drop(queue);
        self.0.ready.notify_one();
        Ok(())
    }

    /// Queues an error frame; if it cannot wait, the error replaces the queue.
    pub fn push_error(&self, code: ErrorCode, message: &str) {
        let frame = Bytes::from(ServerMessage::Error(Error::new(code, message)).encode());
        if self.push(frame.clone()) == Err(PushError::Full) {
            let _ = self.replace(frame);
        }
    }

    /// Sends the error, then closes the connection with code 4000 + its number.
    pub fn fail(&self, code: ErrorCode, message: &str) {
        self.push_error(code, message);
        self.close(close_code(code), message);
    }

    /// Ends the outbox: queued frames still go out, then a close frame.
    pub fn close(&self, code: u16, reason: &str) {
        let mut queue = self.queue();
        if queue.closed {
            return;
        }
        queue.closed = true;
        // A close reason may hold at most 123 bytes.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        queue.close = Some((code, reason[..end].to_owned()));
        drop(queue);
        self.0.closed.cancel();
        self.0.ready.notify_one();
    }

    /// Whether the outbox takes no more frames.
    pub fn is_closed(&self) -> bool {
        self.queue().closed
    }

    /// Completes once the outbox is closed (by the office, on shutdown, or because the writer failed).
    pub async fn closed(&self) {
        self.0.closed.cancelled().await;
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.queue().frames.len()
    }

    /// Whether no frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next thing to send if one is ready, without waiting.
    pub fn try_next(&self) -> Option<Outgoing> {
        let mut queue = self.queue();
        if let Some(frame) = queue.frames.pop_front() {
            return Some(Outgoing::Frame(frame));
        }
        queue
            .close
            .take()
            .map(|(code, reason)| Outgoing::Close(code, reason))
    }

    /// The next thing to send; `None` once the close frame was handed out.
    pub async fn next(&self) -> Option<Outgoing> {
        loop {
            {
                let mut queue = self.queue();
                if let Some(frame) = queue.frames.pop_front() {
                    return Some(Outgoing::Frame(frame));
                }
                if queue.closed {
                    return queue
                        .close
                        .take()
                        .map(|(code, reason)| Outgoing::Close(code, reason));
                }
            }
            self.0.ready.notified().await;
        }
    }

    /// The socket is gone: drop everything and refuse further frames.
    pub fn abandon(&self) {
        let mut queue = self.queue();
        queue.frames.clear();
        queue.closed = true;
        queue.close = None;
        drop(queue);
        self.0.closed.cancel();
        self.0.ready.notify_one();
    }
}
