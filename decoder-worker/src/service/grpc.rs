//! gRPC of the decoder service: `astra.v1.Decoder/Decode` (decode given bytes with an optional
//! login line, for support and debugging). Health, reflection, TLS and the bearer token come
//! from `astra_platform::grpc` like every service's (health stays open).

use super::enrich::Enricher;
use super::metrics::Metrics;
use super::pool::{DecodeJob, DecoderPool};
use astra_codec::login::parse_login;
use astra_codec::{DecodeError, Layout};
use astra_platform::grpc::GrpcServeError;
use astra_platform::grpc_security::GrpcSecurity;
use astra_proto::v1::decoder_server::{Decoder, DecoderServer};
use astra_proto::v1::{self, DecodeRequest, DecodeResponse, ModuleLayout};
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

/// Serves `service` on `listener` (bound by the caller, e.g. with `astra_platform::grpc::bind`)
/// with health, reflection, TLS and the token of `security`, until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: DecoderService,
    security: &GrpcSecurity,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), GrpcServeError> {
    let server = DecoderServer::new(service).max_decoding_message_size(MAX_REQUEST);
    astra_platform::grpc::serve(listener, server, security, shutdown).await
}
