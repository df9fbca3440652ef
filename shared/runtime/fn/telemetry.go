package fn

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/todo-chatbot/functions/shared/runtime/logging"
	"github.com/todo-chatbot/functions/shared/runtime/metrics"
)

var tracer = otel.Tracer("github.com/todo-chatbot/functions/shared/runtime/fn")

// setupTracing makes every span the function starts a real one, continuing
// the caller's W3C trace (so the ids that events, jobs and webhook calls
// carry are always valid), and exports spans over OTLP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set; unset, nothing is exported. The
// returned function flushes what is left to export.
func setupTracing(ctx context.Context, cfg Config) (func(context.Context) error, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", cfg.Name)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
	)
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.OTLPEndpoint != "" {
		exp, err := otlpExporter(ctx, cfg.OTLPProtocol)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp.Shutdown, nil
}

// otlpExporter speaks OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" (as Dapr's own
// tracing does in the chart), or HTTP (http/protobuf, the OpenTelemetry
// default). Both read the other OTEL_EXPORTER_OTLP_* variables themselves.
func otlpExporter(ctx context.Context, protocol string) (sdktrace.SpanExporter, error) {
	if protocol == "grpc" {
		return otlptracegrpc.New(ctx)
	}
	return otlptracehttp.New(ctx)
}

// trace runs each request in a server span that continues the caller's
// trace (the traceparent header, which daprd sends on every call it makes),
// named after the route that served it.
func (f *Function) trace(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := logging.WithTraceParent(r.Context(), r.Header.Get("traceparent"), r.Header.Get("tracestate"))
		ctx, span := tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		ctx = context.WithValue(ctx, routeKey{}, new(string))
		r = r.WithContext(ctx)
		next.ServeHTTP(w, r)
		if route := routeOf(r); route != "" {
			span.SetName(r.Method + " " + route)
		}
	})
}

// measure records each request's duration by trigger and route pattern
// (never the raw path, which holds user and task ids).
func (f *Function) measure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		route := routeOf(r)
		if route == "" {
			route = "unmatched"
		}
		metrics.HandlerDuration.WithLabelValues(f.trigger(r.URL.Path), route).Observe(time.Since(start).Seconds())
	})
}

// routeOf is the pattern of the route that served r: a function's own
// (Handle), else the runtime's.
func routeOf(r *http.Request) string {
	if p, ok := r.Context().Value(routeKey{}).(*string); ok && *p != "" {
		return *p
	}
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "/*" {
		return rc.RoutePattern()
	}
	return ""
}

// trigger names what made a request: a Dapr subscription, a Knative
// Eventing delivery, a Dapr job, a cron binding, or a plain HTTP call.
func (f *Function) trigger(path string) string {
	_, topic := f.daprTopic[path]
	_, cron := f.cronRoute[path]
	switch {
	case topic:
		return "topic"
	case cron:
		return "cron"
	case strings.HasPrefix(path, "/events/"):
		return "event"
	case strings.HasPrefix(path, "/job/"):
		return "job"
	}
	return "http"
}

// jobTrace is the trace context a job's JSON data may carry, so the job
// continues, when it fires, the trace of whatever scheduled it.
type jobTrace struct {
	TraceParent string `json:"traceparent"`
	TraceState  string `json:"tracestate"`
}

func continueJobTrace(ctx context.Context, data []byte) context.Context {
	var tc jobTrace
	if json.Unmarshal(data, &tc) != nil || tc.TraceParent == "" {
		return ctx
	}
	return logging.WithTraceParent(ctx, tc.TraceParent, tc.TraceState)
}
