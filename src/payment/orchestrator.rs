//! The orchestrator: the one way money moves. It starts attempts through connectors
//! ([`start`](super::start)), applies what gateways answer ([`outcome`](super::outcome)),
//! takes their notifications and the customer's 3-D Secure result ([`callback`](super::callback)),
//! asks about what they never reported ([`reconcile`](super::reconcile)) and gives back money
//! that reached an attempt which lost ([`refund`](super::refund)). Every API and page that moves
//! money calls into this.
//!
//! The attempt protocol, which every one of those follows:
//! 1. An attempt is stored as `PROCESSING` (possibly charged, with a `settle_by`) before any
//!    request leaves for its gateway. From then on it is never cancelled locally: only the
//!    gateway's answer, a verified notification confirmed by a status query, or a status query
//!    (by the gateway's id, or by Settle's reference when the id never arrived) settles it.
//! 2. At most one attempt per purchase is open (a unique index). A new attempt replaces an open
//!    one only if it can't have moved money: one waiting for a 3-D Secure challenge, an invoice,
//!    or a hosted checkout that the gateway has just cancelled. Otherwise the new attempt is
//!    refused with the open one's reference ([`Error::PaymentInProgress`]).
//! 3. Money that still reaches an attempt that lost is refunded through the connector, from a
//!    durable job, and recorded on both payments' timelines.
//! 4. Reconciliation asks about every unsettled attempt on a backing-off schedule (5 s, 30 s,
//!    2 min, 10 min, 1 h by default, or its gateway's own settle-after and schedule) until its
//!    gateway settles it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use crate::connector::{
    Connector, ConnectorError, ConnectorSettings, Connectors, GatewayConnection, GatewayResult,
};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::gateway::Gateway;
use crate::payment::record::Payment;

/// Settle's own URLs the gateways call back, as the server routes them: each a path template
/// under `public_url` (`{gateway}`, `{reference}` filled in).
#[derive(Clone, Debug)]
pub struct CallbackUrls {
    /// Settle's public base URL.
    pub public_url: Url,
    /// Where a gateway posts server-to-server notifications (`{gateway}`).
    pub notification: String,
    /// Where a hosted page sends the customer back (the payment reference goes in `?token=`).
    pub hosted_return: String,
    /// Where the issuer's 3-D Secure page posts its result (`{reference}`).
    pub challenge_return: String,
    /// Where a collection's hosted page may send the customer back through Settle, which then
    /// forwards them to the client's page with the outcome (`{collector}`).
    pub collection_return: String,
}

impl CallbackUrls {
    fn at(&self, path: &str) -> Result<Url> {
        crate::connector::http::endpoint(&self.public_url, path)
            .ok_or_else(|| Error::Internal(format!("public_url cannot take the path {path}")))
    }

    /// Where a gateway posts server-to-server notifications.
    pub fn notification(&self, gateway_id: &str) -> Result<Url> {
        self.at(&self.notification.replace("{gateway}", gateway_id))
    }

    /// Where a hosted checkout sends the customer back.
    pub fn hosted_return(&self, reference: &str) -> Result<Url> {
        let mut url = self.at(&self.hosted_return)?;
        url.query_pairs_mut().append_pair("token", reference);
        Ok(url)
    }

    /// Where the issuer's 3-D Secure page posts its result.
    pub fn challenge_return(&self, reference: &str) -> Result<Url> {
        self.at(&self.challenge_return.replace("{reference}", reference))
    }

    /// Whether `url` is Settle's own collection return (on its public origin, under the
    /// collection return's path): a way back a client may name besides its registered origins.
    pub fn is_collection_return(&self, url: &Url) -> bool {
        let prefix = self.collection_return.split("{collector}").next().unwrap_or_default();
        let Ok(base) = self.at(prefix) else { return false };
        url.origin() == base.origin()
            && !prefix.is_empty()
            && url.path().starts_with(base.path())
            && url.path().len() > base.path().len()
    }

    /// Whether `url` is one of Settle's own customer pages (on its public origin, under
    /// `/account/`): the way back its pay now pages name, which sends nobody off-site.
    pub fn is_customer_page(&self, url: &Url) -> bool {
        url.origin() == self.public_url.origin() && url.path().starts_with("/account/")
    }
}

/// When reconciliation asks gateways about unsettled payments.
#[derive(Clone, Debug)]
pub struct ReconcilePolicy {
    /// Waits before each ask, from when the payment entered its state; the last repeats.
    pub schedule: Vec<Duration>,
    /// A payment still waiting for its customer after this long is given up: a hosted checkout
    /// is cancelled at its gateway, an unanswered challenge times out. Payments that may have
    /// been charged are never given up; they stay on the schedule until the gateway answers.
    pub give_up_after: Duration,
    /// How many payments one sweep claims.
    pub batch: i64,
}

impl Default for ReconcilePolicy {
    fn default() -> Self {
        ReconcilePolicy {
            schedule: [5, 30, 120, 600, 3600].map(Duration::from_secs).to_vec(),
            give_up_after: Duration::from_secs(24 * 3600),
            batch: 100,
        }
    }
}

impl ReconcilePolicy {
    /// The wait before the ask after `asked` earlier asks.
    pub fn wait(&self, asked: i64) -> Duration {
        let step = usize::try_from(asked).unwrap_or(usize::MAX);
        self.schedule.get(step).or(self.schedule.last()).copied().unwrap_or(Duration::from_secs(60))
    }

    /// When the first ask after a change is due.
    pub fn first(&self) -> Duration {
        self.wait(0)
    }

    /// This policy as one gateway's own timing changes it: its settle-after is the wait before
    /// the first ask, its schedule the waits between the asks after that (the last repeats);
    /// what it leaves unset stays as here. The give-up time and batch are not the gateway's.
    pub fn for_gateway(&self, timing: &GatewayTiming) -> ReconcilePolicy {
        if timing.settle_after.is_none() && timing.schedule.is_none() {
            return self.clone();
        }
        let first = timing.settle_after.unwrap_or_else(|| self.first());
        let between = match &timing.schedule {
            Some(steps) if !steps.is_empty() => steps.clone(),
            _ if self.schedule.len() > 1 => self.schedule[1..].to_vec(),
            _ => vec![self.first()],
        };
        ReconcilePolicy {
            schedule: std::iter::once(first).chain(between).collect(),
            give_up_after: self.give_up_after,
            batch: self.batch,
        }
    }
}

/// A gateway's own reconciliation timing, as an operator configured it (`gateways.
/// settle_after_seconds`, `gateways.reconcile_schedule`); `None`: the global policy's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewayTiming {
    /// How long an attempt may stay unsettled before its gateway is first asked about it.
    pub settle_after: Option<Duration>,
    /// The waits between the asks after the first; the last repeats.
    pub schedule: Option<Vec<Duration>>,
}

impl GatewayTiming {
    /// The timing as stored: seconds, and the schedule as comma-separated seconds. Values the
    /// pages would refuse (zero, negative, unreadable) are left out rather than trusted, so a
    /// bad row can't make reconciliation ask in a tight loop.
    pub fn stored(settle_after_seconds: Option<i64>, schedule: Option<&str>) -> GatewayTiming {
        let seconds = |n: i64| u64::try_from(n).ok().filter(|n| *n > 0).map(Duration::from_secs);
        let schedule = schedule
            .map(|text| {
                text.split(',')
                    .filter(|step| !step.trim().is_empty())
                    .map(|step| step.trim().parse::<i64>().ok().and_then(seconds))
                    .collect::<Option<Vec<Duration>>>()
            })
            .and_then(|steps| steps.filter(|steps| !steps.is_empty()));
        GatewayTiming { settle_after: settle_after_seconds.and_then(seconds), schedule }
    }
}

/// Starts, advances and settles payments.
#[derive(Clone)]
pub struct Orchestrator {
    pub(super) db: Db,
    registry: Arc<RwLock<Arc<Registry>>>,
    /// How to build connectors again when the gateways change (`None`: connectors were given).
    settings: Option<ConnectorSettings>,
    pub(super) urls: CallbackUrls,
    pub(super) reconcile: Arc<ReconcilePolicy>,
    /// Payments this instance is sending to a gateway now.
    pub(super) in_flight: super::in_flight::InFlight,
    reloading: Arc<tokio::sync::Mutex<()>>,
}

/// The gateways as last loaded, with their connectors.
pub(super) struct Registry {
    pub(super) connectors: Connectors,
    pub(super) gateways: HashMap<String, GatewayConnection>,
}

impl Orchestrator {
    /// An orchestrator over the given gateways and connectors (tests inject fakes this way).
    pub fn new(
        db: Db,
        connectors: Connectors,
        gateways: Vec<GatewayConnection>,
        urls: CallbackUrls,
        reconcile: ReconcilePolicy,
    ) -> Orchestrator {
        let gateways = gateways.into_iter().map(|g| (g.gateway.id.clone(), g)).collect();
        Orchestrator {
            db,
            registry: Arc::new(RwLock::new(Arc::new(Registry { connectors, gateways }))),
            settings: None,
            urls,
            reconcile: Arc::new(reconcile),
            in_flight: Default::default(),
            reloading: Default::default(),
        }
    }

    /// An orchestrator over the gateways configured in the database, which
    /// [`reload_gateways`](Self::reload_gateways) reads again after a change.
    pub async fn from_database(
        db: Db,
        settings: ConnectorSettings,
        urls: CallbackUrls,
        reconcile: ReconcilePolicy,
    ) -> Result<Orchestrator> {
        let gateways = Gateway::connections(&db).await?;
        let connectors = Connectors::for_gateways(&gateways, &settings);
        let mut orchestrator = Orchestrator::new(db, connectors, gateways, urls, reconcile);
        orchestrator.settings = Some(settings);
        Ok(orchestrator)
    }

    /// Reads the gateways again and rebuilds their connectors: a changed timeout, key or
    /// address applies to the next request. Payments in flight keep the connector they had.
    pub async fn reload_gateways(&self) -> Result<()> {
        let Some(settings) = &self.settings else { return Ok(()) };
        // One reload at a time, so a slower one that read the gateways earlier can't install
        // them over a newer one's (the watcher's reload racing an operator's save).
        let _one_at_a_time = self.reloading.lock().await;
        let gateways = Gateway::connections(&self.db).await?;
        let connectors = Connectors::for_gateways(&gateways, settings);
        let gateways = gateways.into_iter().map(|g| (g.gateway.id.clone(), g)).collect();
        let fresh = Arc::new(Registry { connectors, gateways });
        *self.registry.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    /// The gateways and connectors in use now.
    pub(super) fn registry(&self) -> Arc<Registry> {
        self.registry.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Settle's callback URLs.
    pub fn urls(&self) -> &CallbackUrls {
        &self.urls
    }

    /// The global reconciliation schedule (what gateways without their own timing follow).
    pub fn reconcile_policy(&self) -> &ReconcilePolicy {
        &self.reconcile
    }

    /// The reconciliation schedule a gateway's payments follow: the global one as its own
    /// timing (loaded with the gateways, so a reload picks a change up) adjusts it.
    pub fn reconcile_policy_for(&self, gateway_id: &str) -> ReconcilePolicy {
        match self.registry().gateways.get(gateway_id) {
            Some(g) => self.reconcile.for_gateway(&g.reconcile),
            None => (*self.reconcile).clone(),
        }
    }

    /// The gateways as last loaded (the server derives its frame origins from them).
    pub fn gateway_connections(&self) -> Vec<GatewayConnection> {
        let mut all: Vec<GatewayConnection> = self.registry().gateways.values().cloned().collect();
        all.sort_by(|a, b| a.gateway.id.cmp(&b.gateway.id));
        all
    }

    /// The connector of a gateway (Apple Pay merchant validation talks to it directly).
    pub fn connector(&self, id: &str) -> Result<Arc<dyn Connector>> {
        self.registry()
            .connectors
            .get(id)
            .ok_or_else(|| Error::Internal(format!("no connector for gateway {id}")))
    }

    /// When reconciliation first asks about a payment of `gateway_id` that just entered an
    /// unsettled state.
    pub(super) fn first_ask(&self, gateway_id: &str) -> Duration {
        self.reconcile_policy_for(gateway_id).first()
    }

    /// Asks a payment's gateway where it stands: by the gateway's id if Settle has it, else by
    /// Settle's own reference. `Ok(None)`: the gateway has no payment under that reference.
    pub(super) async fn ask_gateway(
        &self,
        payment: &Payment,
    ) -> Result<Option<GatewayResult>, ConnectorError> {
        let connector = self
            .registry()
            .connectors
            .get(&payment.gateway_id)
            .ok_or(ConnectorError::Unsupported("status queries"))?;
        let by_id = |reference: String| {
            let connector = connector.clone();
            async move {
                match connector.query_status(&reference).await {
                    Ok(result) => Ok(Some(result)),
                    Err(ConnectorError::Refused { status: 404, .. }) => Ok(None),
                    Err(e) => Err(e),
                }
            }
        };
        match &payment.gateway_reference {
            Some(reference) => by_id(reference.clone()).await,
            None => match connector.find_by_reference(&payment.reference).await {
                // Providers whose status query also takes the merchant's own reference.
                Err(ConnectorError::Unsupported(_)) => by_id(payment.reference.clone()).await,
                other => other,
            },
        }
    }

    /// How long after its creation a payment's request to its gateway can still be in flight:
    /// before then, "the gateway has no such payment" may only mean it hasn't arrived yet.
    pub(super) fn in_flight_until(&self, payment: &Payment) -> DateTime<Utc> {
        let timeout = self
            .registry()
            .gateways
            .get(&payment.gateway_id)
            .map_or(Duration::from_secs(30), |g| g.timeout);
        // Requests that may charge are sent once (never retried), so the request timeout plus a
        // margin for clocks.
        let window = chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX)
            + chrono::Duration::seconds(5);
        payment.updated_at + window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(policy: &ReconcilePolicy) -> Vec<u64> {
        (0..5).map(|i| policy.wait(i).as_secs()).collect()
    }

    #[test]
    fn a_gateways_timing_adjusts_the_global_schedule() {
        let global = ReconcilePolicy::default();
        let own = |after: Option<i64>, schedule: Option<&str>| {
            secs(&global.for_gateway(&GatewayTiming::stored(after, schedule)))
        };
        assert_eq!(own(None, None), [5, 30, 120, 600, 3600]);
        assert_eq!(own(Some(90), None), [90, 30, 120, 600, 3600]);
        assert_eq!(own(None, Some("200, 400")), [5, 200, 400, 400, 400]);
        assert_eq!(own(Some(90), Some("200,400")), [90, 200, 400, 400, 400]);
        // What the pages would refuse is not trusted: the global value stays.
        assert_eq!(own(Some(0), Some("5, soon")), [5, 30, 120, 600, 3600]);
        assert_eq!(own(Some(-3), Some(" ")), [5, 30, 120, 600, 3600]);
    }
}
