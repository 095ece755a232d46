//! The payments whose request to a gateway this instance is sending right now.
//!
//! Gateways often notify before they answer: the notification then finds the payment still
//! possibly charged and would ask the gateway about news the answer is about to bring. A
//! notification for a payment in flight here waits for the answer to be applied instead, then
//! finds the payment settled. (On another instance, or after a crash, nothing is in flight and
//! the notification is confirmed with the gateway as always.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use super::record::PaymentId;

type Locks = HashMap<PaymentId, Arc<tokio::sync::Mutex<()>>>;

/// This instance's payments in flight.
#[derive(Clone, Default)]
pub(crate) struct InFlight(Arc<Mutex<Locks>>);

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InFlight")
    }
}

/// A payment's request being sent and its answer applied; dropping it ends that.
pub(crate) struct Sending {
    map: InFlight,
    id: PaymentId,
    _held: OwnedMutexGuard<()>,
}

impl InFlight {
    /// Marks `id` in flight until the returned guard is dropped.
    pub(crate) fn begin(&self, id: &PaymentId) -> Sending {
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        let held = Arc::clone(&lock).try_lock_owned().expect("a new lock is free");
        self.locks().insert(id.clone(), lock);
        Sending { map: self.clone(), id: id.clone(), _held: held }
    }

    /// Waits until this instance's request for `id`, if one is in flight, has been answered and
    /// the answer applied; whether there was one.
    pub(crate) async fn wait(&self, id: &PaymentId) -> bool {
        let lock = self.locks().get(id).cloned();
        match lock {
            Some(lock) => {
                drop(lock.lock().await);
                true
            }
            None => false,
        }
    }

    fn locks(&self) -> std::sync::MutexGuard<'_, Locks> {
        // A panic while holding it leaves a consistent map (one insert or remove).
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.map.locks().remove(&self.id);
    }
}
