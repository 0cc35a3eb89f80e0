//! Private servers for the TLS tests: a CA and certificates made here, a PostgreSQL cluster
//! that accepts only TLS connections, and redis-server on a TLS port, each on a free loopback
//! port and stopped by its PID when its guard goes.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;

/// A certificate and its key, as PEM files.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A CA, a CA that signed nothing here, and what the first one signed.
pub struct Certs {
    _dir: TempDir,
    /// The CA that signed the certificates below.
    pub ca: PathBuf,
    /// Another CA: trusting it instead must fail verification.
    pub wrong_ca: PathBuf,
    /// PostgreSQL's certificate: names `localhost` only, not `127.0.0.1`.
    pub postgres: Pair,
    /// Redis's certificate: names `localhost` and `127.0.0.1`.
    pub redis: Pair,
    /// A client certificate, for servers that authenticate clients.
    pub client: Pair,
}

struct Authority {
    cert: Certificate,
    key: KeyPair,
}

fn authority(name: &str) -> Authority {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).unwrap();
    Authority { cert, key }
}

impl Certs {
    /// Makes them all in a fresh folder.
    pub fn new() -> Certs {
        let dir = tempfile::Builder::new()
            .prefix("polyroute-tls-")
            .tempdir()
            .unwrap();
        let ca = authority("polyroute test CA");
        let wrong = authority("another test CA");
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            fs::write(&path, pem).unwrap();
            path
        };
        let leaf = |names: &[&str], usage: ExtendedKeyUsagePurpose, stem: &str| {
            let key = KeyPair::generate().unwrap();
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let mut params = CertificateParams::new(names).unwrap();
            params
                .distinguished_name
                .push(DnType::CommonName, format!("polyroute test {stem}"));
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
            let cert_path = write(&format!("{stem}.crt"), cert.pem());
            let key_path = write(&format!("{stem}.key"), key.serialize_pem());
            fs::set_permissions(&key_path, fs::Permissions::from_mode(0o600)).unwrap();
            Pair {
                cert: cert_path,
                key: key_path,
            }
        };
        let postgres = leaf(
            &["localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
            "postgres",
        );
        let redis = leaf(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            "redis",
        );
        let client = leaf(&["client"], ExtendedKeyUsagePurpose::ClientAuth, "client");
        Certs {
            ca: write("ca.crt", ca.cert.pem()),
            wrong_ca: write("wrong-ca.crt", wrong.cert.pem()),
            postgres,
            redis,
            client,
            _dir: dir,
        }
    }
}

/// A loopback port nothing listens on (free when asked; servers bind it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `command`, panicking with its output if it fails.
fn run(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {what}: {err}"));
    assert!(
        output.status.success(),
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Sends `signal` to `pid`, then waits up to ten seconds for the child, killing it after.
fn stop(child: &mut Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The user the PostgreSQL server runs as: the current one, unless that is root, which
/// PostgreSQL refuses; then `postgres`.
fn server_user() -> Option<(u32, u32)> {
    let uid: u32 = run(Command::new("id").arg("-u"), "id -u").parse().unwrap();
    if uid != 0 {
        return None;
    }
    let id = |flag: &str| -> u32 {
        run(Command::new("id").args([flag, "postgres"]), "id postgres (PostgreSQL refuses to run as root, so the tests run it as the `postgres` user)")
            .parse()
            .unwrap()
    };
    Some((id("-u"), id("-g")))
}

/// The folder of PostgreSQL's server programs: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn postgres_bindir() -> PathBuf {
    let has_server = |dir: &Path| dir.join("initdb").exists() && dir.join("postgres").exists();
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_server(&dir) {
            return dir;
        }
    }
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "the PostgreSQL server programs (initdb, postgres) are not installed: install the \
             `postgresql` package (scripts/test does), they are needed to test TLS"
        )
    })
}

/// A PostgreSQL cluster of its own, accepting TLS connections only (`hostssl` in pg_hba.conf)
/// on `127.0.0.1:port`, with trust authentication for user `postgres`.
pub struct Postgres {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

impl Postgres {
    /// Creates the cluster with `tls` as its certificate, starts it, and waits until it accepts
    /// connections.
    pub fn start(tls: &Pair) -> Postgres {
        let bin = postgres_bindir();
        let user = server_user();
        let dir = tempfile::Builder::new()
            .prefix("polyroute-pg-")
            .tempdir()
            .unwrap();
        let owned = |path: &Path| {
            if let Some((uid, gid)) = user {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
            }
        };
        owned(dir.path());
        let as_server = |program: PathBuf| {
            let mut command = Command::new(program);
            command.current_dir(dir.path());
            if let Some((uid, gid)) = user {
                command.uid(uid).gid(gid);
            }
            command
        };
        let cert = dir.path().join("server.crt");
        let key = dir.path().join("server.key");
        fs::copy(&tls.cert, &cert).unwrap();
        fs::copy(&tls.key, &key).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        owned(&cert);
        owned(&key);

        let data = dir.path().join("data");
        run(
            as_server(bin.join("initdb")).arg("-D").arg(&data).args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]),
            "initdb",
        );
        let port = free_port();
        let mut conf = fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(
            &mut conf,
            format!(
                "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{dir}'\n\
                 ssl = on\nssl_cert_file = '{cert}'\nssl_key_file = '{key}'\n\
                 fsync = off\nmax_connections = 40\nshared_buffers = 16MB\n",
                dir = dir.path().display(),
                cert = cert.display(),
                key = key.display(),
            )
            .as_bytes(),
        )
        .unwrap();
        // TLS only: a plain TCP connection matches no line and is refused.
        fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();

        let log = fs::File::create(dir.path().join("server.log")).unwrap();
        let child = as_server(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start postgres: {err}"));
        let mut server = Postgres { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("postgres exited ({status}): {}", server.log());
            }
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not accept connections within a minute: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: PostgreSQL's fast shutdown (disconnect clients, stop at once).
        stop(&mut self.child, "-INT");
    }
}

/// redis-server with TLS only (`--port 0`), on `127.0.0.1:port`.
pub struct Redis {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Redis {
    /// Starts it with `tls` as its certificate and `ca` as the CA of client certificates, which
    /// it requires when `client_certificates` is true; waits until the port accepts
    /// connections.
    pub fn start(tls: &Pair, ca: &Path, client_certificates: bool) -> Redis {
        let dir = tempfile::Builder::new()
            .prefix("polyroute-redis-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let mut command = Command::new("redis-server");
        command
            .current_dir(dir.path())
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(["--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(&tls.cert)
            .arg("--tls-key-file")
            .arg(&tls.key)
            .arg("--tls-ca-cert-file")
            .arg(ca)
            .args([
                "--tls-auth-clients",
                if client_certificates { "yes" } else { "no" },
            ])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = command.spawn().unwrap_or_else(|err| {
            panic!(
                "cannot start redis-server ({err}): install the `redis-server` package (scripts/test does), it is needed to test TLS"
            )
        });
        let mut server = Redis {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                let mut err = String::new();
                if let Some(mut stderr) = server.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                }
                panic!("redis-server exited ({status}); does it support TLS? {err}");
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen within 30s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        stop(&mut self.child, "-TERM");
    }
}
