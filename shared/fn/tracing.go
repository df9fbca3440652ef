package fn

import (
	"context"
	"encoding/json"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/todo-chatbot/functions/shared/logging"
)

var tracer = otel.Tracer("github.com/todo-chatbot/functions/shared/fn")

// setupTracing makes every span the function starts a real one, continuing
// the caller's W3C trace (so the ids that events, jobs and webhook calls
// carry are always valid), and exports spans over OTLP/HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set; unset, nothing is exported. The
// returned function flushes what is left to export.
func setupTracing(ctx context.Context, name string) (func(context.Context) error, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", name)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
	)
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" {
		exp, err := otlptracehttp.New(ctx) // reads the OTEL_EXPORTER_OTLP_* variables
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

// trace runs each request in a server span that continues the caller's
// trace (the traceparent header, which daprd sends on every call it makes),
// named after the route that served it.
func (f *Function) trace(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := logging.WithTraceParent(r.Context(), r.Header.Get("traceparent"), r.Header.Get("tracestate"))
		ctx, span := tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		next.ServeHTTP(w, r.WithContext(ctx))
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			span.SetName(r.Method + " " + rc.RoutePattern())
		}
	})
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
