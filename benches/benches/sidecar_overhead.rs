//! What the HTTP sidecar adds to a call: an embedded key-value get through `polyroute serve`'s
//! server over loopback (HTTP/1.1 keep-alive, one pooled client) against the same get on the
//! router's handle in-process.
//!
//! Latency: one request after another (closed loop, one client), p50 and p99 of each path and
//! their difference. Throughput: 16 concurrent clients for a fixed time. The sidecar runs on its
//! own 2-worker runtime in this process, the client on a one-thread runtime, so on a 2-core
//! machine both compete for the cores as a sidecar and its service do in one pod.
//!
//! `cargo bench -p polyroute-benches --bench sidecar_overhead` (SIDECAR_BENCH_OPS sets the
//! latency sample, default 20000; SIDECAR_BENCH_SECONDS the throughput run, default 5).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use polyroute::{Config, Router};
use polyroute_sidecar::{Sidecar, SidecarConfig};

const CONFIG: &str = r#"
[stores.cache]
kind = "key_value"

[entities.sessions]
store = "cache"

[sidecar]
bind = "127.0.0.1:0"
max_concurrency = 1024
"#;

const KEYS: u64 = 1000;
const CLIENTS: u64 = 16;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Latency {
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
}

async fn latency<F, Fut>(ops: u64, mut call: F) -> Latency
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    for i in 0..ops / 10 {
        call(i).await;
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    for i in 0..ops {
        let started = Instant::now();
        call(i).await;
        histogram.saturating_record(started.elapsed().as_nanos() as u64);
    }
    Latency {
        p50_us: histogram.value_at_quantile(0.50) as f64 / 1000.0,
        p99_us: histogram.value_at_quantile(0.99) as f64 / 1000.0,
        mean_us: histogram.mean() / 1000.0,
    }
}

async fn throughput<F, Fut>(seconds: u64, call: F) -> f64
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let call = call.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = client;
            while Instant::now() < deadline {
                call(i).await;
                done.fetch_add(1, Ordering::Relaxed);
                i += CLIENTS;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let ops = env_u64("SIDECAR_BENCH_OPS", 20_000);
    let seconds = env_u64("SIDECAR_BENCH_SECONDS", 5);

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let config = Config::from_toml_str(CONFIG, ".").unwrap();
    let sidecar_config = SidecarConfig::from_config(&config).unwrap();
    let (router, addr) = server_rt.block_on(async {
        let router = Router::connect(config).await.unwrap();
        let sessions = router.key_value("sessions").unwrap();
        for key in 0..KEYS {
            sessions
                .set(&format!("user:{key}"), format!("{{\"user\":{key}}}"))
                .await
                .unwrap();
        }
        let sidecar = Sidecar::bind(router.clone(), sidecar_config).await.unwrap();
        let addr = sidecar.local_addr();
        tokio::spawn(sidecar.serve(std::future::pending()));
        (router, addr)
    });

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let base = format!("http://{addr}/v1/key_value/sessions/keys/user:");

    let in_process = {
        let sessions = router.key_value("sessions").unwrap();
        move |i: u64| {
            let sessions = sessions.clone();
            async move {
                let value = sessions.get(&format!("user:{}", i % KEYS)).await.unwrap();
                assert!(value.is_some());
            }
        }
    };
    let over_http = {
        let client = client.clone();
        let base = base.clone();
        move |i: u64| {
            let client = client.clone();
            let url = format!("{base}{}", i % KEYS);
            async move {
                let response = client.get(url).send().await.unwrap();
                assert_eq!(response.status(), 200);
                std::hint::black_box(response.bytes().await.unwrap());
            }
        }
    };

    let direct = client_rt.block_on(latency(ops, in_process.clone()));
    let http = client_rt.block_on(latency(ops, over_http.clone()));
    let direct_rps = server_rt.block_on(throughput(seconds, in_process));
    let http_rps = client_rt.block_on(throughput(seconds, over_http));

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("sidecar overhead: embedded key-value get, {ops} sequential gets per path, {CLIENTS} clients for {seconds}s of throughput, {cores} cores");
    println!();
    println!("| path | p50 (µs) | p99 (µs) | mean (µs) | requests/s ({CLIENTS} clients) |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| in-process handle | {:.1} | {:.1} | {:.1} | {:.0} |",
        direct.p50_us, direct.p99_us, direct.mean_us, direct_rps
    );
    println!(
        "| sidecar over loopback | {:.1} | {:.1} | {:.1} | {:.0} |",
        http.p50_us, http.p99_us, http.mean_us, http_rps
    );
    println!(
        "| added by the sidecar | {:.1} | {:.1} | {:.1} | |",
        http.p50_us - direct.p50_us,
        http.p99_us - direct.p99_us,
        http.mean_us - direct.mean_us
    );
}
