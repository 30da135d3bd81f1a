//! W3C trace context across the NATS hops: the gateway starts a trace per frame and puts its
//! `traceparent` header on the raw message; the decoder-worker continues it on the positions it
//! publishes, and the event-worker on the events (JetStream sourcing keeps headers). So one
//! packet's gateway → decoder → event-worker path is one trace, exported over OTLP when an
//! endpoint is configured.

use async_nats::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

struct Inject<'a>(&'a mut HeaderMap);

impl Injector for Inject<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

struct Extract<'a>(&'a HeaderMap);

impl Extractor for Extract<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        [TRACEPARENT, TRACESTATE]
            .into_iter()
            .filter(|k| self.0.get(*k).is_some())
            .collect()
    }
}

/// Writes the span's trace context into NATS headers (nothing if the span has none).
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    let cx = span.context();
    TraceContextPropagator::new().inject_context(&cx, &mut Inject(headers));
}

/// A new span named `name` continuing the trace whose context `headers` carry (a new trace
/// when they carry none).
pub fn continue_from(span: tracing::Span, headers: Option<&HeaderMap>) -> tracing::Span {
    if let Some(h) = headers {
        let parent = TraceContextPropagator::new().extract(&Extract(h));
        let _ = span.set_parent(parent);
    }
    span
}

/// Headers carrying `span`'s context.
pub fn headers_for(span: &tracing::Span) -> HeaderMap {
    let mut h = HeaderMap::new();
    inject(span, &mut h);
    h
}
