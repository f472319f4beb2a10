//! The per-factory dispatcher: the one thread on which application closures run.
//!
//! The shim's callbacks run on WebRTC's threads (mostly the factory's signaling thread).
//! Running application code there made natural code fail: a send from a channel's own
//! callback re-entered libwebrtc's observer under our lock, a close inside a completion
//! destroyed what libwebrtc was still calling, and a call into another factory's peer
//! blocked one signaling thread on another (libwebrtc aborts on that, or deadlocks without
//! its checks). So the C callbacks only copy what they report and hand it over: into a
//! receiver, or — for `*_with` completions and `DataChannel::on_event` closures — onto this
//! thread as a task. Here application code may call any method of any handle (blocking
//! ones included, on any factory) and drop any handle: the thread is not one of WebRTC's,
//! so every call into libwebrtc is an ordinary cross-thread call, and WebRTC's threads never
//! wait for this one.

use std::sync::mpsc::{channel, SendError, Sender};
use std::thread::{JoinHandle, ThreadId};

use crate::ffi::guard;

/// A unit of application code (a completion or a data channel callback with its input).
pub(crate) type Task = Box<dyn FnOnce() + Send>;

/// Posts tasks to a factory's dispatcher thread. Cheap to clone; the thread ends once every
/// clone is gone and the queue is drained.
#[derive(Clone)]
pub(crate) struct Dispatch {
    tx: Sender<Task>,
}

impl Dispatch {
    /// Queues `task` behind the ones already posted (never blocks). Should the thread be
    /// gone, the task runs right here rather than being lost (a completion runs exactly once).
    pub(crate) fn post(&self, task: Task) {
        if let Err(SendError(task)) = self.tx.send(task) {
            guard(task);
        }
    }
}

/// The thread itself, owned by the factory.
pub(crate) struct Dispatcher {
    thread: Option<JoinHandle<()>>,
    id: ThreadId,
}

impl Dispatcher {
    pub(crate) fn spawn() -> std::io::Result<(Dispatcher, Dispatch)> {
        let (tx, rx) = channel::<Task>();
        let thread = std::thread::Builder::new()
            .name("mrtc-dispatch".into())
            .spawn(move || {
                // One task at a time, in posting order; a panic ends only its task.
                for task in rx {
                    guard(task);
                }
            })?;
        let id = thread.thread().id();
        Ok((
            Dispatcher {
                thread: Some(thread),
                id,
            },
            Dispatch { tx },
        ))
    }

    /// Waits for the thread to drain its queue and end (every [`Dispatch`] must be gone by
    /// then). From the thread itself — a task dropped the factory's last handle — it
    /// cannot wait for itself: the thread ends on its own after that task.
    pub(crate) fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            if std::thread::current().id() != self.id {
                let _ = thread.join();
            }
        }
    }
}
