//! Security of every gRPC server of the cluster (gateway `Commands`, decoder `Decoder`,
//! event-worker `Fleet`): TLS from PEM files, optionally requiring client certificates signed
//! by a given CA (mutual TLS), and a bearer token checked by an interceptor.
//!
//! The token guards the service itself and reflection; `grpc.health.v1` stays open so that
//! Kubernetes probes and load balancers need no secret (it says only SERVING / NOT_SERVING).
//!
//! Settings, the same flags in every service ([`GrpcSecurityArgs`]): `--grpc-token`,
//! `--grpc-tls-cert`, `--grpc-tls-key`, `--grpc-tls-client-ca` (environment `ASTRA_GRPC_TOKEN`,
//! `ASTRA_GRPC_TLS_CERT`, … by the rule of `config`; each service runs in its own pod or
//! container, so one name per setting is enough).

use crate::nats::Secret;
use prometheus::{IntCounterVec, Opts, Registry};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Status};

/// Token and TLS of a gRPC server (flattened into each service's command line).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "gRPC security")]
pub struct GrpcSecurityArgs {
    /// Bearer token required on gRPC calls (`authorization: Bearer <token>`; health stays
    /// open); none when unset (prefer the environment variable: a flag shows in `ps`).
    #[arg(long = "grpc-token", env = "ASTRA_GRPC_TOKEN", hide_env_values = true)]
    pub grpc_token: Option<Secret>,
    /// Certificate chain (PEM) of the gRPC server: serve gRPC over TLS; needs --grpc-tls-key.
    #[arg(
        long = "grpc-tls-cert",
        env = "ASTRA_GRPC_TLS_CERT",
        requires = "grpc_tls_key"
    )]
    pub grpc_tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --grpc-tls-cert.
    #[arg(
        long = "grpc-tls-key",
        env = "ASTRA_GRPC_TLS_KEY",
        requires = "grpc_tls_cert"
    )]
    pub grpc_tls_key: Option<PathBuf>,
    /// CA (PEM) that gRPC clients' certificates must be signed by (mutual TLS); needs
    /// --grpc-tls-cert. Clients without a valid certificate cannot connect.
    #[arg(
        long = "grpc-tls-client-ca",
        env = "ASTRA_GRPC_TLS_CLIENT_CA",
        requires = "grpc_tls_cert"
    )]
    pub grpc_tls_client_ca: Option<PathBuf>,
}

/// Why the gRPC security settings cannot be used. Causes are part of the message (not a
/// `source`), so a one-line log says why and a chained print does not say it twice.
#[derive(Debug, thiserror::Error)]
pub enum GrpcSecurityError {
    #[error("cannot read gRPC TLS {what} {path}: {error}")]
    Read {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("gRPC TLS {what} {path} holds no PEM block")]
    NotPem { what: &'static str, path: PathBuf },
    /// The certificate or key was refused (message with its causes, e.g. rustls' reason).
    #[error("gRPC TLS configuration refused: {0}")]
    Tls(String),
    #[error("gRPC bearer token must not be empty or contain spaces or control characters")]
    BadToken,
    #[error("gRPC refusal counter: {0}")]
    Metrics(String),
}

/// An error and its causes on one line: tonic's own message ("transport error") says nothing
/// without them.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// TLS and token of one gRPC server, loaded and checked at start-up.
#[derive(Clone, Default)]
pub struct GrpcSecurity {
    tls: Option<ServerTlsConfig>,
    token: Option<Arc<str>>,
    rejections: Option<IntCounterVec>,
}

impl std::fmt::Debug for GrpcSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcSecurity")
            .field("tls", &self.tls.is_some())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

fn read_pem(what: &'static str, path: &Path) -> Result<Vec<u8>, GrpcSecurityError> {
    let bytes = std::fs::read(path).map_err(|error| GrpcSecurityError::Read {
        what,
        path: path.to_owned(),
        error,
    })?;
    // rustls' own message for a non-PEM file is vague; name the file instead.
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(GrpcSecurityError::NotPem {
            what,
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

impl GrpcSecurity {
    /// No TLS, no token: what a server had before these settings existed.
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads the TLS files (so a missing or unreadable one stops the service at start) and
    /// takes the token (an empty one counts as unset).
    pub fn load(tls: &GrpcSecurityArgs) -> Result<Self, GrpcSecurityError> {
        let tls_config = match (&tls.grpc_tls_cert, &tls.grpc_tls_key) {
            (Some(cert), Some(key)) => {
                let identity =
                    Identity::from_pem(read_pem("certificate", cert)?, read_pem("key", key)?);
                let mut config = ServerTlsConfig::new().identity(identity);
                if let Some(ca) = &tls.grpc_tls_client_ca {
                    config =
                        config.client_ca_root(Certificate::from_pem(read_pem("client CA", ca)?));
                }
                // Builds the TLS acceptor once now, so a malformed certificate or a key that does
                // not match it stops the service at start rather than only its gRPC server.
                Server::builder()
                    .tls_config(config.clone())
                    .map_err(|e| GrpcSecurityError::Tls(with_causes(&e)))?;
                Some(config)
            }
            _ => None,
        };
        let token = tls
            .grpc_token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .filter(|t| !t.is_empty());
        Self::with_parts(tls_config, token)
    }

    /// From a TLS configuration built in code (tests) and a token.
    pub fn with_parts(
        tls: Option<ServerTlsConfig>,
        token: Option<String>,
    ) -> Result<Self, GrpcSecurityError> {
        if let Some(t) = &token
            && (t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            // Such a token could never be sent in an `authorization` header as we parse it.
            return Err(GrpcSecurityError::BadToken);
        }
        Ok(Self {
            tls,
            token: token.map(Arc::from),
            rejections: None,
        })
    }

    /// Counts refused calls in `registry` as `name` (label `reason`: `missing`, `invalid`).
    pub fn count_rejections(
        mut self,
        registry: &Registry,
        name: &str,
    ) -> Result<Self, GrpcSecurityError> {
        let metrics = |e: prometheus::Error| GrpcSecurityError::Metrics(e.to_string());
        let counter = IntCounterVec::new(
            Opts::new(
                name,
                "gRPC calls refused for a missing or wrong bearer token",
            ),
            &["reason"],
        )
        .map_err(metrics)?;
        registry
            .register(Box::new(counter.clone()))
            .map_err(metrics)?;
        // Present from the start, so dashboards and alerts see zeros rather than no series.
        for reason in ["missing", "invalid"] {
            counter.with_label_values(&[reason]);
        }
        self.rejections = Some(counter);
        Ok(self)
    }

    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    pub fn token_required(&self) -> bool {
        self.token.is_some()
    }

    /// A server builder with TLS applied when configured.
    pub fn server(&self) -> Result<Server, GrpcSecurityError> {
        let builder = Server::builder();
        Ok(match &self.tls {
            Some(tls) => builder
                .tls_config(tls.clone())
                .map_err(|e| GrpcSecurityError::Tls(with_causes(&e)))?,
            None => builder,
        })
    }

    /// The interceptor that checks the bearer token (lets everything through without one).
    pub fn interceptor(&self) -> BearerAuth {
        BearerAuth {
            expected: self.token.clone(),
            rejections: self.rejections.clone(),
        }
    }

    /// Logs what this server requires, once at start.
    pub fn log(&self, service: &str) {
        tracing::info!(
            service,
            tls = self.tls_enabled(),
            token = self.token_required(),
            "gRPC security"
        );
    }
}

/// Checks `authorization: Bearer <token>` on every call of the service it wraps.
#[derive(Clone)]
pub struct BearerAuth {
    expected: Option<Arc<str>>,
    rejections: Option<IntCounterVec>,
}

impl BearerAuth {
    fn refuse(&self, reason: &'static str) -> Status {
        if let Some(c) = &self.rejections {
            c.with_label_values(&[reason]).inc();
        }
        // Debug, not warn: a scanner would otherwise fill the logs; the counter shows volume.
        tracing::debug!(reason, "gRPC call refused");
        Status::unauthenticated(match reason {
            "missing" => "missing bearer token",
            _ => "invalid bearer token",
        })
    }
}

impl tonic::service::Interceptor for BearerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(request);
        };
        let Some(header) = request.metadata().get("authorization") else {
            return Err(self.refuse("missing"));
        };
        let given = header
            .to_str()
            .ok()
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match given {
            Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(request),
            _ => Err(self.refuse("invalid")),
        }
    }
}

/// Compares without stopping at the first difference, so response time does not tell an
/// attacker how much of a guess was right (the length may still show; tokens should be long).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor;

    fn call(auth: &mut BearerAuth, header: Option<&str>) -> Result<(), tonic::Code> {
        let mut req = Request::new(());
        if let Some(h) = header {
            req.metadata_mut()
                .insert("authorization", h.parse().unwrap());
        }
        auth.call(req).map(|_| ()).map_err(|s| s.code())
    }

    #[test]
    fn bearer_tokens() {
        let registry = Registry::new();
        let security = GrpcSecurity::with_parts(None, Some("s3cret-token".into()))
            .unwrap()
            .count_rejections(&registry, "test_grpc_unauthenticated_total")
            .unwrap();
        let mut auth = security.interceptor();
        let unauth = Err(tonic::Code::Unauthenticated);
        assert_eq!(call(&mut auth, None), unauth);
        assert_eq!(call(&mut auth, Some("Bearer wrong")), unauth);
        assert_eq!(call(&mut auth, Some("Bearer s3cret-toke")), unauth);
        assert_eq!(call(&mut auth, Some("Basic s3cret-token")), unauth);
        assert_eq!(call(&mut auth, Some("s3cret-token")), unauth);
        assert_eq!(call(&mut auth, Some("Bearer s3cret-token")), Ok(()));
        assert_eq!(call(&mut auth, Some("bearer s3cret-token")), Ok(()));
        let counts = security.rejections.as_ref().unwrap();
        assert_eq!(counts.with_label_values(&["missing"]).get(), 1);
        assert_eq!(counts.with_label_values(&["invalid"]).get(), 4);

        let mut open = GrpcSecurity::none().interceptor();
        assert_eq!(call(&mut open, None), Ok(()));
        assert_eq!(call(&mut open, Some("Bearer anything")), Ok(()));
    }

    #[test]
    fn bad_tokens_and_files_fail_at_start() {
        assert!(matches!(
            GrpcSecurity::with_parts(None, Some("two words".into())),
            Err(GrpcSecurityError::BadToken)
        ));
        let missing = GrpcSecurityArgs {
            grpc_tls_cert: Some("/nonexistent/cert.pem".into()),
            grpc_tls_key: Some("/nonexistent/key.pem".into()),
            grpc_tls_client_ca: None,
            grpc_token: None,
        };
        assert!(matches!(
            GrpcSecurity::load(&missing),
            Err(GrpcSecurityError::Read {
                what: "certificate",
                ..
            })
        ));
        let dir = std::env::temp_dir().join(format!("astra-grpc-sec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let not_pem = GrpcSecurityArgs {
            grpc_tls_cert: Some(junk.clone()),
            grpc_tls_key: Some(junk),
            grpc_tls_client_ca: None,
            grpc_token: None,
        };
        assert!(matches!(
            GrpcSecurity::load(&not_pem),
            Err(GrpcSecurityError::NotPem { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn certificates_are_checked_at_load() {
        let ca = astra_tests::pki::TestCa::new("unit test CA");
        let a = ca.server("a");
        let b = ca.server("b");
        let args = |cert: &std::path::Path, key: &std::path::Path| GrpcSecurityArgs {
            grpc_tls_cert: Some(cert.to_owned()),
            grpc_tls_key: Some(key.to_owned()),
            grpc_tls_client_ca: Some(ca.cert_path.clone()),
            grpc_token: None,
        };
        let ok = GrpcSecurity::load(&args(&a.cert_path, &a.key_path)).unwrap();
        assert!(ok.tls_enabled() && !ok.token_required());
        assert!(ok.server().is_ok());
        let mismatched = GrpcSecurity::load(&args(&a.cert_path, &b.key_path));
        assert!(
            matches!(mismatched, Err(GrpcSecurityError::Tls(_))),
            "{mismatched:?}"
        );
    }

    #[test]
    fn comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
