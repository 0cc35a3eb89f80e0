//! The key-value behaviour suite.

use std::sync::Arc;

use bytes::Bytes;
use polyroute_adapters::kinds::key_value::KeyValueStore;

use crate::support::Fixture;

/// Runs each listed case as its own test against the backend made by `$factory`, an async fn
/// returning `Fixture<dyn KeyValueStore>`.
macro_rules! key_value_suite {
    ($factory:path) => {
        key_value_suite!(@cases $factory; get_missing_returns_none);
    };
    (@cases $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $factory().await;
                $crate::key_value::$case(fixture).await;
            }
        )*
    };
}
pub(crate) use key_value_suite;

pub async fn get_missing_returns_none(f: Fixture<dyn KeyValueStore>) {
    let store: Arc<dyn KeyValueStore> = f.store;
    assert_eq!(store.get("absent").await.unwrap(), None::<Bytes>);
}
