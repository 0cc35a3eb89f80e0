//! The listener against clients that hold connections (slow headers, idle keep-alive, too many
//! connections) and over TLS: verified round trips, a client trusting the wrong CA, client
//! certificates required.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{client, error_chain, json, tls_client, Sidecar, STORES};

fn config(sidecar: &str) -> String {
    format!("{STORES}\n[sidecar]\n{sidecar}\n")
}

/// Opens a connection, sends the start of a request head and then one more header byte every
/// 300 ms, never finishing it. Returns how long after connecting the server closed it, or
/// `None` if it was still open after `give_up`.
async fn slow_headers(addr: SocketAddr, give_up: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: sidecar\r\nX-Slow: ")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    while started.elapsed() < give_up {
        match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            // A response (such as 408) before the close: keep reading until it closes.
            Ok(Ok(_)) => continue,
            Err(_) => {}
        }
        if stream.write_all(b"a").await.is_err() {
            return Some(started.elapsed());
        }
    }
    None
}

/// Sends a whole keep-alive request for `/healthz` on `stream` and reads the answer's status
/// line; `None` when the server closed the connection instead of answering.
async fn healthz_on(stream: &mut TcpStream) -> Option<String> {
    let Ok(peer) = stream.peer_addr() else {
        return None;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {peer}\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return None;
    }
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    loop {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("no answer and no close within 5 s");
        match read {
            Ok(0) | Err(_) => return None,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if text.contains("\r\n\r\n") && text.contains("\"ok\"") {
                    return text.lines().next().map(str::to_owned);
                }
            }
        }
    }
}

/// Waits until the server closes `stream` (after reading anything it still sends); returns how
/// long that took, or `None` if it was still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    while started.elapsed() < limit {
        match tokio::time::timeout(limit - started.elapsed(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_neither_hold_the_sidecar_nor_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), &config("header_timeout = \"1s\""), &[]);
    let addr = sidecar.addr();
    let slow: Vec<_> = (0..20)
        .map(|_| tokio::spawn(slow_headers(addr, Duration::from_secs(10))))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let c = client();
    for _ in 0..3 {
        let started = Instant::now();
        let (status, _) = json(c.get(sidecar.url("/healthz")).send().await.unwrap()).await;
        let took = started.elapsed();
        assert_eq!(status, 200);
        assert!(
            took < Duration::from_secs(1),
            "a request took {took:?} beside 20 slow-header connections"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }

    for connection in slow {
        let closed = connection.await.unwrap();
        let closed = closed.expect("a slow-header connection was still open after 10 s");
        assert!(
            closed >= Duration::from_millis(900) && closed < Duration::from_secs(4),
            "a slow-header connection closed after {closed:?}; header_timeout is 1 s"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(
        dir.path(),
        &config("header_timeout = \"1s\"\nidle_timeout = \"3s\""),
        &[],
    );
    let mut stream = TcpStream::connect(sidecar.addr()).await.unwrap();
    let status = healthz_on(&mut stream).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));
    let closed = closed_within(&mut stream, Duration::from_secs(10))
        .await
        .expect("an idle keep-alive connection was still open after 10 s");
    assert!(
        closed >= Duration::from_secs(2) && closed < Duration::from_secs(6),
        "closed {closed:?} after its last answer; idle_timeout is 3 s (header_timeout, 1 s, must not apply between requests)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_max_connections_are_closed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start_in(dir.path(), &config("max_connections = 4"), &[]);
    let addr = sidecar.addr();
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        assert_eq!(
            healthz_on(&mut stream).await.as_deref(),
            Some("HTTP/1.1 200 OK")
        );
        held.push(stream);
    }

    let started = Instant::now();
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        healthz_on(&mut fifth).await,
        None,
        "a fifth connection was served with max_connections = 4"
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // Closing one frees its slot.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if healthz_on(&mut stream).await.as_deref() == Some("HTTP/1.1 200 OK") {
            break;
        }
        assert!(Instant::now() < deadline, "a freed slot was not reused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connections still held were never disturbed.
    for stream in &mut held {
        assert_eq!(healthz_on(stream).await.as_deref(), Some("HTTP/1.1 200 OK"));
    }
}

/// A certificate authority made for one test.
struct Authority {
    cert: Certificate,
    key: KeyPair,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Authority { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A certificate for `names` (DNS names or IP addresses) and its key, both PEM.
    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "test");
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A client identity (certificate and key in one PEM) for reqwest.
    fn client_identity(&self) -> String {
        let (cert, key) = self.issue(&["client"], ExtendedKeyUsagePurpose::ClientAuth);
        format!("{cert}{key}")
    }
}

/// Writes the server's certificate (for 127.0.0.1 and localhost) and key into `dir`.
fn server_files(dir: &Path, ca: &Authority) {
    let (cert, key) = ca.issue(
        &["127.0.0.1", "localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    std::fs::write(dir.join("server.pem"), cert).unwrap();
    std::fs::write(dir.join("server.key"), key).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_verified_clients_and_a_client_trusting_another_ca_fails() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("polyroute test CA");
    server_files(dir.path(), &ca);
    let sidecar = Sidecar::start_in(
        dir.path(),
        &config("[sidecar.tls]\ncert = \"server.pem\"\nkey = \"server.key\""),
        &[],
    );
    assert!(sidecar.base.starts_with("https://"), "{}", sidecar.base);

    let verified = tls_client(&ca.pem(), None);
    let (status, body) = json(verified.get(sidecar.url("/healthz")).send().await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    // A routed call too, on the same verified connection pool.
    let put = verified
        .put(sidecar.url("/v1/key_value/sessions/keys/k"))
        .json(&serde_json::json!({"value": "over tls"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    let stranger = Authority::new("someone else's CA");
    let error = tls_client(&stranger.pem(), None)
        .get(sidecar.url("/healthz"))
        .send()
        .await
        .expect_err("a client trusting another CA connected");
    let text = error_chain(&error);
    assert!(
        text.contains("invalid peer certificate") && text.contains("UnknownIssuer"),
        "unclear error for a server certificate from an unknown CA: {text}"
    );

    // Plain HTTP to the TLS port gets no answer.
    let plain = client()
        .get(sidecar.url("/healthz").replacen("https://", "http://", 1))
        .send()
        .await;
    assert!(
        plain.is_err() || plain.as_ref().is_ok_and(|r| r.status() != 200),
        "plain HTTP was served on the TLS listener"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_client_ca_only_clients_with_its_certificates_connect() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = Authority::new("server CA");
    let client_ca = Authority::new("client CA");
    server_files(dir.path(), &server_ca);
    std::fs::write(dir.path().join("clients.pem"), client_ca.pem()).unwrap();
    let sidecar = Sidecar::start_in(
        dir.path(),
        &config(
            "[sidecar.tls]\ncert = \"server.pem\"\nkey = \"server.key\"\nclient_ca = \"clients.pem\"",
        ),
        &[],
    );

    let member = tls_client(&server_ca.pem(), Some(&client_ca.client_identity()));
    let (status, _) = json(member.get(sidecar.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(status, 200);

    let anonymous = tls_client(&server_ca.pem(), None)
        .get(sidecar.url("/healthz"))
        .send()
        .await;
    let error = anonymous.expect_err("a client without a certificate was served");
    let text = error_chain(&error);
    assert!(
        text.contains("CertificateRequired") || text.contains("HandshakeFailure"),
        "unclear refusal of a client without a certificate: {text}"
    );

    let outsider = Authority::new("another client CA");
    let foreign = tls_client(&server_ca.pem(), Some(&outsider.client_identity()))
        .get(sidecar.url("/healthz"))
        .send()
        .await;
    let error = foreign.expect_err("a client with a certificate from another CA was served");
    let text = error_chain(&error);
    assert!(
        text.contains("UnknownCA") || text.contains("BadCertificate"),
        "unclear refusal of a client certificate from another CA: {text}"
    );
}

#[test]
fn unusable_tls_files_stop_startup_with_the_key_the_file_and_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("server.pem"), "not a certificate\n").unwrap();
    let path = dir.path().join("polyroute.toml");
    std::fs::write(
        &path,
        config(
            "[sidecar.tls]\ncert = \"server.pem\"\nkey = \"missing.key\"\nclient_ca = \"nowhere.pem\"",
        ),
    )
    .unwrap();
    for command in ["serve", "check"] {
        let output = Command::new(env!("CARGO_BIN_EXE_polyroute"))
            .args([command, "--config"])
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        for expected in [
            "sidecar.tls.cert",
            "server.pem",
            "holds no PEM certificate",
            "sidecar.tls.key",
            "missing.key",
            "cannot be read",
            "sidecar.tls.client_ca",
            "nowhere.pem",
        ] {
            assert!(
                stderr.contains(expected),
                "{command}: `{expected}` missing in:\n{stderr}"
            );
        }
    }
}

#[test]
fn tokens_in_clear_text_beyond_loopback_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("polyroute.toml");
    std::fs::write(
        &path,
        format!(
            "{STORES}\n[[sidecar.tokens]]\nname = \"app\"\ntoken = \"app-token-0123456789abcdef\"\nread = [\"*\"]\n"
        ),
    )
    .unwrap();
    let serve = |bind: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_polyroute"))
            .args(["serve", "--bind", bind, "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert!(line.contains("http://"), "did not start: {line:?}");
        std::thread::sleep(Duration::from_millis(300));
        child.kill().unwrap();
        let output = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let open = serve("0.0.0.0:0");
    assert!(open.contains("clear text"), "no warning in:\n{open}");
    let loopback = serve("127.0.0.1:0");
    assert!(!loopback.contains("clear text"), "{loopback}");
}
