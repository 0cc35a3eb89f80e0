//! [`Flights`]: one load per key in flight. The first reader of a missing key leads: it runs
//! its loader. Readers arriving meanwhile follow: they wait for the leader's outcome and share
//! it. A leader that goes away without an outcome (its caller dropped the read, or its task was
//! cancelled) wakes its followers, and one of them leads in its place with its own loader, so
//! nobody waits for a load that will never finish.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use polyroute_adapters::{ErrorKind, Result, StoreError};
use tokio::sync::watch;

/// What a load produced, in a form every follower can have a copy of.
type Shared = std::result::Result<Option<Bytes>, SharedError>;

/// A load's failure as followers see it: its kind and message (the driver error, which cannot
/// be copied, stays with the leader).
#[derive(Clone, Debug)]
struct SharedError {
    kind: ErrorKind,
    message: String,
    retryable_after: Option<std::time::Duration>,
}

impl SharedError {
    fn of(err: &StoreError) -> Self {
        SharedError {
            kind: err.kind(),
            message: err.to_string(),
            retryable_after: match err {
                StoreError::Timeout { after } => Some(*after),
                _ => None,
            },
        }
    }

    /// A [`StoreError`] of the same kind, carrying the leader's message.
    fn to_error(&self) -> StoreError {
        let message = format!("shared load failed: {}", self.message);
        match (self.kind, self.retryable_after) {
            (ErrorKind::Timeout, Some(after)) => StoreError::Timeout { after },
            (ErrorKind::NotFound, _) => StoreError::not_found(message),
            (ErrorKind::Conflict, _) => StoreError::Conflict {
                message,
                source: None,
            },
            (ErrorKind::InvalidRequest, _) => StoreError::invalid(message),
            (ErrorKind::Unavailable | ErrorKind::Timeout, _) => StoreError::unavailable(message),
            _ => StoreError::backend(message),
        }
    }
}

/// The loads in flight: by key, the load's id and where its outcome will appear.
type InFlight = HashMap<String, (u64, watch::Receiver<Option<Shared>>)>;

/// The loads in flight, by key.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    in_flight: Mutex<InFlight>,
    next_id: AtomicU64,
}

/// A reader's part in a load: lead it or follow it.
pub(crate) enum Role<'a> {
    /// Run the loader, then [`Lead::finish`].
    Leader(Lead<'a>),
    /// Wait with [`Follow::outcome`].
    Follower(Follow),
}

/// The leader's side of a load; dropping it without finishing wakes the followers to lead.
pub(crate) struct Lead<'a> {
    flights: &'a Flights,
    key: String,
    id: u64,
    sender: watch::Sender<Option<Shared>>,
}

/// A follower's side of a load.
pub(crate) struct Follow {
    receiver: watch::Receiver<Option<Shared>>,
}

impl Flights {
    fn lock(&self) -> MutexGuard<'_, InFlight> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the load of `key`: as its leader when none is in flight, else as a follower.
    pub(crate) fn join(&self, key: &str) -> Role<'_> {
        let mut in_flight = self.lock();
        if let Some((_, receiver)) = in_flight.get(key) {
            return Role::Follower(Follow {
                receiver: receiver.clone(),
            });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = watch::channel(None);
        in_flight.insert(key.to_owned(), (id, receiver));
        Role::Leader(Lead {
            flights: self,
            key: key.to_owned(),
            id,
            sender,
        })
    }

    /// How many loads are in flight (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

impl Lead<'_> {
    /// Hands `outcome` to every follower, present and arriving until this lead is dropped.
    pub(crate) fn publish(&self, outcome: &Result<Option<Bytes>>) {
        let shared = match outcome {
            Ok(value) => Ok(value.clone()),
            Err(err) => Err(SharedError::of(err)),
        };
        self.sender.send_replace(Some(shared));
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.flights.lock();
        if in_flight
            .get(&self.key)
            .is_some_and(|(id, _)| *id == self.id)
        {
            in_flight.remove(&self.key);
        }
    }
}

impl Follow {
    /// The leader's outcome, or `None` when the leader went away without one (then lead).
    pub(crate) async fn outcome(mut self) -> Option<Result<Option<Bytes>>> {
        let shared = self
            .receiver
            .wait_for(Option::is_some)
            .await
            .ok()?
            .clone()?;
        Some(shared.map_err(|err| err.to_error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_share_the_leaders_outcome() {
        let flights = Flights::default();
        let Role::Leader(lead) = flights.join("k") else {
            panic!("the first reader leads")
        };
        let Role::Follower(follow) = flights.join("k") else {
            panic!("the second reader follows")
        };
        assert!(matches!(flights.join("other"), Role::Leader(_)));
        lead.publish(&Ok(Some(Bytes::from_static(b"v"))));
        drop(lead);
        assert_eq!(flights.len(), 0);
        assert_eq!(
            follow.outcome().await.unwrap().unwrap(),
            Some(Bytes::from_static(b"v"))
        );
    }

    #[tokio::test]
    async fn followers_get_a_copy_of_the_failure() {
        let flights = Flights::default();
        let Role::Leader(lead) = flights.join("k") else {
            panic!()
        };
        let Role::Follower(follow) = flights.join("k") else {
            panic!()
        };
        lead.publish(&Err(StoreError::unavailable("db down")));
        let err = follow.outcome().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.to_string().contains("db down"), "{err}");
    }

    #[tokio::test]
    async fn a_leader_gone_without_an_outcome_frees_its_followers() {
        let flights = Flights::default();
        let Role::Leader(lead) = flights.join("k") else {
            panic!()
        };
        let Role::Follower(follow) = flights.join("k") else {
            panic!()
        };
        drop(lead);
        assert!(follow.outcome().await.is_none());
        assert!(matches!(flights.join("k"), Role::Leader(_)));
    }
}
