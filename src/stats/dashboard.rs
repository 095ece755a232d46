//! The admin dashboard's numbers for a period (today, 7 days, 30 days): payments per state, per
//! gateway and per day or hour, the success rate, how long payments take to a final state, the
//! payments stuck now, and how often webhook deliveries fail. Each query is served by an index
//! (migration 19); the aggregation across groups happens here, on a few hundred grouped rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::db::{Backend, Db};
use crate::error::{Error, Result};
use crate::money::{Currency, Money};
use crate::payment::PaymentState;
use crate::with_db;

/// A payment not moved for this long while not final (nor waiting on an invoice) is stuck.
pub const STUCK_AFTER: Duration = Duration::hours(1);
/// At most this many stuck payments are listed (the count covers them all).
pub const STUCK_LISTED: i64 = 20;

crate::text_enum!(
    /// The span the dashboard covers.
    Period, field = "period", {
        /// Since midnight (UTC), by hour.
        Today = "today",
        /// The last 7 days, by day.
        Week = "7d",
        /// The last 30 days, by day.
        Month = "30d",
    }
);

impl Period {
    /// Words for the switch ("Today", "7 days", "30 days").
    pub fn label(self) -> &'static str {
        match self {
            Period::Today => "Today",
            Period::Week => "7 days",
            Period::Month => "30 days",
        }
    }

    /// Where the period starts, seen at `now`.
    pub fn since(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Period::Today => now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc()),
            Period::Week => now - Duration::days(7),
            Period::Month => now - Duration::days(30),
        }
    }

    /// Whether its chart has a bar per hour (else per day).
    pub fn hourly(self) -> bool {
        self == Period::Today
    }
}

/// How a payment's state counts on the dashboard's charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Money taken and kept (PAYMENT_SUCCESS, CONVERTING_POLICY, POLICY_CONVERTED).
    Paid,
    /// Money taken and given back.
    Refunded,
    /// Declined, errored or timed out.
    Failed,
    /// Cancelled before any money moved.
    Cancelled,
    /// Not concluded yet.
    Open,
}

impl Outcome {
    /// Every outcome, in chart order.
    pub const ALL: [Outcome; 5] =
        [Outcome::Paid, Outcome::Refunded, Outcome::Failed, Outcome::Cancelled, Outcome::Open];

    /// The outcome a state counts as.
    pub fn of(state: PaymentState) -> Outcome {
        use PaymentState as S;
        match state {
            s if s.is_success() => Outcome::Paid,
            S::Refunded => Outcome::Refunded,
            S::PaymentFailed | S::TerminalError | S::TimedOut => Outcome::Failed,
            S::Cancelled => Outcome::Cancelled,
            _ => Outcome::Open,
        }
    }

    /// Its name on the dashboard.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Paid => "Paid",
            Outcome::Refunded => "Refunded",
            Outcome::Failed => "Failed",
            Outcome::Cancelled => "Cancelled",
            Outcome::Open => "Open",
        }
    }
}

/// Payments in one state over the period.
#[derive(Clone, Debug, PartialEq)]
pub struct StateTotal {
    /// The state.
    pub state: PaymentState,
    /// How many.
    pub count: i64,
    /// Their amounts, one sum per currency.
    pub volume: Vec<Money>,
}

/// Payments through one gateway over the period.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayTotal {
    /// The gateway's id.
    pub gateway: String,
    /// How many payments.
    pub count: i64,
    /// How many of them were paid (and kept).
    pub paid: i64,
    /// What all of them asked for, per currency.
    pub volume: Vec<Money>,
    /// What was paid and kept, per currency.
    pub paid_volume: Vec<Money>,
}

/// Payments started in one hour or day, by outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// `2026-12-06` for a day, `2026-12-06T14` for an hour (UTC).
    pub key: String,
    /// Counts in [`Outcome::ALL`] order.
    pub counts: [i64; 5],
}

/// A payment not final long after it last moved.
#[derive(Clone, Debug, PartialEq)]
pub struct StuckPayment {
    /// Its reference.
    pub reference: String,
    /// Where it rests.
    pub state: PaymentState,
    /// Its gateway.
    pub gateway: String,
    /// Its amount.
    pub amount: Money,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it last moved.
    pub updated_at: DateTime<Utc>,
}

/// The dashboard for one period.
#[derive(Clone, Debug)]
pub struct Dashboard {
    /// The period.
    pub period: Period,
    /// Its start.
    pub since: DateTime<Utc>,
    /// When the numbers were read.
    pub now: DateTime<Utc>,
    /// Payments started in the period.
    pub total: i64,
    /// Per state, in state order, only states that occur.
    pub by_state: Vec<StateTotal>,
    /// Per gateway, most payments first.
    pub by_gateway: Vec<GatewayTotal>,
    /// Per hour (today) or day, oldest first, every bucket of the period (empty ones too).
    pub buckets: Vec<Bucket>,
    /// Paid or refunded among the concluded payments (open ones don't count), 0–1.
    pub success_rate: Option<f64>,
    /// Median time from start to the first final state, over payments that reached one.
    pub median_to_final: Option<Duration>,
    /// 95th percentile of the same (nearest rank).
    pub p95_to_final: Option<Duration>,
    /// All payments stuck now (not only the period's).
    pub stuck_count: i64,
    /// The oldest of them, at most [`STUCK_LISTED`].
    pub stuck: Vec<StuckPayment>,
    /// Webhook delivery attempts in the period.
    pub webhook_attempts: i64,
    /// How many of them failed.
    pub webhook_failures: i64,
}

impl Dashboard {
    /// Failed webhook deliveries among all attempts, 0–1 (`None` without attempts).
    pub fn webhook_failure_rate(&self) -> Option<f64> {
        (self.webhook_attempts > 0)
            .then(|| self.webhook_failures as f64 / self.webhook_attempts as f64)
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted values.
pub fn percentile<T: Copy>(sorted: &[T], p: u32) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied()
}

type GroupRow = (String, i64, String, String, i64, i64);

/// Reads the dashboard for `period` as of now.
pub async fn dashboard(db: &Db, period: Period) -> Result<Dashboard> {
    let now = Utc::now();
    let since = period.since(now);
    let bucket = match (db.backend(), period.hourly()) {
        (Backend::Sqlite, true) => "substr(created_at, 1, 13)",
        (Backend::Sqlite, false) => "substr(created_at, 1, 10)",
        (Backend::Postgres, true) => {
            "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')"
        }
        (Backend::Postgres, false) => "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    };
    let sql = format!(
        "SELECT {bucket}, state, gateway_id, currency, COUNT(*), CAST(SUM(amount_minor) AS BIGINT)
         FROM payments WHERE created_at >= $1 GROUP BY {bucket}, state, gateway_id, currency"
    );
    let rows: Vec<GroupRow> =
        with_db!(db, pool => sqlx::query_as(&sql).bind(since).fetch_all(pool).await)?;

    let mut states: BTreeMap<i16, (i64, BTreeMap<&'static str, i64>)> = BTreeMap::new();
    let mut gateways: BTreeMap<String, GatewayTotal> = BTreeMap::new();
    let mut volumes: BTreeMap<(String, bool), BTreeMap<&'static str, i64>> = BTreeMap::new();
    let mut buckets: BTreeMap<String, [i64; 5]> =
        bucket_keys(period, since, now).into_iter().map(|k| (k, [0; 5])).collect();
    let (mut total, mut concluded, mut succeeded) = (0, 0, 0);
    for (key, code, gateway, currency, count, sum) in rows {
        let state = i16::try_from(code)
            .ok()
            .and_then(PaymentState::from_code)
            .ok_or_else(|| Error::Internal(format!("payments.state {code}")))?;
        let currency = Currency::parse(&currency).map_err(|e| Error::Internal(e.to_string()))?;
        let outcome = Outcome::of(state);
        total += count;
        if outcome != Outcome::Open {
            concluded += count;
        }
        if matches!(outcome, Outcome::Paid | Outcome::Refunded) {
            succeeded += count;
        }
        let s = states.entry(state.code()).or_default();
        s.0 += count;
        *s.1.entry(currency.code()).or_default() += sum;
        let g = gateways.entry(gateway.clone()).or_insert_with(|| GatewayTotal {
            gateway: gateway.clone(),
            count: 0,
            paid: 0,
            volume: Vec::new(),
            paid_volume: Vec::new(),
        });
        g.count += count;
        *volumes
            .entry((gateway.clone(), false))
            .or_default()
            .entry(currency.code())
            .or_default() += sum;
        if outcome == Outcome::Paid {
            g.paid += count;
            *volumes.entry((gateway, true)).or_default().entry(currency.code()).or_default() += sum;
        }
        let index = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(4);
        buckets.entry(key).or_insert([0; 5])[index] += count;
    }
    let money = |sums: Option<&BTreeMap<&'static str, i64>>| -> Vec<Money> {
        sums.into_iter()
            .flatten()
            .filter_map(|(code, minor)| {
                Currency::parse(code).ok().map(|c| Money::from_minor(*minor, c))
            })
            .collect()
    };
    let by_state = states
        .into_iter()
        .filter_map(|(code, (count, sums))| {
            Some(StateTotal {
                state: PaymentState::from_code(code)?,
                count,
                volume: money(Some(&sums)),
            })
        })
        .collect();
    let mut by_gateway: Vec<GatewayTotal> = gateways
        .into_values()
        .map(|mut g| {
            g.volume = money(volumes.get(&(g.gateway.clone(), false)));
            g.paid_volume = money(volumes.get(&(g.gateway.clone(), true)));
            g
        })
        .collect();
    by_gateway.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.gateway.cmp(&b.gateway)));

    let mut to_final = times_to_final(db, since).await?;
    to_final.sort();
    let (stuck_count, stuck) = stuck(db, now - STUCK_AFTER).await?;
    let (webhook_attempts, webhook_failures) = webhooks(db, since).await?;
    Ok(Dashboard {
        period,
        since,
        now,
        total,
        by_state,
        by_gateway,
        buckets: buckets.into_iter().map(|(key, counts)| Bucket { key, counts }).collect(),
        success_rate: (concluded > 0).then(|| succeeded as f64 / concluded as f64),
        median_to_final: percentile(&to_final, 50),
        p95_to_final: percentile(&to_final, 95),
        stuck_count,
        stuck,
        webhook_attempts,
        webhook_failures,
    })
}

/// Every bucket key of the period, oldest first (so quiet hours and days show as empty).
fn bucket_keys(period: Period, since: DateTime<Utc>, now: DateTime<Utc>) -> Vec<String> {
    let (step, format) = if period.hourly() {
        (Duration::hours(1), "%Y-%m-%dT%H")
    } else {
        (Duration::days(1), "%Y-%m-%d")
    };
    let mut keys = Vec::new();
    let mut at = since;
    while at <= now {
        keys.push(at.format(format).to_string());
        at += step;
    }
    let last = now.format(format).to_string();
    if keys.last() != Some(&last) {
        keys.push(last);
    }
    keys
}

/// How long each payment started since `since` took to its first final state.
async fn times_to_final(db: &Db, since: DateTime<Utc>) -> Result<Vec<Duration>> {
    let sql = "SELECT p.created_at, MIN(e.created_at) FROM payments p
               JOIN payment_events e ON e.payment_id = p.id AND e.to_state IN (7, 8, 9, 11, 12, 13)
               WHERE p.created_at >= $1 GROUP BY p.id, p.created_at";
    let rows: Vec<(DateTime<Utc>, DateTime<Utc>)> =
        with_db!(db, pool => sqlx::query_as(sql).bind(since).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|(start, end)| (end - start).max(Duration::zero())).collect())
}

type StuckRow = (String, i64, String, String, i64, DateTime<Utc>, DateTime<Utc>);

/// The count and the oldest of the payments not final and not moved since `before`.
async fn stuck(db: &Db, before: DateTime<Utc>) -> Result<(i64, Vec<StuckPayment>)> {
    let open = "state IN (1, 2, 3, 5, 6, 10) AND updated_at < $1";
    let count_sql = format!("SELECT COUNT(*) FROM payments WHERE {open}");
    let count: i64 =
        with_db!(db, pool => sqlx::query_scalar(&count_sql).bind(before).fetch_one(pool).await)?;
    let list_sql = format!(
        "SELECT reference, state, gateway_id, currency, amount_minor, created_at, updated_at
         FROM payments WHERE {open} ORDER BY updated_at LIMIT {STUCK_LISTED}"
    );
    let rows: Vec<StuckRow> =
        with_db!(db, pool => sqlx::query_as(&list_sql).bind(before).fetch_all(pool).await)?;
    let mut list = Vec::with_capacity(rows.len());
    for (reference, state, gateway, currency, minor, created_at, updated_at) in rows {
        let state = i16::try_from(state)
            .ok()
            .and_then(PaymentState::from_code)
            .ok_or_else(|| Error::Internal(format!("payments.state {state}")))?;
        let currency = Currency::parse(&currency).map_err(|e| Error::Internal(e.to_string()))?;
        list.push(StuckPayment {
            reference,
            state,
            gateway,
            amount: Money::from_minor(minor, currency),
            created_at,
            updated_at,
        });
    }
    Ok((count, list))
}

/// Webhook delivery attempts since `since`, and how many failed.
async fn webhooks(db: &Db, since: DateTime<Utc>) -> Result<(i64, i64)> {
    let sql = "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN invocation = 'FAILED' THEN 1 ELSE 0 END), 0) AS BIGINT)
               FROM webhook_attempts WHERE attempted_at >= $1";
    Ok(with_db!(db, pool => sqlx::query_as(sql).bind(since).fetch_one(pool).await)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<i64> = (1..=20).collect();
        assert_eq!(percentile(&values, 50), Some(10));
        assert_eq!(percentile(&values, 95), Some(19));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile::<i64>(&[], 50), None);
    }

    #[test]
    fn buckets_cover_the_period() {
        let now = "2026-12-06T14:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let today = bucket_keys(Period::Today, Period::Today.since(now), now);
        assert_eq!(today.first().map(String::as_str), Some("2026-12-06T00"));
        assert_eq!(today.last().map(String::as_str), Some("2026-12-06T14"));
        assert_eq!(today.len(), 15);
        let week = bucket_keys(Period::Week, Period::Week.since(now), now);
        assert_eq!(week.len(), 8);
        assert_eq!("30d".parse::<Period>().ok(), Some(Period::Month));
    }
}
