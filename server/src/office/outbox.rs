//! A client's outbox: a bounded queue of encoded frames between the office
//! (and the connection task) that fill it and the writer task that drains it
//! to the socket. The office never waits on it: a full outbox is reported,
//! and the office may replace its whole content with a fresh snapshot.
//!
//! The queue grows on demand up to its bound (in blocks of a few dozen
//! frames), so an idle connection holds one small block, not room for its
//! whole bound.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use bytes::Bytes;
use crossbeam_queue::SegQueue;
use futures_util::task::AtomicWaker;
use metaoffice_protocol::{Error, ErrorCode, ServerMessage};
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

/// The queue is lock-free, so the office never waits on a writer thread
/// that was descheduled while touching it; the close reason is behind a
/// lock that only closing takes. `queued` counts the frames in `frames`
/// (reserved before a push, released after a pop), which bounds the queue.
#[derive(Debug)]
struct Inner {
    frames: SegQueue<Bytes>,
    queued: AtomicUsize,
    capacity: usize,
    writer: AtomicWaker,
    closing: AtomicBool,
    close: Mutex<Option<(u16, String)>>,
    closed: CancellationToken,
}

thread_local! {
    /// The outboxes whose writers wait to be woken, while wakes are held.
    static HELD_WAKES: RefCell<Option<Vec<Outbox>>> = const { RefCell::new(None) };
}

/// Runs `f` with writers' wake-ups held back on this thread: frames are
/// queued as usual, and the outboxes whose writers are to be woken are
/// returned with `f`'s result, in the order they were queued into. Offices
/// tick this way on their own thread and hand the list to a task on the
/// network runtime, where waking a task is cheap; waking each writer from
/// the office's thread would also wake a network worker onto the office's
/// CPU, over and over within one tick.
pub fn holding_wakes<R>(f: impl FnOnce() -> R) -> (R, Vec<Outbox>) {
    let outer = HELD_WAKES.with(|held| held.borrow_mut().replace(Vec::new()));
    let result = f();
    let woken = HELD_WAKES.with(|held| std::mem::replace(&mut *held.borrow_mut(), outer));
    (result, woken.unwrap_or_default())
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
            frames: SegQueue::new(),
            queued: AtomicUsize::new(0),
            capacity: capacity.max(1),
            writer: AtomicWaker::new(),
            closing: AtomicBool::new(false),
            close: Mutex::new(None),
            closed: CancellationToken::new(),
        }))
    }

    /// Queues a frame.
    pub fn push(&self, frame: Bytes) -> Result<(), PushError> {
        if self.is_closed() {
            return Err(PushError::Closed);
        }
        // One atomic add per frame; a push that finds no room takes its
        // place back.
        if self.0.queued.fetch_add(1, Ordering::AcqRel) >= self.0.capacity {
            self.0.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(PushError::Full);
        }
        self.0.frames.push(frame);
        self.wake_writer();
        Ok(())
    }

    /// Wakes the writer, or, inside [`holding_wakes`] on this thread, notes
    /// that it is to be woken.
    fn wake_writer(&self) {
        let held = HELD_WAKES.with(|held| match held.borrow_mut().as_mut() {
            Some(list) => {
                list.push(self.clone());
                true
            }
            None => false,
        });
        if !held {
            self.0.writer.wake();
        }
    }

    /// Wakes the writer (of frames queued inside [`holding_wakes`]).
    pub fn wake(&self) {
        self.0.writer.wake();
    }

    /// Takes the oldest frame, releasing its place.
    fn pop(&self) -> Option<Bytes> {
        let frame = self.0.frames.pop()?;
        self.0.queued.fetch_sub(1, Ordering::AcqRel);
        Some(frame)
    }

    /// Drops every queued frame and queues `frame` instead (a snapshot).
    pub fn replace(&self, frame: Bytes) -> Result<(), PushError> {
        if self.is_closed() {
            return Err(PushError::Closed);
        }
        while self.pop().is_some() {}
        // Past the bound if another producer raced in since the queue was
        // emptied: the snapshot must go out all the same.
        self.0.queued.fetch_add(1, Ordering::AcqRel);
        self.0.frames.push(frame);
        self.wake_writer();
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
        let mut close = self
            .0
            .close
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.0.closing.load(Ordering::Acquire) {
            return;
        }
        // A close reason may hold at most 123 bytes.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        *close = Some((code, reason[..end].to_owned()));
        self.0.closing.store(true, Ordering::Release);
        drop(close);
        self.0.closed.cancel();
        self.wake_writer();
    }

    /// Whether the outbox takes no more frames.
    pub fn is_closed(&self) -> bool {
        self.0.closing.load(Ordering::Acquire)
    }

    /// Completes once the outbox is closed (by the office, on shutdown, or because the writer failed).
    pub async fn closed(&self) {
        self.0.closed.cancelled().await;
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.0.queued.load(Ordering::Acquire)
    }

    /// Whether no frame is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next thing to send if one is ready, without waiting: frames
    /// first, then (once closed) the close frame, once.
    pub fn try_next(&self) -> Option<Outgoing> {
        if let Some(frame) = self.pop() {
            return Some(Outgoing::Frame(frame));
        }
        if !self.is_closed() {
            return None;
        }
        let mut close = self
            .0
            .close
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        close
            .take()
            .map(|(code, reason)| Outgoing::Close(code, reason))
    }

    /// The next thing to send; `None` once the close frame was handed out
    /// (or the outbox was abandoned).
    pub async fn next(&self) -> Option<Outgoing> {
        std::future::poll_fn(|cx| {
            self.0.writer.register(cx.waker());
            match self.try_next() {
                Some(outgoing) => Poll::Ready(Some(outgoing)),
                None if self.is_closed() => Poll::Ready(None),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// The socket is gone: drop everything and refuse further frames.
    pub fn abandon(&self) {
        let mut close = self
            .0
            .close
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *close = None;
        self.0.closing.store(true, Ordering::Release);
        drop(close);
        while self.pop().is_some() {}
        self.0.closed.cancel();
        self.wake_writer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> Bytes {
        Bytes::from(vec![n])
    }

    fn next_frame(outbox: &Outbox) -> Option<u8> {
        match outbox.try_next() {
            Some(Outgoing::Frame(bytes)) => Some(bytes[0]),
            _ => None,
        }
    }

    /// The queue grows past its first blocks, stops at its bound, and takes
    /// a frame again once the writer made room; order is kept throughout.
    #[test]
    fn a_growing_outbox_keeps_its_bound_and_order() {
        let outbox = Outbox::new(100);
        for n in 0..100u8 {
            assert_eq!(outbox.push(frame(n)), Ok(()), "frame {n}");
        }
        assert_eq!(outbox.len(), 100);
        assert_eq!(outbox.push(frame(200)), Err(PushError::Full));
        assert_eq!(next_frame(&outbox), Some(0));
        assert_eq!(outbox.push(frame(100)), Ok(()));
        assert_eq!(outbox.push(frame(201)), Err(PushError::Full));
        let rest: Vec<u8> = std::iter::from_fn(|| next_frame(&outbox)).collect();
        assert_eq!(rest, (1..=100).collect::<Vec<u8>>());
        assert!(outbox.is_empty());
    }

    /// A snapshot replaces a full backlog; the queue is bounded again after.
    #[test]
    fn replacing_a_full_outbox_leaves_only_the_snapshot() {
        let outbox = Outbox::new(40);
        while outbox.push(frame(1)).is_ok() {}
        assert_eq!(outbox.len(), 40);
        assert_eq!(outbox.replace(frame(9)), Ok(()));
        assert_eq!(outbox.len(), 1);
        for _ in 1..40 {
            assert_eq!(outbox.push(frame(2)), Ok(()));
        }
        assert_eq!(outbox.push(frame(3)), Err(PushError::Full));
        assert_eq!(next_frame(&outbox), Some(9));
    }

    /// Inside `holding_wakes`, queueing wakes nobody and the outboxes come
    /// back to be woken later; outside, a push wakes the writer at once.
    #[test]
    fn held_wakes_are_handed_back_instead_of_woken() {
        use futures_util::task::ArcWake;
        struct Count(AtomicUsize);
        impl ArcWake for Count {
            fn wake_by_ref(count: &Arc<Self>) {
                count.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = futures_util::task::waker(count.clone());
        let woken = || count.0.load(Ordering::SeqCst);
        let outbox = Outbox::new(8);
        outbox.0.writer.register(&waker);
        let (pushed, held) = holding_wakes(|| [outbox.push(frame(1)), outbox.push(frame(2))]);
        assert_eq!(pushed, [Ok(()), Ok(())]);
        assert_eq!(woken(), 0, "nobody is woken while wakes are held");
        assert_eq!(held.len(), 2);
        held[0].wake();
        assert_eq!(woken(), 1);
        outbox.0.writer.register(&waker);
        assert_eq!(outbox.push(frame(3)), Ok(()));
        assert_eq!(woken(), 2, "outside, a push wakes at once");
        assert_eq!(outbox.len(), 3);
    }

    /// Once closed, queued frames still go out, then the close frame; an
    /// abandoned outbox drops everything.
    #[test]
    fn closing_drains_then_closes_and_abandoning_drops() {
        let outbox = Outbox::new(8);
        assert_eq!(outbox.push(frame(1)), Ok(()));
        outbox.close(1000, "bye");
        assert_eq!(outbox.push(frame(2)), Err(PushError::Closed));
        assert_eq!(next_frame(&outbox), Some(1));
        assert_eq!(outbox.try_next(), Some(Outgoing::Close(1000, "bye".into())));
        assert_eq!(outbox.try_next(), None);
        let other = Outbox::new(8);
        assert_eq!(other.push(frame(1)), Ok(()));
        other.abandon();
        assert!(other.is_empty());
        assert_eq!(other.try_next(), None);
    }
}
