//! The embedded backends, run through every suite of their kind.

mod key_value {
    use polyroute_adapters::kinds::key_value::{KeyValueSettings, KeyValueStore};
    use polyroute_adapters::registry::{self, ConnectContext};
    use polyroute_adapters::{EntitySettings, EntitySpec, StoreHandle, StoreKind};
    use serde_json::json;

    use crate::key_value::key_value_suite;
    use crate::support::{unique, Fixture};

    async fn fixture() -> Fixture<dyn KeyValueStore> {
        let store = registry::connect(
            StoreKind::KeyValue,
            "embedded",
            &json!({}),
            &ConnectContext::default(),
        )
        .await
        .unwrap();
        let spec = EntitySpec::new(
            &unique("kv"),
            EntitySettings::KeyValue(KeyValueSettings::default()),
        )
        .unwrap();
        let StoreHandle::KeyValue(handle) = store.open(&spec).await.unwrap() else {
            panic!("embedded key-value store opened a handle of another kind");
        };
        Fixture {
            store: handle,
            capabilities: store.info().capabilities,
            guard: None,
        }
    }

    key_value_suite!(fixture);
}
