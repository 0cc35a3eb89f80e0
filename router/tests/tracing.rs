//! Router calls are traced: with a subscriber listening at debug level, each call is a
//! `polyroute.call` span naming its entity, store and operation, and a failure is an event in
//! it. (Its own test binary: tracing's callsite interest is process-wide.)

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use polyroute::{CallContext, StoreError, StoreKind};

#[test]
fn calls_are_traced_when_a_subscriber_listens() {
    #[derive(Clone, Default)]
    struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let context =
            CallContext::for_entity("carts", "s", StoreKind::KeyValue, Duration::from_secs(5));
        let outcome = runtime.block_on(context.call("get", async {
            Err::<(), _>(StoreError::not_found("cart 7"))
        }));
        assert!(outcome.is_err());
    });
    let logged = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("polyroute.call"), "{logged}");
    assert!(logged.contains("entity=\"carts\""), "{logged}");
    assert!(logged.contains("op=\"get\""), "{logged}");
    assert!(logged.contains("cart 7"), "{logged}");
}
