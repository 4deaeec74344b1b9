//! How much a paired device may send this one: a byte budget per sync session and per day,
//! so that a modified program on the partner's laptop cannot fill this laptop's disk or
//! memory by pushing without end. Honest use is far below it: a first sync of a 20,000-entry
//! journal is tens of megabytes. No I/O and no clock: the day is passed in.

use std::collections::HashMap;

/// Bytes one device may send in one session this device answers.
pub const SESSION_BYTES: u64 = 128 << 20;
/// Bytes one device may send in one day (UTC), over all its sessions.
pub const DAY_BYTES: u64 = 512 << 20;

/// Requests one device may make in a burst, and how many more each second allows: a session
/// takes a few rounds (at most 64), so an honest device never comes near.
pub const REQUEST_BURST: f64 = 128.0;
pub const REQUESTS_PER_SECOND: f64 = 16.0;

/// Which budget a device went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    Session,
    Day,
    /// Too many requests too fast.
    Rate,
}

impl std::fmt::Display for Over {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Over::Session => write!(f, "more than {} MiB in one sync", SESSION_BYTES >> 20),
            Over::Day => write!(f, "more than {} MiB in one day", DAY_BYTES >> 20),
            Over::Rate => write!(
                f,
                "more than {REQUESTS_PER_SECOND} requests a second (after a burst of \
                 {REQUEST_BURST})"
            ),
        }
    }
}

#[derive(Debug, Default)]
struct Spent {
    session: u64,
    in_session: u64,
    day: i64,
    in_day: u64,
    /// Requests left in the bucket, and when it was last filled (seconds, the caller's clock).
    tokens: Option<f64>,
    filled_at: f64,
}

/// The bytes each device has sent, by device key.
#[derive(Debug, Default)]
pub struct Budgets {
    spent: HashMap<String, Spent>,
}

impl Budgets {
    /// Count one request from `device` at `now` (seconds on any steady clock). Past the rate,
    /// the request is refused (and not counted).
    pub fn request(&mut self, device: &str, now: f64) -> Result<(), Over> {
        let s = self.spent.entry(device.to_owned()).or_default();
        let tokens = match s.tokens {
            None => REQUEST_BURST,
            Some(t) => (t + (now - s.filled_at).max(0.0) * REQUESTS_PER_SECOND).min(REQUEST_BURST),
        };
        s.filled_at = now;
        if tokens < 1.0 {
            s.tokens = Some(tokens);
            return Err(Over::Rate);
        }
        s.tokens = Some(tokens - 1.0);
        Ok(())
    }

    /// Count `bytes` that `device` sent in `session` on `day` (days since the epoch, UTC).
    /// Past either budget, the bytes are refused (and not counted).
    pub fn charge(&mut self, device: &str, session: u64, day: i64, bytes: u64) -> Result<(), Over> {
        let s = self.spent.entry(device.to_owned()).or_default();
        if s.day != day {
            s.day = day;
            s.in_day = 0;
        }
        if s.session != session {
            s.session = session;
            s.in_session = 0;
        }
        if s.in_session.saturating_add(bytes) > SESSION_BYTES {
            return Err(Over::Session);
        }
        if s.in_day.saturating_add(bytes) > DAY_BYTES {
            return Err(Over::Day);
        }
        s.in_session += bytes;
        s.in_day += bytes;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn a_session_and_a_day_are_each_bounded_and_a_new_day_starts_afresh() {
        let mut b = Budgets::default();
        // One session: up to 128 MiB.
        for _ in 0..4 {
            b.charge("sam", 1, 100, 32 * MIB).unwrap();
        }
        assert_eq!(b.charge("sam", 1, 100, 1), Err(Over::Session));
        // New sessions the same day: up to 512 MiB in all.
        for session in 2..5 {
            for _ in 0..4 {
                b.charge("sam", session, 100, 32 * MIB).unwrap();
            }
        }
        assert_eq!(b.charge("sam", 5, 100, 1), Err(Over::Day));
        // Another device has its own budget; the next day starts afresh.
        b.charge("alex-phone", 1, 100, 32 * MIB).unwrap();
        b.charge("sam", 6, 101, 32 * MIB).unwrap();
        // A refused message is not counted.
        let mut c = Budgets::default();
        assert_eq!(c.charge("sam", 1, 1, SESSION_BYTES + 1), Err(Over::Session));
        c.charge("sam", 1, 1, SESSION_BYTES).unwrap();
    }

    #[test]
    fn requests_are_limited_to_a_burst_and_a_steady_rate() {
        let mut b = Budgets::default();
        for _ in 0..128 {
            b.request("sam", 0.0).unwrap();
        }
        assert_eq!(b.request("sam", 0.0), Err(Over::Rate));
        // Half a second later, eight more.
        for _ in 0..8 {
            b.request("sam", 0.5).unwrap();
        }
        assert_eq!(b.request("sam", 0.5), Err(Over::Rate));
        // Another device is not held back; a long pause refills the burst, no more.
        b.request("alex-phone", 0.5).unwrap();
        for _ in 0..128 {
            b.request("sam", 1000.0).unwrap();
        }
        assert_eq!(b.request("sam", 1000.0), Err(Over::Rate));
    }
}
