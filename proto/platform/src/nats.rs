//! NATS connection settings (URL, authentication, TLS) shared by every service.
//!
//! Authentication is one of: user and password, a token, an NKey seed file, or a `.creds` file
//! (JWT + NKey, for operator/account set-ups); clap refuses two at once, since the server would
//! only look at one of them and silently ignoring the other hides a mistake. TLS (custom CA,
//! client certificate) combines with any of them. Secrets given by environment variable are
//! not echoed by `--help` and are redacted in `Debug` output.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// A secret string (password, token) that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for handing it to the client library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// What can go wrong turning the settings into connect options. The cause is part of each
/// message (not a `source`), so that one-line logs (`error = %e`) still say why, and chained
/// printing (`{:#}`) does not say it twice.
#[derive(Debug, thiserror::Error)]
pub enum NatsSetupError {
    #[error("cannot read the NATS credentials file {path}: {error}")]
    Creds {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot read the NATS NKey seed file {path}: {error}")]
    NkeyFile {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} holds no NKey user seed (a line starting with `SU`)")]
    NkeyMissing { path: PathBuf },
    #[error("the NKey seed in {path} is invalid: {message}")]
    NkeyInvalid { path: PathBuf, message: String },
    #[error("an empty NATS {0} is not allowed (unset it instead)")]
    Empty(&'static str),
    #[error("invalid NATS server URL {url:?}: {message}")]
    Url { url: String, message: String },
    #[error("cannot connect to NATS at {url}: {error}")]
    Connect {
        url: String,
        error: async_nats::ConnectError,
    },
}

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "NATS")]
pub struct NatsArgs {
    /// NATS server URL(s), comma separated.
    #[arg(
        long = "nats-url",
        alias = "nats",
        env = "ASTRA_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub url: String,
    /// NATS user name (password authentication); needs --nats-password.
    #[arg(
        long = "nats-user",
        env = "ASTRA_NATS_USER",
        requires = "password",
        conflicts_with_all = ["token", "nkey", "creds"]
    )]
    pub user: Option<String>,
    /// NATS password of --nats-user (prefer the environment variable: a flag shows in `ps`).
    #[arg(
        long = "nats-password",
        env = "ASTRA_NATS_PASSWORD",
        hide_env_values = true,
        requires = "user"
    )]
    pub password: Option<Secret>,
    /// NATS authentication token (prefer the environment variable: a flag shows in `ps`).
    #[arg(
        long = "nats-token",
        env = "ASTRA_NATS_TOKEN",
        hide_env_values = true,
        conflicts_with_all = ["nkey", "creds"]
    )]
    pub token: Option<Secret>,
    /// File holding an NKey user seed (`SU…`, as written by `nk -gen user`); the server knows
    /// the matching public key (`U…`).
    #[arg(long = "nats-nkey", env = "ASTRA_NATS_NKEY", conflicts_with = "creds")]
    pub nkey: Option<PathBuf>,
    /// NATS credentials file (JWT + NKey).
    #[arg(long = "nats-creds", env = "ASTRA_NATS_CREDS")]
    pub creds: Option<PathBuf>,
    /// CA certificate (PEM) to verify the NATS server.
    #[arg(long = "nats-tls-ca", env = "ASTRA_NATS_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; needs --nats-tls-key.
    #[arg(
        long = "nats-tls-cert",
        env = "ASTRA_NATS_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[arg(
        long = "nats-tls-key",
        env = "ASTRA_NATS_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Require TLS even if the URL does not say `tls://`.
    #[arg(long = "nats-require-tls", env = "ASTRA_NATS_REQUIRE_TLS")]
    pub require_tls: bool,
    /// Replicas of the streams and buckets this service creates (3 in a NATS cluster).
    #[arg(
        long = "stream-replicas",
        env = "ASTRA_STREAM_REPLICAS",
        default_value_t = 1
    )]
    pub stream_replicas: usize,
    /// Number of partitions devices are spread over (stored subjects of ASTRA_RAW carry the
    /// partition; decoder- and event-workers divide partitions by lease). Fixed once per
    /// cluster: the same value for every service.
    #[arg(
        long = "partitions",
        env = "ASTRA_PARTITIONS",
        default_value_t = 64,
        value_parser = clap::value_parser!(u32).range(1..=4096)
    )]
    pub partitions: u32,
}

impl Default for NatsArgs {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".to_owned(),
            user: None,
            password: None,
            token: None,
            nkey: None,
            creds: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            require_tls: false,
            stream_replicas: 1,
            partitions: crate::streams::DEFAULT_PARTITIONS,
        }
    }
}

impl NatsArgs {
    /// Replicas and partitions of the streams, as the services create them.
    pub fn layout(&self) -> crate::streams::Layout {
        crate::streams::Layout {
            replicas: self.stream_replicas,
            partitions: self.partitions,
        }
    }

    /// Settings for `url` with no authentication and no TLS (tests, tools).
    pub fn for_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The connect options these settings describe (authentication, TLS, reconnect policy).
    pub async fn options(&self, name: &str) -> Result<async_nats::ConnectOptions, NatsSetupError> {
        let mut opts = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            .require_tls(self.require_tls)
            .event_callback(|event| async move { log_event(&event) });
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            if user.is_empty() {
                return Err(NatsSetupError::Empty("user"));
            }
            opts = opts.user_and_password(user.clone(), password.expose().to_owned());
        }
        if let Some(token) = &self.token {
            if token.expose().is_empty() {
                return Err(NatsSetupError::Empty("token"));
            }
            opts = opts.token(token.expose().to_owned());
        }
        if let Some(path) = &self.nkey {
            opts = opts.nkey(read_nkey_seed(path)?);
        }
        if let Some(creds) = &self.creds {
            opts = opts
                .credentials_file(creds)
                .await
                .map_err(|error| NatsSetupError::Creds {
                    path: creds.clone(),
                    error,
                })?;
        }
        if let Some(ca) = &self.tls_ca {
            opts = opts.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            opts = opts.add_client_certificate(cert.clone(), key.clone());
        }
        Ok(opts)
    }

    /// The server addresses of `--nats`.
    pub fn server_addrs(&self) -> Result<Vec<async_nats::ServerAddr>, NatsSetupError> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| {
                u.parse().map_err(|e: std::io::Error| NatsSetupError::Url {
                    url: u.to_owned(),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// Connects, failing fast if the server is unreachable or refuses the credentials at
    /// start; after that the client reconnects by itself for ever.
    pub async fn connect(&self, name: &str) -> anyhow::Result<async_nats::Client> {
        Ok(self.try_connect(name).await?)
    }

    /// [`connect`](Self::connect) with a typed error.
    pub async fn try_connect(&self, name: &str) -> Result<async_nats::Client, NatsSetupError> {
        let opts = self.options(name).await?;
        let urls = self.server_addrs()?;
        opts.connect(urls)
            .await
            .map_err(|error| NatsSetupError::Connect {
                url: self.url.clone(),
                error,
            })
    }
}

/// Reads the user seed from a file written by `nk -gen user` (the seed alone) or one with
/// comment lines around it; the seed is checked here so a bad file fails at start with its
/// path, rather than as an opaque authorization error from the server.
pub fn read_nkey_seed(path: &Path) -> Result<String, NatsSetupError> {
    let text = std::fs::read_to_string(path).map_err(|error| NatsSetupError::NkeyFile {
        path: path.to_owned(),
        error,
    })?;
    let seed = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("SU"))
        .ok_or_else(|| NatsSetupError::NkeyMissing {
            path: path.to_owned(),
        })?;
    nkeys::KeyPair::from_seed(seed).map_err(|e| NatsSetupError::NkeyInvalid {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok(seed.to_owned())
}

/// Logs what the server tells the client outside of a request: above all permission
/// violations (`-ERR 'Permissions Violation for Publish to …'`), which the server reports
/// only this way, so an operator sees which subject a too-narrow permission list denied.
fn log_event(event: &async_nats::Event) {
    match event {
        async_nats::Event::ServerError(e) => tracing::warn!(error = %e, "NATS server error"),
        async_nats::Event::ClientError(e) => tracing::warn!(error = %e, "NATS client error"),
        async_nats::Event::SlowConsumer(sid) => {
            tracing::warn!(sid, "NATS slow consumer: messages dropped")
        }
        async_nats::Event::Disconnected => tracing::warn!("NATS disconnected"),
        async_nats::Event::Connected => tracing::info!("NATS connected"),
        other => tracing::info!(event = %other, "NATS connection event"),
    }
}

/// Whether the client is connected right now (for readiness).
pub fn is_connected(client: &async_nats::Client) -> bool {
    client.connection_state() == async_nats::connection::State::Connected
}

pub use async_nats::Client;
pub use async_nats::jetstream::Context as JetStream;

/// The JetStream context of a client.
pub fn jetstream(client: &Client) -> JetStream {
    async_nats::jetstream::new(client.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        nats: NatsArgs,
    }

    fn parse(args: &[&str]) -> Result<NatsArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied())).map(|c| c.nats)
    }

    #[test]
    fn one_authentication_method_at_a_time() {
        let ok = parse(&["--nats-user", "gw", "--nats-password", "pw"]).unwrap();
        assert_eq!(ok.user.as_deref(), Some("gw"));
        assert_eq!(ok.password.as_ref().map(Secret::expose), Some("pw"));
        assert!(
            parse(&["--nats-user", "gw"]).is_err(),
            "user needs password"
        );
        assert!(
            parse(&["--nats-password", "pw"]).is_err(),
            "password needs user"
        );
        for (a, b) in [
            (["--nats-user", "u"], ["--nats-token", "t"]),
            (["--nats-user", "u"], ["--nats-nkey", "/k"]),
            (["--nats-user", "u"], ["--nats-creds", "/c"]),
            (["--nats-token", "t"], ["--nats-nkey", "/k"]),
            (["--nats-token", "t"], ["--nats-creds", "/c"]),
            (["--nats-nkey", "/k"], ["--nats-creds", "/c"]),
        ] {
            let mut args: Vec<&str> = a.to_vec();
            args.extend(b);
            if a[0] == "--nats-user" {
                args.extend(["--nats-password", "p"]);
            }
            let err = parse(&args).expect_err(&format!("{args:?} must conflict"));
            assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        }
        // TLS goes with any of them.
        let both = parse(&["--nats-token", "t", "--nats-tls-ca", "/ca.pem"]).unwrap();
        assert_eq!(both.tls_ca, Some(PathBuf::from("/ca.pem")));
        assert!(parse(&["--nats-tls-key", "/k"]).is_err(), "key needs cert");
    }

    #[test]
    fn secrets_are_redacted() {
        let args = parse(&["--nats-token", "hunter2"]).unwrap();
        let shown = format!("{args:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("Secret(***)"));
    }

    #[test]
    fn nkey_seed_files() {
        let dir = std::env::temp_dir().join(format!("astra-nkey-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pair = nkeys::KeyPair::new_user();
        let seed = pair.seed().unwrap();
        let plain = dir.join("plain.nk");
        std::fs::write(&plain, format!("{seed}\n")).unwrap();
        assert_eq!(read_nkey_seed(&plain).unwrap(), seed);
        let commented = dir.join("commented.nk");
        std::fs::write(&commented, format!("# gateway\n\n  {seed}  \n")).unwrap();
        assert_eq!(read_nkey_seed(&commented).unwrap(), seed);
        let empty = dir.join("empty.nk");
        std::fs::write(&empty, "# nothing\n").unwrap();
        assert!(matches!(
            read_nkey_seed(&empty),
            Err(NatsSetupError::NkeyMissing { .. })
        ));
        let broken = dir.join("broken.nk");
        std::fs::write(&broken, "SUAAAAAAAA\n").unwrap();
        assert!(matches!(
            read_nkey_seed(&broken),
            Err(NatsSetupError::NkeyInvalid { .. })
        ));
        assert!(matches!(
            read_nkey_seed(&dir.join("missing.nk")),
            Err(NatsSetupError::NkeyFile { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
