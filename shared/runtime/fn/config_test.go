package fn

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigFromEnvDefaults(t *testing.T) {
	for _, k := range []string{"PORT", "METRICS_PORT", "LOG_LEVEL", "DAPR_HOST", "DAPR_HTTP_PORT", "DAPR_GRPC_PORT", "DAPR_API_TOKEN", "APP_API_TOKEN", "DRAIN_QUIET_PERIOD", "SHUTDOWN_TIMEOUT", "PUBSUB_NAME", "STATE_STORE_NAME", "DEDUPE_STORE_NAME", "SECRET_STORE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "SUBSCRIBE_BULK_MAX_MESSAGES", "SUBSCRIBE_BULK_MAX_AWAIT"} {
		t.Setenv(k, "") // empty counts as unset
	}
	c, err := ConfigFromEnv("f")
	require.NoError(t, err)
	assert.Equal(t, "f", c.Name)
	assert.Equal(t, 8080, c.Port)
	assert.Equal(t, 9464, c.MetricsPort)
	assert.Equal(t, "info", c.LogLevel)
	assert.Equal(t, "127.0.0.1", c.Sidecar.Host)
	assert.Equal(t, 3500, c.Sidecar.HTTPPort)
	assert.Equal(t, 50001, c.Sidecar.GRPCPort)
	assert.True(t, c.AppToken.IsZero())
	assert.Equal(t, 3*time.Second, c.DrainQuietPeriod)
	assert.Equal(t, 30*time.Second, c.ShutdownTimeout)
	assert.Equal(t, []string{"pubsub", "tasks", "dedupe", "secrets"}, []string{c.PubSub, c.StateStore, c.DedupeStore, c.SecretStore})
	assert.Equal(t, 0, c.BulkMaxMessages, "bulk subscribe is off unless asked for")
	assert.Equal(t, 50*time.Millisecond, c.BulkMaxAwait)
}

func TestConfigFromEnvSet(t *testing.T) {
	t.Setenv("PORT", "9000")
	t.Setenv("METRICS_PORT", "0")
	t.Setenv("DAPR_GRPC_PORT", "51001")
	t.Setenv("APP_API_TOKEN", "app-token-value")
	t.Setenv("DAPR_API_TOKEN", "dapr-token-value")
	t.Setenv("DRAIN_QUIET_PERIOD", "200ms")
	t.Setenv("SUBSCRIBE_BULK_MAX_MESSAGES", "20")
	t.Setenv("SUBSCRIBE_BULK_MAX_AWAIT", "1s")
	c, err := ConfigFromEnv("f")
	require.NoError(t, err)
	assert.Equal(t, 9000, c.Port)
	assert.Equal(t, 0, c.MetricsPort, "0 turns metrics off")
	assert.Equal(t, 51001, c.Sidecar.GRPCPort)
	assert.True(t, c.AppToken.Equal("app-token-value"))
	assert.True(t, c.Sidecar.APIToken.Equal("dapr-token-value"))
	assert.Equal(t, 200*time.Millisecond, c.DrainQuietPeriod)
	assert.Equal(t, 20, c.BulkMaxMessages)
	assert.Equal(t, time.Second, c.BulkMaxAwait)
}

func TestConfigFromEnvRefusesBadValues(t *testing.T) {
	for env, v := range map[string]string{
		"PORT": "eighty", "METRICS_PORT": "70000", "DAPR_HTTP_PORT": "-1",
		"DAPR_GRPC_PORT": "x", "SHUTDOWN_TIMEOUT": "soon", "DRAIN_QUIET_PERIOD": "-1s",
		"SUBSCRIBE_BULK_MAX_MESSAGES": "-5", "SUBSCRIBE_BULK_MAX_AWAIT": "500us",
	} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, v)
			_, err := ConfigFromEnv("f")
			assert.ErrorContains(t, err, env)
		})
	}
}
