package fn

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/todo-chatbot/functions/shared/runtime/secret"
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
)

// Config is a function's runtime configuration, read from the environment
// (the tags name each variable and its default). Every default works both
// under `make run` and in Knative with a Dapr sidecar.
type Config struct {
	Name string // the Dapr app-id and Knative service name, from the code
	Port int    `env:"PORT,default=8080"` // Knative sets it
	// MetricsPort serves Prometheus metrics; 0 turns them off. Not
	// 9090/9091 (Knative's queue-proxy) nor Dapr's 9095.
	MetricsPort int    `env:"METRICS_PORT,default=9464"`
	LogLevel    string `env:"LOG_LEVEL,default=info"`
	// PprofPort, when not 0, serves Go's profiles (/debug/pprof/) on
	// 127.0.0.1 only: off by default, never reachable from outside the pod.
	PprofPort int            `env:"PPROF_PORT,default=0"`
	Sidecar   sidecar.Config // DAPR_HOST, DAPR_HTTP_PORT, DAPR_GRPC_PORT, DAPR_API_TOKEN
	AppToken  secret.Value   `env:"APP_API_TOKEN"` // when set, requests must carry it

	// DrainQuietPeriod is how long after SIGTERM the function keeps
	// serving while no request arrives, so requests already routed to it
	// are not refused.
	DrainQuietPeriod time.Duration `env:"DRAIN_QUIET_PERIOD,default=3s"`
	// ShutdownTimeout bounds the wait for in-flight requests after draining.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT,default=30s"`

	// OTLPEndpoint, when set, is where spans are exported, over
	// OTLPProtocol ("grpc", or HTTP by default); the exporter reads the
	// other OTEL_EXPORTER_OTLP_* variables itself.
	OTLPEndpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	OTLPProtocol string `env:"OTEL_EXPORTER_OTLP_PROTOCOL"`

	// BulkMaxMessages, when not 0, has daprd deliver every Subscribe
	// topic in batches of up to this many events (Dapr bulk subscribe), so
	// a partition has a batch in flight instead of one event; 0 keeps one
	// event per request.
	BulkMaxMessages int `env:"SUBSCRIBE_BULK_MAX_MESSAGES,default=0"`
	// BulkMaxAwait is how long daprd holds a partial batch when bulk
	// subscribe is on. Under load batches fill from the backlog whatever
	// the wait, so it matters only when events are sparse, where it is
	// pure added latency: 50ms per hop keeps the reminder path well within
	// its 1 s lateness budget. Dapr's Kafka default (10 s) is never used.
	BulkMaxAwait time.Duration `env:"SUBSCRIBE_BULK_MAX_AWAIT,default=50ms"`

	PubSub      string `env:"PUBSUB_NAME,default=pubsub"`
	StateStore  string `env:"STATE_STORE_NAME,default=tasks"`
	DedupeStore string `env:"DEDUPE_STORE_NAME,default=dedupe"`
	SecretStore string `env:"SECRET_STORE_NAME,default=secrets"`
}

// ConfigFromEnv returns name's configuration from the environment.
func ConfigFromEnv(name string) (Config, error) {
	c := Config{Name: name}
	if err := ReadEnv(&c); err != nil {
		return c, err
	}
	for env, p := range map[string]int{"PORT": c.Port, "METRICS_PORT": c.MetricsPort, "PPROF_PORT": c.PprofPort} {
		if p < 0 || p > 65535 || (p == 0 && env == "PORT") {
			return c, fmt.Errorf("%s=%d: not a port number", env, p)
		}
	}
	if err := c.Sidecar.Validate(); err != nil {
		return c, err
	}
	for env, d := range map[string]time.Duration{"DRAIN_QUIET_PERIOD": c.DrainQuietPeriod, "SHUTDOWN_TIMEOUT": c.ShutdownTimeout} {
		if d < 0 {
			return c, fmt.Errorf("%s=%s: negative", env, d)
		}
	}
	if c.BulkMaxMessages < 0 || c.BulkMaxMessages > math.MaxInt32 {
		return c, fmt.Errorf("SUBSCRIBE_BULK_MAX_MESSAGES=%d: not a batch size", c.BulkMaxMessages)
	}
	// daprd takes whole milliseconds, and 0 would mean Dapr's own default.
	if c.BulkMaxAwait < time.Millisecond || c.BulkMaxAwait.Milliseconds() > math.MaxInt32 {
		return c, fmt.Errorf("SUBSCRIBE_BULK_MAX_AWAIT=%s: not between 1ms and %dms", c.BulkMaxAwait, math.MaxInt32)
	}
	return c, nil
}

// ReadEnv fills the struct v points to from the environment, by its
// fields' env tags (`env:"NAME,default=value"`): how the runtime and every
// function read their settings. A variable set to the empty string counts
// as unset, so its default applies. An error names the variable.
func ReadEnv(v any) error {
	// Fields are read one by one and the first bad value stops the read:
	// the last variable looked up is the one at fault.
	var last string
	err := envconfig.ProcessWith(context.Background(), &envconfig.Config{
		Target: v,
		Lookuper: envconfig.LookuperFunc(func(key string) (string, bool) {
			last = key
			s := os.Getenv(key)
			return s, s != ""
		}),
	})
	if err != nil {
		return fmt.Errorf("%s=%q: %w", last, os.Getenv(last), err)
	}
	return nil
}
