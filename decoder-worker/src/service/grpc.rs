//! gRPC of the decoder service: `astra.v1.Decoder/Decode` (decode given bytes with an optional
//! login line, for support and debugging), `grpc.health.v1` and server reflection; TLS and the
//! bearer token as `platform::grpc_security` says (health stays open).

use super::enrich::Enricher;
use super::metrics::Metrics;
use super::pool::{DecodeJob, DecoderPool};
use astra_codec::login::parse_login;
use astra_codec::{DecodeError, Layout};
use astra_platform::grpc_security::GrpcSecurity;
use astra_proto::v1::decoder_server::{Decoder, DecoderServer};
use astra_proto::v1::{self, DecodeRequest, DecodeResponse, ModuleLayout};
use std::net::SocketAddr;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

/// Largest request accepted: a frame is at most 64 KiB, plus the login line.
const MAX_REQUEST: usize = 128 * 1024;

pub struct DecoderService {
    pool: DecoderPool,
    layout: Layout,
    metrics: Metrics,
    enricher: Enricher,
}

impl DecoderService {
    /// `layout` applies when a request leaves it unspecified; positions are returned as the
    /// replica would publish them (with accuracy and address, via `enricher`).
    pub fn new(pool: DecoderPool, layout: Layout, metrics: Metrics, enricher: Enricher) -> Self {
        Self {
            pool,
            layout,
            metrics,
            enricher,
        }
    }

    fn failed(&self, e: &DecodeError) -> Response<DecodeResponse> {
        self.metrics
            .grpc_requests
            .with_label_values(&[e.kind()])
            .inc();
        Response::new(DecodeResponse {
            positions: Vec::new(),
            error: Some(v1::DecodeError {
                kind: e.kind().to_owned(),
                message: e.to_string(),
            }),
        })
    }
}

#[tonic::async_trait]
impl Decoder for DecoderService {
    async fn decode(
        &self,
        request: Request<DecodeRequest>,
    ) -> Result<Response<DecodeResponse>, Status> {
        let req = request.into_inner();
        let layout = ModuleLayout::try_from(req.layout)
            .ok()
            .and_then(Layout::from_proto)
            .unwrap_or(self.layout);
        let login = match req.login.trim() {
            "" => None,
            line => match parse_login(line.as_bytes()) {
                Ok(l) => Some(l),
                Err(e) => return Ok(self.failed(&e)),
            },
        };
        let job = DecodeJob {
            frame: req.frame.into(),
            login,
            layout,
        };
        match self.pool.decode(job).await {
            Err(e) => Err(Status::unavailable(e.to_string())),
            Ok(Err(e)) => Ok(self.failed(&e)),
            Ok(Ok(mut positions)) => {
                self.enricher.enrich(&mut positions).await;
                self.metrics.grpc_requests.with_label_values(&["ok"]).inc();
                Ok(Response::new(DecodeResponse {
                    positions,
                    error: None,
                }))
            }
        }
    }
}

/// Serves the decoder, health and reflection services until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    service: DecoderService,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_secured(addr, service, GrpcSecurity::none(), shutdown).await
}

/// [`serve`] with TLS and/or a bearer token.
pub async fn serve_secured(
    addr: SocketAddr,
    service: DecoderService,
    security: GrpcSecurity,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(listener, service, security, shutdown).await
}

/// [`serve_secured`] on a listener the caller bound (tests bind port 0 to avoid races).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    service: DecoderService,
    security: GrpcSecurity,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "gRPC listening");
    security.log("astra.v1.Decoder");
    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<DecoderServer<DecoderService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(astra_proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let auth = security.interceptor();
    security
        .server()?
        .add_service(health)
        .add_service(InterceptedService::new(reflection, auth.clone()))
        .add_service(InterceptedService::new(
            DecoderServer::new(service).max_decoding_message_size(MAX_REQUEST),
            auth,
        ))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            shutdown,
        )
        .await?;
    Ok(())
}
