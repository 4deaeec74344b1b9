//! Desktop notifications from `mend serve` (freedesktop notifications over the session bus).
//!
//! A notification names the kind of entry and the partner ("Sam asked for reassurance"); the
//! entry's first words only with `notify = "full"`. They are raised on a thread of their own,
//! a few at a time: with no session bus (no desktop, a login service without one) each fails
//! quietly and serve goes on.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};

use mend_app::notices::Notice;

/// Notifications waiting to be raised at most; past it, new ones are dropped (logged).
const QUEUE: usize = 16;

#[derive(Clone)]
pub struct Notifier {
    queue: SyncSender<(String, Option<String>)>,
    full: bool,
}

impl Notifier {
    /// Start the thread that raises them. `full`: with the entry's first words.
    pub fn start(full: bool) -> Self {
        let (queue, rx) = sync_channel::<(String, Option<String>)>(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("notifications".into())
            .spawn(move || {
                for (what, words) in rx {
                    let mut n = notify_rust::Notification::new();
                    n.appname("Mend").summary(&what).icon("mail-unread");
                    if let Some(words) = &words {
                        n.body(words);
                    }
                    if let Err(e) = n.show() {
                        tracing::debug!("no desktop notification: {e}");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::debug!("no notification thread: {e}");
        }
        Self { queue, full }
    }

    /// Raise one (in the background).
    pub fn send(&self, notice: &Notice) {
        let words = if self.full {
            notice.words.clone()
        } else {
            None
        };
        match self.queue.try_send((notice.what.clone(), words)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => tracing::debug!("notifications queue full; dropped one"),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}
