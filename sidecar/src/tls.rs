//! `[sidecar.tls]`: the listener's certificate and key, and optionally the certificate authority
//! whose clients alone may connect (mutual TLS), loaded into a rustls server config.
//!
//! The files are PEM. `cert` holds the server's certificate first, then any intermediates;
//! `key` its private key (PKCS#8, PKCS#1 or SEC1); `client_ca` one or more CA certificates —
//! with it, a client must present a certificate signed by one of them or the handshake fails.
//! The cryptography is rustls's `ring` provider, chosen explicitly (not the process default), with
//! its safe protocol versions (TLS 1.2 and 1.3). Only HTTP/1.1 is offered through ALPN.
//!
//! Every failure names the config key, the file and what to do; `polyroute check` and
//! `polyroute serve` load the files at startup, so a bad file never waits for a first client.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

/// The files of `[sidecar.tls]`, resolved against the config file's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// `cert`: the server's certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// `key`: the server's private key (PEM).
    pub key: PathBuf,
    /// `client_ca`: when set, clients must present a certificate signed by one of these CAs.
    pub client_ca: Option<PathBuf>,
}

/// Why `[sidecar.tls]` cannot be used: the key, the file, what is wrong and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: `{}`: {problem}; {fix}", path.display())]
pub struct TlsError {
    /// The config key, such as `sidecar.tls.cert`.
    pub key: &'static str,
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
    /// How to fix it.
    pub fix: &'static str,
}

const CERT: &str = "sidecar.tls.cert";
const KEY: &str = "sidecar.tls.key";
const CLIENT_CA: &str = "sidecar.tls.client_ca";

const CERT_FIX: &str = "point `cert` at a PEM file holding the server certificate (`-----BEGIN CERTIFICATE-----`), then any intermediates";
const KEY_FIX: &str = "point `key` at the PEM private key of the certificate in `cert` (`-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`)";
const CA_FIX: &str = "point `client_ca` at a PEM file holding the certificate(s) of the CA that signs client certificates";

impl TlsFiles {
    /// Loads the files into a rustls server config, checking that they parse and that the key
    /// belongs to the certificate. Every problem is returned, not only the first.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, Vec<TlsError>> {
        let provider = Arc::new(ring::default_provider());
        let mut problems = Vec::new();
        let certs = certificates(CERT, &self.cert, CERT_FIX).map_err(|e| problems.push(e));
        let key = private_key(&self.key).map_err(|e| problems.push(e));
        let verifier = self
            .client_ca
            .as_deref()
            .map(|path| client_verifier(path, &provider))
            .transpose()
            .map_err(|e| problems.push(e));
        let (Ok(certs), Ok(key), Ok(verifier)) = (certs, key, verifier) else {
            return Err(problems);
        };
        let builder = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| {
                vec![TlsError {
                    key: CERT,
                    path: self.cert.clone(),
                    problem: format!("no TLS version can be offered: {err}"),
                    fix: "this build's TLS provider lacks TLS 1.2 and 1.3; report it",
                }]
            })?;
        let builder = match verifier {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(certs, key).map_err(|err| {
            vec![TlsError {
                key: KEY,
                path: self.key.clone(),
                problem: format!("cannot be used with the certificate in `cert`: {err}"),
                fix: "use the private key the certificate was issued for (its public key must match the certificate's)",
            }]
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn read(key: &'static str, path: &Path, fix: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|err| TlsError {
        key,
        path: path.to_owned(),
        problem: format!("cannot be read: {err}"),
        fix,
    })
}

fn certificates(
    key: &'static str,
    path: &Path,
    fix: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(key, path, fix)?;
    let problem = |problem: String| TlsError {
        key,
        path: path.to_owned(),
        problem,
        fix,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| problem(format!("is not valid PEM: {err}")))?;
    if certs.is_empty() {
        return Err(problem("holds no PEM certificate".into()));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(KEY, path, KEY_FIX)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|err| TlsError {
        key: KEY,
        path: path.to_owned(),
        problem: match err {
            tokio_rustls::rustls::pki_types::pem::Error::NoItemsFound => {
                "holds no PEM private key".into()
            }
            other => format!("is not a valid PEM private key: {other}"),
        },
        fix: KEY_FIX,
    })
}

fn client_verifier(
    path: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn tokio_rustls::rustls::server::danger::ClientCertVerifier>, TlsError> {
    let certs = certificates(CLIENT_CA, path, CA_FIX)?;
    let mut roots = RootCertStore::empty();
    for (index, cert) in certs.into_iter().enumerate() {
        roots.add(cert).map_err(|err| TlsError {
            key: CLIENT_CA,
            path: path.to_owned(),
            problem: format!("certificate {} is not a usable CA: {err}", index + 1),
            fix: CA_FIX,
        })?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|err| TlsError {
            key: CLIENT_CA,
            path: path.to_owned(),
            problem: format!("cannot verify clients with it: {err}"),
            fix: CA_FIX,
        })
}
