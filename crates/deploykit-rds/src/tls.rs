//! TLS to the database: every connection deploykit makes to RDS verifies the server's
//! certificate chain and host name (libpq's `sslmode=verify-full`) with rustls and the
//! aws-lc-rs provider the AWS SDK already builds.
//!
//! Which CA is trusted is the target's choice, never a flag: a real target trusts the Amazon
//! RDS CA bundle shipped in this crate ([`RDS_CA_BUNDLE_PEM`], source and date in
//! `certs/README.md`); the `local` target trusts the local cloud's own CA (made at `local up`,
//! its path in `state.json`). There is no "do not verify" mode.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use crate::RdsError;

/// The Amazon RDS root CAs deploykit trusts on real targets (see `certs/README.md`).
pub const RDS_CA_BUNDLE_PEM: &str = include_str!("../certs/rds-ca-us-east-1-bundle.pem");
/// Where [`RDS_CA_BUNDLE_PEM`] comes from.
pub const RDS_CA_BUNDLE_SOURCE: &str =
    "https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem";
/// The region whose RDS root CAs [`RDS_CA_BUNDLE_PEM`] holds: since the 2024 CA rotation
/// every region's certificates chain to that region's own roots.
pub const RDS_CA_BUNDLE_REGION: &str = "us-east-1";
/// The bundle's path in this repository (for messages).
pub const RDS_CA_BUNDLE_FILE: &str = "crates/deploykit-rds/certs/rds-ca-us-east-1-bundle.pem";
/// Where the app finds the RDS bundle on real targets: relative to the app's working
/// directory (EB's `/var/app/current`, the image's WORKDIR on App Runner/ECS), so the app tree
/// ships a copy (`.crt`, not `.pem`: bundles refuse `*.pem` as key files; the runbook says
/// how; the example app has one).
pub const APP_RDS_CA_FILE: &str = "rds-ca-bundle.crt";

/// The CA a connection trusts, and the `sslrootcert` the app's URL names.
#[derive(Clone)]
pub struct DbTrust {
    /// What it is, for messages: the shipped RDS bundle or the local CA file.
    source: String,
    pem: String,
    /// What the generated URLs carry as `sslrootcert` (the app's view of the same CA).
    app_rootcert: String,
    /// The local cloud's CA: a wrong-CA message says to restart the local cloud, not to
    /// update the RDS bundle.
    local: bool,
    /// Only for a local cloud started before it had TLS (no CA in its state.json): its
    /// PostgreSQL has no TLS at all, so connections are plain and every use warns. Real
    /// targets never get this; it is chosen from the local cloud's state, never by a flag.
    legacy_plaintext: Option<String>,
}

impl std::fmt::Debug for DbTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbTrust")
            .field("source", &self.source)
            .field("app_rootcert", &self.app_rootcert)
            .finish()
    }
}

impl DbTrust {
    /// Real targets: the Amazon RDS bundle shipped in this crate.
    pub fn rds() -> Self {
        DbTrust {
            source: format!("the shipped Amazon RDS CA bundle ({RDS_CA_BUNDLE_FILE})"),
            pem: RDS_CA_BUNDLE_PEM.to_string(),
            app_rootcert: APP_RDS_CA_FILE.to_string(),
            local: false,
            legacy_plaintext: None,
        }
    }

    /// The RDS CAs of a real target in `region`: the operator's bundle (`[database] ca_bundle`)
    /// when given, else the shipped one, which only covers [`RDS_CA_BUNDLE_REGION`]; any other
    /// region without a bundle is refused before a connection is tried.
    pub fn rds_for(region: &str, bundle: Option<&Path>) -> Result<Self, RdsError> {
        let url = |r: &str| format!("https://truststore.pki.rds.amazonaws.com/{r}/{r}-bundle.pem");
        match bundle {
            Some(path) => {
                let pem = std::fs::read_to_string(path).map_err(|e| RdsError::TrustStore {
                    source_name: format!("[database] ca_bundle ({})", path.display()),
                    reason: format!("cannot read it: {e}"),
                    fix: format!(
                        "download {} (or the global bundle) to that path, or fix the path in deploy.toml",
                        url(region)
                    ),
                })?;
                let trust = DbTrust {
                    source: format!(
                        "the RDS CA bundle {} ([database] ca_bundle)",
                        path.display()
                    ),
                    pem,
                    app_rootcert: APP_RDS_CA_FILE.to_string(),
                    local: false,
                    legacy_plaintext: None,
                };
                trust.certificates()?;
                Ok(trust)
            }
            None if region == RDS_CA_BUNDLE_REGION => Ok(DbTrust::rds()),
            None => Err(RdsError::TrustStore {
                source_name: "[database] ca_bundle".into(),
                reason: format!(
                    "deploykit ships the Amazon RDS CA bundle of {RDS_CA_BUNDLE_REGION} only, and RDS certificates in {region} chain to {region}'s own root CAs"
                ),
                fix: format!(
                    "download {} (or the global bundle), commit it, set [database] ca_bundle = \"<its path>\" in deploy.toml, and ship the same file in the app as {APP_RDS_CA_FILE}",
                    url(region)
                ),
            }),
        }
    }

    /// A local cloud whose state.json records no CA (started by a deploykit before TLS):
    /// plain connections, with `why` in every warning.
    pub fn local_without_tls(why: impl Into<String>) -> Self {
        DbTrust {
            source: "none: the local cloud predates TLS".into(),
            pem: String::new(),
            app_rootcert: String::new(),
            local: true,
            legacy_plaintext: Some(why.into()),
        }
    }

    /// `Some(why)` when connections are plain (a local cloud without TLS); see
    /// [`DbTrust::local_without_tls`].
    pub fn plaintext_reason(&self) -> Option<&str> {
        self.legacy_plaintext.as_deref()
    }

    /// The TLS parameters generated URLs carry: `sslmode=verify-full` and `sslrootcert`.
    pub fn url_tls(&self) -> Option<crate::url::UrlTls> {
        self.legacy_plaintext.is_none().then(|| crate::url::UrlTls {
            rootcert: self.app_rootcert.clone(),
        })
    }

    /// The local target: the local cloud's CA file (`state.json` `pg.tls.ca_file`); the app
    /// sees the same path (the local cloud mounts it into workload containers).
    pub fn local_ca(path: &Path) -> Result<Self, RdsError> {
        let pem = std::fs::read_to_string(path).map_err(|e| RdsError::TrustStore {
            source_name: path.display().to_string(),
            reason: format!("cannot read it: {e}"),
            fix: "start the local cloud again (it makes its CA at start) or check the file's permissions".into(),
        })?;
        Ok(DbTrust {
            source: format!("the local cloud's CA ({})", path.display()),
            pem,
            app_rootcert: path.display().to_string(),
            local: true,
            legacy_plaintext: None,
        })
    }

    /// A CA bundle from PEM text (tests; a bundle the operator provides).
    pub fn from_pem(
        source: impl Into<String>,
        pem: impl Into<String>,
        app_rootcert: impl Into<String>,
    ) -> Self {
        DbTrust {
            source: source.into(),
            pem: pem.into(),
            app_rootcert: app_rootcert.into(),
            local: false,
            legacy_plaintext: None,
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The `sslrootcert` value generated URLs carry.
    pub fn app_rootcert(&self) -> &str {
        &self.app_rootcert
    }

    /// The CA certificates, parsed; an empty or unreadable bundle is an error.
    pub fn certificates(&self) -> Result<Vec<CertificateDer<'static>>, RdsError> {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(self.pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| self.bad_store(format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(self.bad_store("it holds no certificate".into()));
        }
        Ok(certs)
    }

    fn bad_store(&self, reason: String) -> RdsError {
        RdsError::TrustStore {
            source_name: self.source.clone(),
            reason,
            fix: if self.local {
                "stop and start the local cloud again: it makes a new CA when its files are missing or damaged".into()
            } else {
                format!("restore {RDS_CA_BUNDLE_FILE} from {RDS_CA_BUNDLE_SOURCE}")
            },
        }
    }

    /// The rustls connector for tokio-postgres: verifies the chain against these CAs and the
    /// host name (or IP address) the connection was made to.
    pub fn connector(&self) -> Result<RustlsConnect, RdsError> {
        let mut roots = rustls::RootCertStore::empty();
        for c in self.certificates()? {
            roots
                .add(c)
                .map_err(|e| self.bad_store(format!("a certificate is not usable: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| self.bad_store(format!("TLS settings: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(RustlsConnect {
            config: Arc::new(config),
        })
    }

    /// Connects with TLS required and verified (`sslmode=verify-full`), bounded by `timeout`.
    /// A TLS failure is [`RdsError::Tls`] naming the trusted CA and the fix.
    pub async fn connect(
        &self,
        cfg: &tokio_postgres::Config,
        timeout: std::time::Duration,
    ) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), ConnectFailure> {
        if self.legacy_plaintext.is_some() {
            let (client, conn) = tokio::time::timeout(timeout, cfg.connect(tokio_postgres::NoTls))
                .await
                .map_err(|_| ConnectFailure::Timeout)?
                .map_err(|e| ConnectFailure::Other(describe(&e)))?;
            let task = tokio::spawn(async move {
                let _ = conn.await;
            });
            return Ok((client, task));
        }
        let mut cfg = cfg.clone();
        cfg.ssl_mode(tokio_postgres::config::SslMode::Require);
        let tls = self.connector().map_err(ConnectFailure::Trust)?;
        let (client, conn) = tokio::time::timeout(timeout, cfg.connect(tls))
            .await
            .map_err(|_| ConnectFailure::Timeout)?
            .map_err(|e| self.classify(&e))?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok((client, task))
    }

    /// A TLS failure by its typed cause (never by message text): the rustls error in the
    /// source chain, or the server saying it has no TLS.
    fn classify(&self, e: &tokio_postgres::Error) -> ConnectFailure {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(t) = err.downcast_ref::<rustls::Error>() {
                return ConnectFailure::Tls(self.tls_reason(t));
            }
            if let Some(io) = err.downcast_ref::<io::Error>()
                && let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
            {
                return ConnectFailure::Tls(self.tls_reason(t));
            }
            cur = err.source();
        }
        ConnectFailure::Other(describe(e))
    }

    fn tls_reason(&self, t: &rustls::Error) -> TlsFailure {
        use rustls::CertificateError as C;
        let (reason, fix) = match t {
            rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => (
                format!("the server's certificate is not signed by a CA in {}", self.source),
                if self.local {
                    "the local cloud's PostgreSQL was started with another CA: stop and start the local cloud so state.json and the server agree".to_string()
                } else {
                    format!("the instance's CA (RDS `CACertificateIdentifier`, e.g. rds-ca-rsa2048-g1) must be in {RDS_CA_BUNDLE_FILE}: refresh it from https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem")
                },
            ),
            rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => (
                "the server's certificate is not valid for the host name connected to".to_string(),
                "connect to the instance's endpoint address as RDS reports it (not an IP address or a CNAME); through a tunnel, keep the endpoint as the host name".to_string(),
            ),
            rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. }) => (
                "the server's certificate is outside its validity period".to_string(),
                "rotate the instance's certificate (RDS: modify the instance's CA) or check this machine's clock".to_string(),
            ),
            other => (
                format!("TLS handshake failed: {other}"),
                "check that the server is PostgreSQL with TLS on and that the CA matches".to_string(),
            ),
        };
        TlsFailure { reason, fix }
    }
}

/// A tokio-postgres error in words: the server's message (and SQLSTATE), or the error with
/// its causes (tokio-postgres' own Display says only "db error" / "error connecting").
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut out = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

/// Why [`DbTrust::connect`] failed; callers add host, port, user and database.
#[derive(Debug)]
pub enum ConnectFailure {
    Trust(RdsError),
    Tls(TlsFailure),
    Timeout,
    Other(String),
}

#[derive(Debug, Clone)]
pub struct TlsFailure {
    pub reason: String,
    pub fix: String,
}

/// tokio-postgres' `MakeTlsConnect` over rustls (no channel binding).
#[derive(Clone)]
pub struct RustlsConnect {
    config: Arc<rustls::ClientConfig>,
}

impl<S> MakeTlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnectOne;
    type Error = rustls::pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnectOne, Self::Error> {
        let name =
            ServerName::try_from(domain.trim_start_matches('[').trim_end_matches(']'))?.to_owned();
        Ok(RustlsConnectOne {
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            name,
        })
    }
}

impl std::fmt::Debug for RustlsConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RustlsConnect")
    }
}

/// One connection's TLS handshake.
pub struct RustlsConnectOne {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnectOne
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let s = self.connector.connect(self.name, stream).await?;
            Ok(RustlsStream(Box::new(s)))
        })
    }
}

impl std::fmt::Debug for RustlsConnectOne {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustlsConnectOne")
            .field("name", &self.name)
            .finish()
    }
}

/// A TLS stream for tokio-postgres.
pub struct RustlsStream<S>(Box<tokio_rustls::client::TlsStream<S>>);

impl<S> std::fmt::Debug for RustlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RustlsStream")
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rds_bundle_parses_and_builds_a_verifier() {
        let t = DbTrust::rds();
        let certs = t.certificates().unwrap();
        assert_eq!(
            certs.len(),
            3,
            "us-east-1: RSA2048 G1, RSA4096 G1, ECC384 G1"
        );
        t.connector().unwrap();
        assert_eq!(t.app_rootcert(), APP_RDS_CA_FILE);
        assert!(RDS_CA_BUNDLE_PEM.contains("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn real_targets_trust_their_region_or_the_operators_bundle() {
        assert!(DbTrust::rds_for("us-east-1", None).is_ok());
        let e = DbTrust::rds_for("eu-west-1", None).unwrap_err();
        let help = deploykit_report::Diagnostic::help(&e).unwrap_or_default();
        assert!(
            e.to_string().contains("[database] ca_bundle")
                && help.contains(
                    "https://truststore.pki.rds.amazonaws.com/eu-west-1/eu-west-1-bundle.pem"
                )
                && help.contains(APP_RDS_CA_FILE),
            "{e} / {help}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("eu-west-1-bundle.pem");
        let missing = DbTrust::rds_for("eu-west-1", Some(&file)).unwrap_err();
        assert!(
            missing.to_string().contains("eu-west-1-bundle.pem"),
            "{missing}"
        );
        std::fs::write(&file, "not a certificate").unwrap();
        assert!(DbTrust::rds_for("eu-west-1", Some(&file)).is_err());
        std::fs::write(&file, RDS_CA_BUNDLE_PEM).unwrap();
        let t = DbTrust::rds_for("eu-west-1", Some(&file)).unwrap();
        assert_eq!(t.certificates().unwrap().len(), 3);
        assert_eq!(t.app_rootcert(), APP_RDS_CA_FILE);
    }

    /// The example app ships the same CA bundle its URL's `sslrootcert` names.
    #[test]
    fn the_example_app_ships_the_same_bundle() {
        let copy = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/budgetsync")
            .join(APP_RDS_CA_FILE);
        assert_eq!(
            std::fs::read_to_string(&copy).unwrap(),
            RDS_CA_BUNDLE_PEM,
            "{}",
            copy.display()
        );
    }

    #[test]
    fn an_empty_or_broken_bundle_is_refused_with_its_source_and_fix() {
        for pem in [
            "",
            "not a certificate",
            "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        ] {
            let t = DbTrust::from_pem("test bundle", pem, "x.pem");
            let e = t.connector().map(|_| ()).unwrap_err();
            let shown = e.to_string();
            assert!(shown.contains("test bundle"), "{shown}");
            assert!(matches!(e, RdsError::TrustStore { .. }), "{shown}");
        }
        let missing = DbTrust::local_ca(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/ca.pem"));
    }
}
