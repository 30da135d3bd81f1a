//! Logging and tracing: `tracing` to stderr (text or JSON), filtered by `RUST_LOG` (default
//! `info`, with the chatty NATS client held at `warn`), plus OTLP trace export when an endpoint
//! is configured.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Logs and traces")]
pub struct TelemetryArgs {
    /// Log as JSON lines instead of text.
    #[arg(long = "log-json", env = "ASTRA_LOG_JSON")]
    pub log_json: bool,
    /// OTLP gRPC endpoint for traces (e.g. http://otel-collector:4317); when unset, the
    /// standard OTEL_EXPORTER_OTLP_ENDPOINT is honoured; off when both are unset.
    #[arg(long = "otlp-endpoint", env = "ASTRA_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

/// Flushes and stops the trace exporter when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            // The exporter blocks on the runtime it was built on: shut it down from another
            // thread so dropping the guard inside the runtime cannot deadlock.
            let _ = std::thread::spawn(move || p.shutdown()).join();
        }
    }
}

/// Installs the global subscriber. Must run inside a tokio runtime when OTLP is enabled.
///
/// Spans always get real trace ids (an SDK tracer provider is installed even without an
/// exporter), so the `traceparent` of every NATS hop is set whether or not traces are exported;
/// and they are recorded whatever `RUST_LOG` says, which only filters the log output.
pub fn init(service: &'static str, args: &TelemetryArgs) -> anyhow::Result<TelemetryGuard> {
    use tracing::Level;
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::Targets;

    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,async_nats=warn,h2=warn,tower=warn,hyper=warn"));
    let mut builder = SdkTracerProvider::builder().with_resource(
        opentelemetry_sdk::Resource::builder()
            .with_service_name(service)
            .build(),
    );
    let endpoint = args.otlp_endpoint.clone().or_else(|| {
        std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())
    });
    if let Some(endpoint) = &endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let spans = Targets::new()
        .with_target("gateway", Level::INFO)
        .with_target("astra_decoder", Level::INFO)
        .with_target("astra_platform", Level::INFO)
        .with_target("astra_events", Level::INFO);
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service))
        .with_filter(spans);
    let registry = tracing_subscriber::registry().with(otel_layer);
    if args.log_json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init()?;
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .try_init()?;
    }
    Ok(TelemetryGuard {
        provider: Some(provider),
    })
}
