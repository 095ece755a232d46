//! Lookups and listings every provider answers alike: `GET {collection}?merchant_reference=…`
//! (a payment found by Settle's own reference) and `GET {collection}?since=<RFC 3339>` (every
//! money-taking object since a time, for the ledger check), answered `200 {"<key>": [...]}`.
//!
//! Each object in a list shows at least `id` (or the provider's alias), `merchant_reference`,
//! `amount` and `refunded_amount` as exact decimal strings, `currency`, `status` and
//! `created_at`.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::connector::http::send_json;
use crate::connector::{ConnectorConfig, ConnectorError, GatewayCharge};
use crate::money::{Currency, Money};

/// Which objects of a collection to list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter<'a> {
    /// Those made under Settle's payment reference.
    Reference(&'a str),
    /// Those created at or after a time.
    Since(DateTime<Utc>),
}

impl Filter<'_> {
    /// The query string, percent-encoded (an RFC 3339 `+00:00` must not arrive as a space).
    pub fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        match self {
            Filter::Reference(reference) => query.append_pair("merchant_reference", reference),
            Filter::Since(since) => query.append_pair("since", &since.to_rfc3339()),
        };
        query.finish()
    }
}

/// `GET {collection}?{filter}` and the objects under `key` in the answer. A status query: it
/// changes nothing, so it is retried once on a connection error.
///
/// A `404` with the provider's JSON error body is read as "nothing matches" (an empty list); a
/// bare `404` is not: that is a wrong base URL or a provider without this endpoint, and reading
/// it as "no payment" could let a charge be forgotten.
pub async fn list(
    config: &ConnectorConfig,
    client: &reqwest::Client,
    collection: &str,
    key: &str,
    filter: &Filter<'_>,
) -> Result<Vec<Value>, ConnectorError> {
    let path = format!("{collection}?{}", filter.query());
    let answer =
        send_json::<(), Value>(config, client, reqwest::Method::GET, &path, None, true).await;
    let answer = match answer {
        Err(e) if is_providers_not_found(&e) => return Ok(Vec::new()),
        other => other?,
    };
    match answer.get(key) {
        Some(Value::Array(items)) => Ok(items.clone()),
        _ => Err(ConnectorError::BadResponse(format!("list answer without {key:?}: {answer}"))),
    }
}

/// Whether an error is the provider's own `404` answer (`{"error": …}`), as opposed to a `404`
/// from something that is not the provider's API at all.
pub fn is_providers_not_found(error: &ConnectorError) -> bool {
    match error {
        ConnectorError::Refused { status: 404, message } => {
            serde_json::from_str::<Value>(message).is_ok_and(|body| body.get("error").is_some())
        }
        _ => false,
    }
}

/// The newest object of a list by `created_at`; where times are equal or missing, the one the
/// provider listed first (providers list newest first).
pub fn newest(items: Vec<Value>) -> Option<Value> {
    let mut best: Option<(Option<DateTime<Utc>>, Value)> = None;
    for item in items {
        let at = created_at(&item);
        let better = match &best {
            None => true,
            Some((best_at, _)) => at.is_some() && (best_at.is_none() || at > *best_at),
        };
        if better {
            best = Some((at, item));
        }
    }
    best.map(|(_, item)| item)
}

fn created_at(item: &Value) -> Option<DateTime<Utc>> {
    item.get("created_at")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// One money-taking object as a list shows it.
#[derive(Deserialize)]
struct ChargeLine {
    #[serde(alias = "transaction_id", alias = "collection_id", alias = "checkout_id")]
    id: String,
    #[serde(default)]
    merchant_reference: Option<String>,
    status: String,
    amount: String,
    currency: String,
    #[serde(default)]
    refunded_amount: Option<String>,
    created_at: DateTime<Utc>,
}

/// The objects of a list whose status says money was taken (`took_money`), as charges. An
/// object the mapping can't read is an error, not skipped: a ledger check that silently drops
/// a charge would report a clean ledger that isn't.
pub fn charges(
    items: &[Value],
    took_money: impl Fn(&str) -> bool,
) -> Result<Vec<GatewayCharge>, ConnectorError> {
    let mut charges = Vec::new();
    for item in items {
        let bad = |what: String| ConnectorError::BadResponse(format!("charge {item}: {what}"));
        let line: ChargeLine =
            serde_json::from_value(item.clone()).map_err(|e| bad(e.to_string()))?;
        if !took_money(&line.status) {
            continue;
        }
        let currency = Currency::parse(&line.currency).map_err(|e| bad(e.message))?;
        let money = |text: &str| Money::parse_decimal(text, currency).map_err(|e| bad(e.message));
        let payment_reference = line
            .merchant_reference
            .filter(|r| !r.is_empty())
            .ok_or_else(|| bad("no merchant_reference".into()))?;
        charges.push(GatewayCharge {
            gateway_reference: line.id,
            payment_reference,
            captured: money(&line.amount)?,
            refunded: match line.refunded_amount.as_deref() {
                Some(text) => money(text)?,
                None => Money::zero(currency),
            },
            created_at: line.created_at,
        });
    }
    Ok(charges)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_are_percent_encoded() {
        assert_eq!(Filter::Reference("PAY-1 &x").query(), "merchant_reference=PAY-1+%26x");
        let since = DateTime::parse_from_rfc3339("2026-03-01T10:00:00+00:00")
            .unwrap_or_else(|e| panic!("{e}"))
            .with_timezone(&Utc);
        assert_eq!(Filter::Since(since).query(), "since=2026-03-01T10%3A00%3A00%2B00%3A00");
    }

    #[test]
    fn only_the_providers_own_404_means_nothing_matches() {
        let refused =
            |message: &str| ConnectorError::Refused { status: 404, message: message.into() };
        assert!(is_providers_not_found(&refused(r#"{"error":"no such transaction"}"#)));
        assert!(!is_providers_not_found(&refused("")));
        assert!(!is_providers_not_found(&refused("<html>Not Found</html>")));
        assert!(!is_providers_not_found(&ConnectorError::Refused {
            status: 410,
            message: r#"{"error":"gone"}"#.into()
        }));
    }

    #[test]
    fn newest_goes_by_created_at_then_by_the_providers_order() {
        let older = json!({ "id": "a", "created_at": "2026-03-01T10:00:00Z" });
        let newer = json!({ "id": "b", "created_at": "2026-03-01T11:00:00Z" });
        let untimed = json!({ "id": "c" });
        assert_eq!(newest(vec![older.clone(), newer.clone()]), Some(newer.clone()));
        assert_eq!(newest(vec![newer.clone(), older.clone()]), Some(newer.clone()));
        assert_eq!(newest(vec![untimed.clone(), older.clone()]), Some(older));
        assert_eq!(newest(vec![untimed.clone()]), Some(untimed));
        assert_eq!(newest(Vec::new()), None);
    }

    #[test]
    fn charges_keep_only_money_taken_with_exact_amounts() {
        let items = vec![
            json!({ "id": "T1", "merchant_reference": "PAY-1", "status": "Ok", "amount": "51.34",
                    "currency": "GBP", "refunded_amount": "10.00",
                    "created_at": "2026-03-01T10:00:00Z" }),
            json!({ "id": "T2", "merchant_reference": "PAY-2", "status": "NotAuthed",
                    "amount": "51.34", "currency": "GBP", "created_at": "2026-03-01T10:00:00Z" }),
            json!({ "collection_id": "C3", "merchant_reference": "PAY-3", "status": "Ok",
                    "amount": "0.005", "currency": "KWD", "created_at": "2026-03-01T10:00:00Z" }),
        ];
        let charges = charges(&items, |s| s == "Ok").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(charges.len(), 2);
        assert_eq!(charges[0].gateway_reference, "T1");
        assert_eq!(charges[0].payment_reference, "PAY-1");
        assert_eq!(charges[0].captured, Money::from_minor(5134, Currency::GBP));
        assert_eq!(charges[0].refunded, Money::from_minor(1000, Currency::GBP));
        assert_eq!(charges[1].gateway_reference, "C3");
        assert_eq!(charges[1].captured, Money::from_minor(5, Currency::KWD));
        assert_eq!(charges[1].refunded, Money::zero(Currency::KWD));
    }

    #[test]
    fn unreadable_charges_are_errors_not_gaps() {
        for item in [
            json!({ "id": "T1", "status": "Ok", "amount": "1.00", "currency": "GBP",
                    "created_at": "2026-03-01T10:00:00Z" }),
            json!({ "id": "T1", "merchant_reference": "P", "status": "Ok", "amount": "1.001",
                    "currency": "GBP", "created_at": "2026-03-01T10:00:00Z" }),
            json!({ "id": "T1", "merchant_reference": "P", "status": "Ok", "amount": "1.00",
                    "currency": "XXX", "created_at": "2026-03-01T10:00:00Z" }),
            json!({ "id": "T1", "merchant_reference": "P", "status": "Ok", "amount": "1.00",
                    "currency": "GBP" }),
        ] {
            assert!(
                matches!(
                    charges(std::slice::from_ref(&item), |_| true),
                    Err(ConnectorError::BadResponse(_))
                ),
                "{item}"
            );
        }
    }

    /// A canned HTTP provider for connector tests: answers each request with the first route
    /// whose method and path prefix match (`404` with an empty body otherwise), and records
    /// every request line (`GET /path?query`).
    pub(crate) struct Canned {
        pub base: url::Url,
        pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Canned {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl Canned {
        pub async fn start(routes: Vec<(&'static str, &'static str, u16, String)>) -> Canned {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let port = listener.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
            let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = requests.clone();
            let task = tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match socket.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => break,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = vec![0u8; length];
                    let _ = socket.read_exact(&mut body).await;
                    let line = head.lines().next().unwrap_or_default();
                    let mut parts = line.split(' ');
                    let (method, target) =
                        (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
                    if let Ok(mut seen) = seen.lock() {
                        seen.push(format!("{method} {target}"));
                    }
                    let (status, answer) = routes
                        .iter()
                        .find(|(m, prefix, _, _)| *m == method && target.starts_with(prefix))
                        .map(|(_, _, status, body)| (*status, body.clone()))
                        .unwrap_or((404, String::new()));
                    let response = format!(
                        "HTTP/1.1 {status} Canned\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                }
            });
            let base = url::Url::parse(&format!("http://127.0.0.1:{port}/provider"))
                .unwrap_or_else(|e| panic!("{e}"));
            Canned { base, requests, task }
        }

        /// A connector configuration pointing at this provider.
        pub fn config(&self) -> ConnectorConfig {
            ConnectorConfig {
                gateway_id: "canned".into(),
                base_url: self.base.clone(),
                api_key: "k".into(),
                signing_secret: "s".into(),
                timeout: std::time::Duration::from_secs(5),
            }
        }

        /// The request lines received so far.
        pub fn seen(&self) -> Vec<String> {
            self.requests.lock().map(|r| r.clone()).unwrap_or_default()
        }
    }

    #[tokio::test]
    async fn lists_read_the_key_and_only_a_providers_404_is_empty() {
        let canned = Canned::start(vec![
            (
                "GET",
                "/provider/things?merchant_reference=P1",
                200,
                r#"{"things":[{"id":"a"}]}"#.into(),
            ),
            ("GET", "/provider/things?merchant_reference=P2", 404, r#"{"error":"none"}"#.into()),
            ("GET", "/provider/things?merchant_reference=P3", 200, r#"{"other":[]}"#.into()),
        ])
        .await;
        let (config, client) = (canned.config(), reqwest::Client::new());
        let found = list(&config, &client, "things", "things", &Filter::Reference("P1")).await;
        assert_eq!(found, Ok(vec![json!({ "id": "a" })]));
        let none = list(&config, &client, "things", "things", &Filter::Reference("P2")).await;
        assert_eq!(none, Ok(Vec::new()));
        let odd = list(&config, &client, "things", "things", &Filter::Reference("P3")).await;
        assert!(matches!(odd, Err(ConnectorError::BadResponse(_))), "{odd:?}");
        let wrong_url = list(&config, &client, "nothing-here", "x", &Filter::Reference("P1")).await;
        assert!(matches!(wrong_url, Err(ConnectorError::Refused { status: 404, .. })));
    }
}
