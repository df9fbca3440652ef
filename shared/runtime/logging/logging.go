// Package logging sets up the structured JSON logs every function writes:
// one JSON object a line on stderr, carrying the function name and, where
// the context has one, the W3C trace id, with known secret values scrubbed.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// WithTraceParent returns ctx continuing the W3C trace of traceparent
// ("00-<trace-id>-<span-id>-<flags>") and tracestate, so logs, spans and
// outgoing calls made under it belong to the caller's trace. A missing or
// malformed traceparent leaves ctx as it is.
func WithTraceParent(ctx context.Context, traceparent string, tracestate ...string) context.Context {
	if traceparent == "" {
		return ctx
	}
	in := propagation.MapCarrier{"traceparent": traceparent}
	if len(tracestate) > 0 && tracestate[0] != "" {
		in["tracestate"] = tracestate[0]
	}
	return propagation.TraceContext{}.Extract(ctx, in)
}

// TraceContext returns ctx's W3C trace context: traceparent, and tracestate
// when the trace has one; nil when ctx carries no valid trace.
func TraceContext(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	out := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, out)
	return out
}

// TraceParent returns the traceparent of ctx's trace, or "".
func TraceParent(ctx context.Context) string {
	return TraceContext(ctx)["traceparent"]
}

// TraceID returns the 32-hex trace id of ctx's trace, or "".
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

// New returns a JSON logger for the named function at level ("debug",
// "info", "warn", "error"; anything else means info).
func New(w io.Writer, function, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})
	return slog.New(&handler{inner: h}).With("function", function)
}

// Default builds the logger for stderr at level and installs it as slog's
// default.
func Default(function, level string) *slog.Logger {
	l := New(os.Stderr, function, level)
	slog.SetDefault(l)
	return l
}

// handler adds the trace id and scrubs registered secret values. Scrubbing
// is the second line of defence: secret.Value already refuses to print, but
// a revealed value copied into a plain string must not reach a log either.
type handler struct {
	inner slog.Handler
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, scrub(r.Message), r.PC)
	if id := TraceID(ctx); id != "" {
		out.AddAttrs(slog.String("trace_id", id))
	}
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = scrubAttr(a)
	}
	return &handler{inner: h.inner.WithAttrs(clean)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: h.inner.WithGroup(name)}
}

var (
	secretsMu sync.RWMutex
	secrets   []string
)

// Redact registers values that must never be written to a log. Values
// shorter than 4 bytes are ignored: scrubbing them would mangle ordinary text.
func Redact(values ...string) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, v := range values {
		if len(v) >= 4 {
			secrets = append(secrets, v)
		}
	}
}

const redacted = "[REDACTED]"

func scrub(s string) string {
	secretsMu.RLock()
	defer secretsMu.RUnlock()
	for _, v := range secrets {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, redacted)
		}
	}
	return s
}

func scrubAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, scrub(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]any, len(group))
		for i, g := range group {
			clean[i] = scrubAttr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		// Errors and other values are rendered the way the JSON handler
		// would, then scrubbed.
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, scrub(err.Error()))
		}
		if s, ok := v.Any().(interface{ String() string }); ok {
			return slog.String(a.Key, scrub(s.String()))
		}
		return slog.Attr{Key: a.Key, Value: v}
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}
