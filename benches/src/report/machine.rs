//! What a run ran on, for the report: numbers are only comparable on the same machine.

use serde::Serialize;

use crate::env::Servers;

/// The machine and the servers' versions.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// The processor model.
    pub cpu: String,
    /// Logical processors available.
    pub cores: usize,
    /// Memory in GiB.
    pub memory_gib: f64,
    /// The PostgreSQL server's version.
    pub postgres: String,
    /// When the run started (UTC, RFC 3339).
    pub date: String,
}

impl Machine {
    /// Reads what the operating system and the PostgreSQL server tell.
    pub async fn read(servers: &Servers) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or_else(|| "unknown".to_owned(), |s| s.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            postgres: postgres_version(&servers.postgres)
                .await
                .unwrap_or_else(|| "unknown".to_owned()),
            date: now_rfc3339(),
        }
    }
}

async fn postgres_version(url: &str) -> Option<String> {
    use polyroute_adapters::{EntityHandle, StoreKind, Value};
    let options = serde_json::json!({"url": url, "pool": 1});
    let store = polyroute_adapters::registry::connect(
        StoreKind::Relational,
        "postgres",
        &options,
        &Default::default(),
    )
    .await
    .ok()?;
    let handle = crate::env::open(
        &*store,
        "version",
        polyroute_adapters::EntitySettings::Relational(Default::default()),
    )
    .await
    .ok()?;
    let EntityHandle::Relational(relational) = handle else {
        return None;
    };
    let rows = relational.query("SHOW server_version", &[]).await.ok()?;
    match rows.rows.first()?.first()? {
        Value::Text(version) => Some(version.clone()),
        _ => None,
    }
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let (h, m, s) = (secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_rfc3339() {
        let date = super::now_rfc3339();
        assert_eq!(date.len(), 20, "{date}");
        assert!(date.starts_with("20"), "{date}");
    }
}
