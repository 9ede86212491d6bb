//! Backoff with full jitter, and reading `Retry-After`.

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::config::RetryConfig;

/// How failed calls are retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts before giving up on failures.
    pub max_attempts: u32,
    /// `429`s accepted before giving up.
    pub max_throttled: u32,
    /// The first backoff's upper bound.
    pub base: Duration,
    /// The largest backoff.
    pub max: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl From<&RetryConfig> for RetryPolicy {
    fn from(c: &RetryConfig) -> RetryPolicy {
        RetryPolicy {
            max_attempts: c.max_attempts,
            max_throttled: c.max_throttled,
            base: Duration::from_millis(c.backoff_base_ms),
            max: Duration::from_millis(c.backoff_max_ms),
            max_retry_after: Duration::from_secs(c.max_retry_after_secs),
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the backoff after the `failures`-th failure
    /// (1-based): `min(max, base · 2^(failures-1))`.
    pub fn backoff_bound(&self, failures: u32) -> Duration {
        let doubling = 2u32.saturating_pow(failures.saturating_sub(1).min(30));
        self.base.saturating_mul(doubling).min(self.max)
    }

    /// The backoff after the `failures`-th failure: uniform in
    /// `0..=backoff_bound(failures)` ("full jitter").
    pub fn backoff(&self, failures: u32) -> Duration {
        let bound = self.backoff_bound(failures).as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(0..=bound))
    }
}

/// The wait a `Retry-After` header asks for: delay-seconds or an HTTP date
/// (measured from `wall_now`).
pub fn retry_after(headers: &HeaderMap, wall_now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(wall_now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::from(&RetryConfig {
            backoff_base_ms: 100,
            backoff_max_ms: 1000,
            ..RetryConfig::default()
        })
    }

    #[test]
    fn the_bound_doubles_up_to_the_cap_and_jitter_stays_under_it() {
        let p = policy();
        let bounds: Vec<u64> = (1..=6)
            .map(|n| p.backoff_bound(n).as_millis() as u64)
            .collect();
        assert_eq!(bounds, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_bound(u32::MAX), Duration::from_millis(1000));
        for n in 1..=6 {
            for _ in 0..50 {
                assert!(p.backoff(n) <= p.backoff_bound(n));
            }
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().expect("header"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        headers.insert(RETRY_AFTER, later.parse().expect("header"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert(RETRY_AFTER, "soon".parse().expect("header"));
        assert_eq!(retry_after(&headers, now), None);
    }
}
