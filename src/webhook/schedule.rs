//! When a webhook is delivered: at once, then after each wait of the retry schedule.

use std::time::Duration;

use crate::error::{Error, Result};

/// The waits before each retry after the first, immediate attempt. The default is seed 001's
/// kind of schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (eight attempts in all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    retries: Vec<Duration>,
}

/// The default waits, in seconds.
pub const DEFAULT_RETRY_SECONDS: [u64; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            retries: DEFAULT_RETRY_SECONDS.iter().map(|s| Duration::from_secs(*s)).collect(),
        }
    }
}

impl Schedule {
    /// A schedule that retries after each of `retries` (empty: one attempt, no retry).
    pub fn new(retries: Vec<Duration>) -> Schedule {
        Schedule { retries }
    }

    /// A schedule from waits in seconds (the `webhook_retry_seconds` setting); more than 100
    /// retries is refused, as a typo rather than a policy.
    pub fn from_seconds(seconds: &[u64]) -> Result<Schedule> {
        if seconds.len() > 100 {
            return Err(Error::invalid("webhook_retry_seconds", "may list at most 100 retries"));
        }
        Ok(Schedule::new(seconds.iter().map(|s| Duration::from_secs(*s)).collect()))
    }

    /// Attempts a delivery gets in all: the first one and every retry.
    pub fn max_attempts(&self) -> i64 {
        i64::try_from(self.retries.len()).unwrap_or(i64::MAX - 1) + 1
    }

    /// Seed 001's `pendingWebhooks` in the body of attempt `attempt` (1 for the first): the
    /// maximum attempts minus the calls already executed, this one included.
    pub fn pending_after(&self, attempt: i64) -> i64 {
        (self.max_attempts() - attempt).max(0)
    }

    /// How long to wait after failed attempt `attempt` before the next; `None` when it was
    /// the last.
    pub fn wait_after(&self, attempt: i64) -> Option<Duration> {
        usize::try_from(attempt - 1).ok().and_then(|i| self.retries.get(i)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_is_eight_attempts() {
        let s = Schedule::default();
        assert_eq!(s.max_attempts(), 8);
        assert_eq!(s.pending_after(1), 7);
        assert_eq!(s.pending_after(8), 0);
        assert_eq!(s.wait_after(1), Some(Duration::from_secs(5)));
        assert_eq!(s.wait_after(2), Some(Duration::from_secs(300)));
        assert_eq!(s.wait_after(7), Some(Duration::from_secs(36000)));
        assert_eq!(s.wait_after(8), None);
        assert_eq!(s.wait_after(0), None);
    }

    #[test]
    fn no_retries_means_one_attempt() {
        let s = Schedule::from_seconds(&[]).unwrap();
        assert_eq!((s.max_attempts(), s.pending_after(1), s.wait_after(1)), (1, 0, None));
        assert!(Schedule::from_seconds(&[1; 101]).is_err());
    }
}
