//! The gRPC `astra.v1.Commands/Send` service. A command is routed as a NATS request to
//! `astra.cmd.<imei>`, which only the gateway holding the device subscribes to; no subscriber
//! means the device is not connected anywhere. It is served by `astra_platform::grpc::serve`,
//! which adds `grpc.health.v1`, reflection, TLS and the bearer token (health stays open).

use crate::command::{STATUS_HEADER, Status as CommandStatus};
use astra_platform::streams;
use astra_proto::v1::commands_server::Commands;
use astra_proto::v1::{SendCommandRequest, SendCommandResponse};
use async_nats::RequestErrorKind;
use prost::Message;
use std::time::Duration;
use tonic::{Request, Response, Status};

/// Extra time the gRPC side waits beyond the command timeout for the holder's answer.
const ROUTING_MARGIN: Duration = Duration::from_secs(2);

/// Routes each command to the gateway holding the device and maps its answer to a gRPC status.
pub(crate) struct CommandService {
    client: async_nats::Client,
    default_timeout: Duration,
    max_timeout: Duration,
}

impl CommandService {
    pub(crate) fn new(
        client: async_nats::Client,
        default_timeout: Duration,
        max_timeout: Duration,
    ) -> Self {
        Self {
            client,
            default_timeout,
            max_timeout,
        }
    }
}

#[tonic::async_trait]
impl Commands for CommandService {
    async fn send(
        &self,
        request: Request<SendCommandRequest>,
    ) -> Result<Response<SendCommandResponse>, Status> {
        let mut req = request.into_inner();
        if req.imei.len() != 15 || !req.imei.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Status::invalid_argument("imei must be 15 digits"));
        }
        if req.line.is_empty() || req.line.contains(['\r', '\n']) {
            return Err(Status::invalid_argument(
                "line must be one non-empty line without CR/LF",
            ));
        }
        let timeout = match req.timeout_ms {
            0 => self.default_timeout,
            ms => Duration::from_millis(u64::from(ms)).min(self.max_timeout),
        };
        req.timeout_ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        let request = async_nats::Request::new()
            .payload(req.encode_to_vec().into())
            .timeout(Some(timeout + ROUTING_MARGIN));
        let reply = match self
            .client
            .send_request(streams::command_subject(&req.imei), request)
            .await
        {
            Ok(reply) => reply,
            Err(e) => {
                return Err(match e.kind() {
                    RequestErrorKind::NoResponders => Status::not_found("device not connected"),
                    RequestErrorKind::TimedOut => {
                        Status::deadline_exceeded("no reply from the device in time")
                    }
                    _ => Status::unavailable(format!("NATS: {e}")),
                });
            }
        };
        let status = reply
            .headers
            .as_ref()
            .and_then(|h| h.get(STATUS_HEADER))
            .and_then(|v| CommandStatus::parse(v.as_str()));
        match status {
            Some(CommandStatus::Ok) => Ok(Response::new(SendCommandResponse {
                reply: String::from_utf8_lossy(&reply.payload).into_owned(),
            })),
            Some(CommandStatus::Timeout) => Err(Status::deadline_exceeded(
                "no reply from the device in time",
            )),
            Some(CommandStatus::NotConnected) => Err(Status::not_found("device not connected")),
            Some(CommandStatus::Invalid) | None => Err(Status::internal(
                "unexpected answer from the gateway holding the device",
            )),
        }
    }
}
