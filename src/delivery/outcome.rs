//! What an attempt means for its delivery (docs/api.md, "Retries").

use std::time::Duration;

use super::send::{Answer, Failure};
use crate::config::RetrySchedule;

/// The longest a Retry-After header can push an attempt back.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retry { after: Duration },
    Failed { reason: String },
}

/// Decides an attempt: 2xx delivers; 410 fails at once; anything else retries
/// after the schedule's next delay (at least Retry-After on 429/503), or fails
/// when this was the last attempt of the budget.
pub fn decide(
    result: &Result<Answer, Failure>,
    attempt_in_budget: i32,
    schedule: &RetrySchedule,
) -> Outcome {
    if let Ok(answer) = result {
        if (200..300).contains(&answer.status) {
            return Outcome::Delivered;
        }
        if answer.status == 410 {
            return Outcome::Failed {
                reason: "410 Gone: the receiver asked for no more attempts".into(),
            };
        }
    }
    let Some(delay) = schedule.delay_after(attempt_in_budget) else {
        return Outcome::Failed {
            reason: format!("retry budget spent after {attempt_in_budget} attempts"),
        };
    };
    let after = match result {
        Ok(Answer {
            status: 429 | 503,
            retry_after: Some(wait),
            ..
        }) => delay.max((*wait).min(RETRY_AFTER_CAP)),
        _ => delay,
    };
    Outcome::Retry { after }
}

/// `Retry-After` as delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, retry_after: Option<u64>) -> Result<Answer, Failure> {
        Ok(Answer {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: String::new(),
        })
    }

    fn schedule() -> RetrySchedule {
        RetrySchedule(vec![Duration::from_secs(1), Duration::from_secs(4)])
    }

    #[test]
    fn two_hundreds_deliver_and_410_fails_at_once() {
        assert_eq!(
            decide(&answer(204, None), 1, &schedule()),
            Outcome::Delivered
        );
        assert!(matches!(
            decide(&answer(410, None), 1, &schedule()),
            Outcome::Failed { .. }
        ));
    }

    #[test]
    fn failures_follow_the_schedule_then_fail() {
        assert_eq!(
            decide(&answer(500, None), 1, &schedule()),
            Outcome::Retry {
                after: Duration::from_secs(1)
            }
        );
        assert_eq!(
            decide(
                &Err(Failure::Timeout(Duration::from_secs(1))),
                2,
                &schedule()
            ),
            Outcome::Retry {
                after: Duration::from_secs(4)
            }
        );
        assert!(matches!(
            decide(&answer(500, None), 3, &schedule()),
            Outcome::Failed { .. }
        ));
        assert!(matches!(
            decide(&answer(302, None), 3, &schedule()),
            Outcome::Failed { .. }
        ));
    }

    #[test]
    fn retry_after_waits_at_least_that_long_capped_at_an_hour() {
        assert_eq!(
            decide(&answer(429, Some(30)), 1, &schedule()),
            Outcome::Retry {
                after: Duration::from_secs(30)
            }
        );
        assert_eq!(
            decide(&answer(503, Some(999_999)), 1, &schedule()),
            Outcome::Retry {
                after: RETRY_AFTER_CAP
            }
        );
        // Only 429 and 503 honour it; shorter than the schedule, the schedule wins.
        assert_eq!(
            decide(&answer(500, Some(30)), 1, &schedule()),
            Outcome::Retry {
                after: Duration::from_secs(1)
            }
        );
        assert_eq!(
            decide(&answer(429, Some(0)), 2, &schedule()),
            Outcome::Retry {
                after: Duration::from_secs(4)
            }
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
