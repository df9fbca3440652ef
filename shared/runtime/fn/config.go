package fn

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/secret"
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
)

// Config is a function's runtime configuration, read from the environment.
// Every field has a default that works both under `make run` and in
// Knative with a Dapr sidecar.
type Config struct {
	Name string // the Dapr app-id and Knative service name
	Port int    // PORT (8080): Knative sets it
	// MetricsPort (METRICS_PORT, 9464) serves Prometheus metrics; 0 turns
	// them off. Not 9090/9091 (Knative's queue-proxy) nor Dapr's 9095.
	MetricsPort int
	LogLevel    string         // LOG_LEVEL (info)
	Sidecar     sidecar.Config // DAPR_HOST, DAPR_HTTP_PORT, DAPR_GRPC_PORT, DAPR_API_TOKEN
	AppToken    secret.Value   // APP_API_TOKEN: when set, requests must carry it

	// DrainQuietPeriod (DRAIN_QUIET_PERIOD, 3s) is how long after SIGTERM
	// the function keeps serving while no request arrives, so requests
	// already routed to it are not refused.
	DrainQuietPeriod time.Duration
	// ShutdownTimeout (SHUTDOWN_TIMEOUT, 30s) bounds the wait for in-flight
	// requests after draining.
	ShutdownTimeout time.Duration

	PubSub      string // PUBSUB_NAME (pubsub)
	StateStore  string // STATE_STORE_NAME (tasks)
	DedupeStore string // DEDUPE_STORE_NAME (dedupe)
	SecretStore string // SECRET_STORE_NAME (secrets)
}

// ConfigFromEnv returns name's configuration from the environment.
func ConfigFromEnv(name string) (Config, error) {
	c := Config{
		Name:             name,
		Port:             8080,
		MetricsPort:      9464,
		LogLevel:         Env("LOG_LEVEL", "info"),
		DrainQuietPeriod: 3 * time.Second,
		ShutdownTimeout:  30 * time.Second,
		PubSub:           Env("PUBSUB_NAME", "pubsub"),
		StateStore:       Env("STATE_STORE_NAME", "tasks"),
		DedupeStore:      Env("DEDUPE_STORE_NAME", "dedupe"),
		SecretStore:      Env("SECRET_STORE_NAME", "secrets"),
	}
	var err error
	if c.Sidecar, err = sidecar.FromEnv(); err != nil {
		return c, err
	}
	if p := os.Getenv("PORT"); p != "" {
		if c.Port, err = strconv.Atoi(p); err != nil || c.Port <= 0 || c.Port > 65535 {
			return c, fmt.Errorf("PORT=%q: not a port number", p)
		}
	}
	if p := os.Getenv("METRICS_PORT"); p != "" {
		if c.MetricsPort, err = strconv.Atoi(p); err != nil || c.MetricsPort < 0 || c.MetricsPort > 65535 {
			return c, fmt.Errorf("METRICS_PORT=%q: not a port number", p)
		}
	}
	if t := os.Getenv("APP_API_TOKEN"); t != "" {
		c.AppToken = secret.NewValue(t)
	}
	for env, d := range map[string]*time.Duration{"DRAIN_QUIET_PERIOD": &c.DrainQuietPeriod, "SHUTDOWN_TIMEOUT": &c.ShutdownTimeout} {
		if s := os.Getenv(env); s != "" {
			if *d, err = time.ParseDuration(s); err != nil || *d < 0 {
				return c, fmt.Errorf("%s=%q: not a duration", env, s)
			}
		}
	}
	return c, nil
}

// Env returns the environment variable key, or def when it is unset or
// empty: how a function reads its own settings, with documented defaults.
func Env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
