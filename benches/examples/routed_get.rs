//! A fixed number of in-process key-value gets, for counting the instructions one get costs
//! (`scripts/instructions-per-get` runs it under callgrind at two counts and divides the
//! difference): through a `Router` handle with every layer, or on the backend's handle,
//! answered at once.
//!
//! `routed_get <router|direct-now|direct> <gets>`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use polyroute::Router;
use polyroute_adapters::kinds::key_value::{KeyValueSettings, KeyValueStore};
use polyroute_adapters::registry::{self, ConnectContext};
use polyroute_adapters::{EntityHandle, EntitySettings, EntitySpec, StoreKind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, gets] = &args[..] else {
        panic!("usage: routed_get <router|direct-now|direct> <gets>");
    };
    let gets: u64 = gets.parse().expect("gets: a whole number");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = registry::connect(
            StoreKind::KeyValue,
            "embedded",
            &serde_json::json!({}),
            &ConnectContext::default(),
        )
        .await
        .unwrap();
        let settings = EntitySettings::KeyValue(KeyValueSettings::default());
        let EntityHandle::KeyValue(direct) = store
            .open(&EntitySpec::new("counted", settings.clone()).unwrap())
            .await
            .unwrap()
        else {
            panic!("not a key-value handle");
        };
        direct
            .set("k", Bytes::from_static(b"value"), Default::default())
            .await
            .unwrap();
        let router = Router::builder()
            .store("kv", Arc::clone(&store))
            .entity("counted", "kv", settings)
            .build()
            .await
            .unwrap();
        let routed = router.key_value("counted").unwrap();
        let direct: Arc<dyn KeyValueStore> = direct;
        match path.as_str() {
            "router" => {
                for _ in 0..gets {
                    black_box(routed.get(black_box("k")).await.unwrap());
                }
            }
            "direct-now" => {
                for _ in 0..gets {
                    black_box(direct.get_now(black_box("k")).unwrap().unwrap());
                }
            }
            "direct" => {
                for _ in 0..gets {
                    black_box(direct.get(black_box("k")).await.unwrap());
                }
            }
            other => panic!("unknown path `{other}`: router, direct-now or direct"),
        }
    });
}
