//! TLS client settings shared by the server backends (PostgreSQL, Redis, ScyllaDB): reading the
//! CA, certificate and key files a store's options name, building a rustls client
//! configuration that checks the server as asked, and explaining a failed handshake in words
//! that name the option to fix.
//!
//! Everything runs on rustls with the *ring* provider, chosen explicitly, so the result does not
//! depend on which crypto providers other crates compiled in. Without a CA file the roots are
//! the system's trust store (`/etc/ssl/certs` and the like, or `SSL_CERT_FILE`).

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde::{Deserialize, Deserializer};

use crate::store::ConnectContext;
use crate::{Result, StoreError};

/// How a client checks the certificate a server presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verify {
    /// The chain must lead to a trusted root and the certificate must name the host connected
    /// to: the only mode that stops a man in the middle holding another certificate of the CA.
    Full,
    /// The chain must lead to a trusted root; which host it names is not checked.
    Chain,
    /// Only the handshake's own signatures are checked: the traffic is encrypted, which stops
    /// passive listeners, but any certificate is accepted.
    Nothing,
}

/// Transport security of a store's connections (the `tls` option of PostgreSQL and ScyllaDB),
/// with the names of libpq's `sslmode`. Modes that may fall back to plain TCP without telling
/// (`prefer`, `allow`) are refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP (for a local server or a trusted network); the default.
    #[default]
    Disable,
    /// TLS, never plain TCP. As in libpq, the server's certificate is not checked unless a CA
    /// is given (`ca_file`, or PostgreSQL's `sslrootcert` in the URL), in which case it is
    /// checked as in `VerifyCa`. Without a CA this stops passive listeners, not a man in the
    /// middle.
    Require,
    /// TLS, with the server's certificate signed by a trusted CA (`ca_file`, else the system's
    /// trust store); the host it names is not checked.
    VerifyCa,
    /// TLS, with the server's certificate signed by a trusted CA and naming the host connected
    /// to: the mode for a server across a network.
    VerifyFull,
}

impl TlsMode {
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    /// Reads a mode written in `place` (for the message).
    pub(crate) fn parse(text: &str, place: &str) -> std::result::Result<Self, String> {
        match text {
            "disable" => Ok(TlsMode::Disable),
            "require" => Ok(TlsMode::Require),
            "verify-ca" => Ok(TlsMode::VerifyCa),
            "verify-full" => Ok(TlsMode::VerifyFull),
            "prefer" | "allow" => Err(format!(
                "{place} is `{text}`, which falls back to an unencrypted connection without telling; use \"verify-full\" (or \"verify-ca\", \"require\") to require TLS, or \"disable\" for a local server"
            )),
            other => Err(format!(
                "{place} is `{other}`, an unknown TLS mode; use \"disable\", \"require\", \"verify-ca\" or \"verify-full\""
            )),
        }
    }

    /// How the server's certificate is checked; `with_ca` says whether a CA file is given.
    pub(crate) fn verify(self, with_ca: bool) -> Option<Verify> {
        match self {
            TlsMode::Disable => None,
            TlsMode::Require if with_ca => Some(Verify::Chain),
            TlsMode::Require => Some(Verify::Nothing),
            TlsMode::VerifyCa => Some(Verify::Chain),
            TlsMode::VerifyFull => Some(Verify::Full),
        }
    }
}

impl<'de> Deserialize<'de> for TlsMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TlsMode::parse(&text, "tls").map_err(serde::de::Error::custom)
    }
}

/// A PEM file named by an option, remembered with the option's name so every error can say
/// which option to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PemFile {
    /// The option (or URL parameter) that named the file, as the user wrote it.
    pub(crate) option: &'static str,
    /// The file.
    pub(crate) path: PathBuf,
}

impl PemFile {
    /// A file named by `option`.
    pub(crate) fn new(option: &'static str, path: impl Into<PathBuf>) -> Self {
        PemFile {
            option,
            path: path.into(),
        }
    }

    /// The file's bytes; an error names the option and the file.
    pub(crate) fn read(&self) -> Result<Vec<u8>> {
        std::fs::read(&self.path).map_err(|err| {
            StoreError::invalid(format!(
                "option `{}`: cannot read `{}` ({err}); point it at a readable PEM file",
                self.option,
                self.path.display()
            ))
        })
    }

    fn problem(&self, what: impl fmt::Display) -> StoreError {
        StoreError::invalid(format!(
            "option `{}`: `{}` {what}",
            self.option,
            self.path.display()
        ))
    }

    /// The certificates in the file, at least one.
    pub(crate) fn certificates(&self) -> Result<Vec<CertificateDer<'static>>> {
        let bytes = self.read()?;
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|err| self.problem(format_args!("is not valid PEM ({err})")))?;
        if certs.is_empty() {
            return Err(self.problem(
                "holds no certificate; it must hold PEM blocks `-----BEGIN CERTIFICATE-----`",
            ));
        }
        Ok(certs)
    }

    /// The private key in the file (PKCS#8, PKCS#1 or SEC1).
    pub(crate) fn private_key(&self) -> Result<PrivateKeyDer<'static>> {
        let bytes = self.read()?;
        PrivateKeyDer::from_pem_slice(&bytes).map_err(|err| {
            self.problem(format_args!(
                "holds no usable private key ({err}); it must hold a PEM `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block, unencrypted"
            ))
        })
    }
}

/// What a TLS client of one store uses: how to verify, whom to trust, and who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientTls {
    /// How the server's certificate is checked.
    pub(crate) verify: Verify,
    /// The CA certificates to trust instead of the system's.
    pub(crate) ca_file: Option<PemFile>,
    /// The client's certificate chain and key, for servers that authenticate clients by
    /// certificate; both or neither.
    pub(crate) identity: Option<(PemFile, PemFile)>,
}

impl ClientTls {
    /// The rustls configuration, offering `alpn` (empty: none). Reads the files now, so a
    /// missing or malformed file fails here, naming its option.
    pub(crate) fn client_config(&self, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|err| StoreError::backend_with("cannot set up TLS", err))?;
        let verifier: Arc<dyn ServerCertVerifier> = match self.verify {
            Verify::Nothing => Arc::new(AnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            }),
            Verify::Full | Verify::Chain => {
                let roots = self.roots()?;
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|err| {
                        StoreError::invalid(format!("cannot use the trusted CAs: {err}"))
                    })?;
                if self.verify == Verify::Full {
                    webpki
                } else {
                    Arc::new(AnyName { webpki })
                }
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(cert.certificates()?, key.private_key()?)
                .map_err(|err| {
                    StoreError::invalid(format!(
                        "options `{}` and `{}`: the key does not go with the certificate ({err}); name the certificate and its own key",
                        cert.option, key.option
                    ))
                })?,
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    /// The trusted roots: the CA file's certificates, or the system's.
    fn roots(&self) -> Result<Arc<RootCertStore>> {
        let mut roots = RootCertStore::empty();
        match &self.ca_file {
            Some(file) => {
                for cert in file.certificates()? {
                    roots.add(cert).map_err(|err| {
                        file.problem(format_args!(
                            "holds a certificate that cannot be a trust anchor ({err})"
                        ))
                    })?;
                }
            }
            None => {
                let system = rustls_native_certs::load_native_certs().map_err(|err| {
                    StoreError::invalid(format!(
                        "cannot read the system's CA certificates ({err}); set `ca_file` to the CA that signed the server's certificate"
                    ))
                })?;
                roots.add_parsable_certificates(system);
                if roots.is_empty() {
                    return Err(StoreError::invalid(
                        "the system has no CA certificates to verify the server with; set `ca_file` to the CA that signed the server's certificate, or install the system's CA bundle (ca-certificates)",
                    ));
                }
            }
        }
        Ok(Arc::new(roots))
    }
}

/// Checks the chain as [`WebPkiServerVerifier`] does, and accepts a certificate that does not
/// name the host (`verify-ca`).
#[derive(Debug)]
struct AnyName {
    webpki: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            // The chain is checked before the name: a name error means the chain is good.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Accepts any certificate, still checking that the server holds its key (PostgreSQL's
/// `require` without a CA).
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Resolves the file options' relative names against the config file's folder.
pub(crate) fn resolve_files<const N: usize>(
    context: &ConnectContext,
    files: [&mut Option<PathBuf>; N],
) {
    for path in files.into_iter().flatten() {
        *path = context.resolve(path);
    }
}

/// Checks the pairing rules of the file options at config time: a certificate needs its key
/// and a key its certificate; files need TLS to be on. `tls_on` says whether it is, and
/// `enable` how to turn it on (for the message).
pub(crate) fn check_files(
    tls_on: bool,
    enable: &str,
    ca_file: Option<&Path>,
    client_cert: Option<&Path>,
    client_key: Option<&Path>,
) -> std::result::Result<(), String> {
    if !tls_on {
        for (option, set) in [
            ("ca_file", ca_file.is_some()),
            ("client_cert", client_cert.is_some()),
            ("client_key", client_key.is_some()),
        ] {
            if set {
                return Err(format!(
                    "`{option}` is set but TLS is off, so it would be ignored; {enable}, or remove `{option}`"
                ));
            }
        }
    }
    match (client_cert, client_key) {
        (Some(_), None) => Err(
            "`client_cert` is set without `client_key`; set both (the certificate and its private key) or neither".to_owned(),
        ),
        (None, Some(_)) => Err(
            "`client_key` is set without `client_cert`; set both (the certificate and its private key) or neither".to_owned(),
        ),
        _ => Ok(()),
    }
}

/// Explains a failed TLS handshake found anywhere in `err`'s chain, naming what to change
/// (`ca_option`: the option holding the trusted CA); `None` when `err` holds no TLS failure.
pub(crate) fn explain(err: &(dyn StdError + 'static), ca_option: &str) -> Option<String> {
    let tls = tls_error(err)?;
    Some(match tls {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "TLS certificate verification failed: the server's certificate does not name the host connected to ({tls}); connect by a name the certificate lists"
        ),
        rustls::Error::InvalidCertificate(CertificateError::Expired | CertificateError::ExpiredContext { .. }) => format!(
            "TLS certificate verification failed: the server's certificate has expired ({tls}); renew it on the server"
        ),
        rustls::Error::InvalidCertificate(_) => format!(
            "TLS certificate verification failed: the server's certificate is not signed by a trusted CA ({tls}); set `{ca_option}` to the CA certificate that signed it"
        ),
        rustls::Error::AlertReceived(alert) => format!(
            "the server refused the TLS handshake ({alert:?}); if it requires a client certificate, set `client_cert` and `client_key`, and check it trusts their CA"
        ),
        other => format!("TLS handshake failed: {other}"),
    })
}

/// As [`explain`], and for drivers that keep the handshake's I/O error out of the chain, a
/// verification failure recognised by rustls's text ("invalid peer certificate: …").
#[cfg_attr(not(any(feature = "redis", feature = "scylla")), allow(dead_code))]
pub(crate) fn explain_any(err: &(dyn StdError + 'static), ca_option: &str) -> Option<String> {
    explain(err, ca_option).or_else(|| {
        let text = err.to_string();
        text.contains("invalid peer certificate").then(|| {
            format!(
                "TLS certificate verification failed ({text}); set `{ca_option}` to the CA certificate that signed the server's certificate, and connect by a name the certificate lists"
            )
        })
    })
}

/// The rustls error in `err`'s chain, looking inside I/O errors (whose `source` skips the
/// error they wrap).
fn tls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next: Option<&'a (dyn StdError + 'static)> = Some(err);
    while let Some(current) = next {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(tls) = tls_error(inner) {
                return Some(tls);
            }
        }
        next = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_malformed_files_name_the_option() {
        let dir = tempfile::tempdir().unwrap();
        let missing = PemFile::new("ca_file", dir.path().join("nope.pem"));
        let err = missing.certificates().unwrap_err().to_string();
        assert!(
            err.contains("option `ca_file`") && err.contains("nope.pem"),
            "{err}"
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = PemFile::new("ca_file", &empty)
            .certificates()
            .unwrap_err()
            .to_string();
        assert!(err.contains("holds no certificate"), "{err}");
        let err = PemFile::new("client_key", &empty)
            .private_key()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("option `client_key`") && err.contains("private key"),
            "{err}"
        );

        let tls = ClientTls {
            verify: Verify::Full,
            ca_file: Some(PemFile::new("ca_file", &empty)),
            identity: None,
        };
        let err = tls.client_config(&[]).unwrap_err().to_string();
        assert!(err.contains("option `ca_file`"), "{err}");
    }

    #[test]
    fn files_need_tls_and_come_in_pairs() {
        let p = Path::new("x.pem");
        assert!(check_files(true, "", Some(p), Some(p), Some(p)).is_ok());
        assert!(check_files(false, "", None, None, None).is_ok());
        let err = check_files(false, "set tls = true", Some(p), None, None).unwrap_err();
        assert!(
            err.contains("`ca_file`") && err.contains("set tls = true"),
            "{err}"
        );
        let err = check_files(true, "", None, Some(p), None).unwrap_err();
        assert!(err.contains("client_key"), "{err}");
        let err = check_files(true, "", None, None, Some(p)).unwrap_err();
        assert!(err.contains("client_cert"), "{err}");
    }

    #[test]
    fn explains_a_certificate_failure_inside_an_io_error() {
        let tls = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let message = explain(&io, "ca_file").unwrap();
        assert!(
            message.contains("certificate verification failed") && message.contains("`ca_file`"),
            "{message}"
        );
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(explain(&plain, "ca_file").is_none());
    }

    #[test]
    fn system_roots_build_a_verifying_config() {
        // Builds with the system's trust store (present wherever TLS clients run).
        let tls = ClientTls {
            verify: Verify::Chain,
            ca_file: None,
            identity: None,
        };
        let config = tls.client_config(&[b"postgresql"]).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"postgresql".to_vec()]);
    }
}
