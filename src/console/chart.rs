//! The overview's chart, drawn on the server as SVG from sixty numbers: bars
//! for the deliveries created in each minute of the last hour (split into
//! succeeded, failed and not finished yet), a line for the success rate of
//! those that finished. No chart library and no client-side fetching: the
//! page arrives complete, and each bar names its numbers in a `<title>`.

use chrono::{DateTime, Duration, DurationRound, Utc};
use maud::{html, Markup};

use crate::store::stats::Minute;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 44.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;
const MINUTES: usize = 60;

/// The sixty minutes ending with the current one, oldest first; minutes
/// without deliveries are zero.
pub fn buckets(now: DateTime<Utc>, minutes: &[Minute]) -> Vec<Minute> {
    let current = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
    (0..MINUTES)
        .map(|i| {
            let minute = current - Duration::minutes((MINUTES - 1 - i) as i64);
            minutes
                .iter()
                .find(|m| m.minute == minute)
                .cloned()
                .unwrap_or(Minute {
                    minute,
                    ..Minute::default()
                })
        })
        .collect()
}

/// The smallest of 2, 4, 6, 8 × 10ⁿ at or above `n`: a round top for the
/// axis whose half, the middle line, is a whole number too.
fn round_up(n: i64) -> i64 {
    let mut step = 1;
    loop {
        for m in [2, 4, 6, 8] {
            if step * m >= n {
                return step * m;
            }
        }
        step *= 10;
    }
}

fn fmt(x: f64) -> String {
    format!("{x:.1}")
}

pub fn last_hour(buckets: &[Minute]) -> Markup {
    let top = round_up(
        buckets
            .iter()
            .map(|m| m.deliveries)
            .max()
            .unwrap_or(0)
            .max(1),
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / MINUTES as f64;
    let bar = (slot * 0.78).max(1.0);
    let y_of = |n: i64| TOP + plot_h - plot_h * n as f64 / top as f64;
    let total: i64 = buckets.iter().map(|m| m.deliveries).sum();
    let succeeded: i64 = buckets.iter().map(|m| m.succeeded).sum();
    let failed: i64 = buckets.iter().map(|m| m.failed).sum();
    let rate: Vec<(f64, f64)> = buckets
        .iter()
        .enumerate()
        .filter(|(_, m)| m.succeeded + m.failed > 0)
        .map(|(i, m)| {
            let r = m.succeeded as f64 / (m.succeeded + m.failed) as f64;
            (LEFT + slot * (i as f64 + 0.5), TOP + plot_h * (1.0 - r))
        })
        .collect();
    let line: String = rate
        .iter()
        .enumerate()
        .map(|(i, (x, y))| format!("{}{},{}", if i == 0 { "M" } else { " L" }, fmt(*x), fmt(*y)))
        .collect();
    let summary = format!(
        "Deliveries per minute over the last hour: {total} in all, {succeeded} succeeded, {failed} failed."
    );
    html! {
        figure.chart {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) }
                role="img" aria-label=(summary) {
                @for frac in [0.0, 0.5, 1.0] {
                    @let y = TOP + plot_h * (1.0 - frac);
                    line.grid x1=(LEFT) x2=(WIDTH - RIGHT) y1=(fmt(y)) y2=(fmt(y)) {}
                    text.axis x=(LEFT - 6.0) y=(fmt(y + 4.0)) text-anchor="end" {
                        ((top as f64 * frac).round() as i64)
                    }
                    text.axis x=(WIDTH - RIGHT + 6.0) y=(fmt(y + 4.0)) { ((frac * 100.0) as i64) "%" }
                }
                @for (i, m) in buckets.iter().enumerate() {
                    @let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
                    @let pending = (m.deliveries - m.succeeded - m.failed).max(0);
                    @if m.deliveries > 0 {
                        g {
                            title {
                                (m.minute.format("%H:%M UTC")) ": " (m.deliveries) " deliveries, "
                                (m.succeeded) " succeeded, " (m.failed) " failed"
                            }
                            rect.bar-ok x=(fmt(x)) width=(fmt(bar)) y=(fmt(y_of(m.succeeded)))
                                height=(fmt(y_of(0) - y_of(m.succeeded))) {}
                            rect.bar-failed x=(fmt(x)) width=(fmt(bar)) y=(fmt(y_of(m.succeeded + m.failed)))
                                height=(fmt(y_of(m.succeeded) - y_of(m.succeeded + m.failed))) {}
                            rect.bar-pending x=(fmt(x)) width=(fmt(bar)) y=(fmt(y_of(m.deliveries)))
                                height=(fmt(y_of(m.succeeded + m.failed) - y_of(m.succeeded + m.failed + pending))) {}
                        }
                    }
                }
                @if !line.is_empty() {
                    path.rate d=(line) {}
                    @for (x, y) in &rate {
                        circle.rate-dot cx=(fmt(*x)) cy=(fmt(*y)) r="2" {}
                    }
                }
                @for (i, label) in [(0usize, "−60 min"), (15, "−45"), (30, "−30"), (45, "−15"), (59, "now")] {
                    text.axis x=(fmt(LEFT + slot * (i as f64 + 0.5))) y=(HEIGHT - 8.0) text-anchor="middle" { (label) }
                }
            }
            figcaption {
                ul.legend {
                    li { span.key.ok {} "succeeded" }
                    li { span.key.failed {} "failed" }
                    li { span.key.pending {} "not finished" }
                    li { span.key.rate {} "success rate of those finished (right axis)" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_has_sixty_bars_and_quiet_minutes_are_empty() {
        let now = Utc::now();
        let current = now.duration_trunc(Duration::minutes(1)).unwrap();
        let busy = Minute {
            minute: current - Duration::minutes(3),
            deliveries: 10,
            succeeded: 7,
            failed: 2,
        };
        let all = buckets(now, std::slice::from_ref(&busy));
        assert_eq!(all.len(), 60);
        assert_eq!(all[56].deliveries, 10);
        assert_eq!(all.iter().map(|m| m.deliveries).sum::<i64>(), 10);
        let svg = last_hour(&all).into_string();
        assert_eq!(svg.matches("<rect").count(), 3, "one minute, three parts");
        assert!(svg.contains("10 deliveries, 7 succeeded, 2 failed"));
        assert!(svg.contains("<path class=\"rate\""));
    }

    #[test]
    fn the_axis_tops_out_at_a_round_number() {
        assert_eq!(round_up(1), 2);
        assert_eq!(round_up(3), 4);
        assert_eq!(round_up(9), 20);
        assert_eq!(round_up(11), 20);
        assert_eq!(round_up(4999), 6000);
    }
}
