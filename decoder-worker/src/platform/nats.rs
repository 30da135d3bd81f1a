//! NATS connection settings (URL, credentials, TLS) shared by every service.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct NatsArgs {
    /// NATS server URL(s), comma separated.
    #[arg(
        long = "nats",
        env = "ASTRA_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub url: String,
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
    #[arg(long = "nats-tls-key", env = "ASTRA_NATS_TLS_KEY")]
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
}

impl NatsArgs {
    /// Connects, failing fast if the server is unreachable at start; after that the client
    /// reconnects by itself for ever.
    pub async fn connect(&self, name: &str) -> anyhow::Result<async_nats::Client> {
        let mut opts = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            .require_tls(self.require_tls);
        if let Some(creds) = &self.creds {
            opts = opts.credentials_file(creds).await?;
        }
        if let Some(ca) = &self.tls_ca {
            opts = opts.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            opts = opts.add_client_certificate(cert.clone(), key.clone());
        }
        let urls: Vec<async_nats::ServerAddr> = self
            .url
            .split(',')
            .map(|u| u.trim().parse())
            .collect::<Result<_, _>>()?;
        Ok(opts.connect(urls).await?)
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
