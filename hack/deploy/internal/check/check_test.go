package check

import (
	"strings"
	"testing"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
)

func doc(t *testing.T, y string) manifest.Doc {
	t.Helper()
	docs, err := manifest.Parse("test", []byte(y))
	if err != nil || len(docs) != 1 {
		t.Fatalf("parse: %v (%d docs)", err, len(docs))
	}
	return docs[0]
}

func TestLiteralSecrets(t *testing.T) {
	tests := []struct {
		name, yaml string
		bad        bool
	}{
		{"metadata from secret", "kind: Component\nspec:\n  metadata:\n  - name: redisPassword\n    secretKeyRef: {name: r, key: password}\n", false},
		{"metadata literal", "kind: Component\nspec:\n  metadata:\n  - name: redisPassword\n    value: s3cret\n", true},
		{"connection string literal", "kind: Component\nspec:\n  metadata:\n  - name: connectionString\n    value: host=db password=x\n", true},
		{"env from secret", "kind: Service\nspec:\n  env:\n  - name: APP_API_TOKEN\n    valueFrom: {secretKeyRef: {name: t, key: token}}\n", false},
		{"env literal", "kind: Service\nspec:\n  env:\n  - name: APP_API_TOKEN\n    value: abc\n", true},
		{"plain key", "kind: X\nspec:\n  clientKey: abc\n", true},
		{"secret name reference", "kind: Service\nmetadata:\n  annotations:\n    dapr.io/app-token-secret: app-api-token\n", false},
		{"switch", "kind: Service\nmetadata:\n  annotations:\n    dapr.io/disable-builtin-k8s-secret-store: \"true\"\n", false},
		{"empty", "kind: X\nspec:\n  password: \"\"\n", false},
		{"a Secret", "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n", true},
		{"non-credential", "kind: Component\nspec:\n  metadata:\n  - name: authType\n    value: password\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := LiteralSecrets(doc(t, tt.yaml))
			if (len(errs) > 0) != tt.bad {
				t.Errorf("errors %v, want bad=%t", errs, tt.bad)
			}
		})
	}
}

func TestCheckMetadata(t *testing.T) {
	c, err := ContribModule()
	if err != nil {
		t.Fatal(err)
	}
	s := secretPlaceholder
	tests := []struct {
		name, typ, version string
		md                 map[string]string
		want               string // "" = valid
	}{
		{"kafka SASL", "pubsub.kafka", "v1", map[string]string{"brokers": "b:9093", "authType": "password", "saslUsername": s, "saslPassword": s, "saslMechanism": "SHA-512", "caCert": s}, ""},
		{"kafka no auth profile", "pubsub.kafka", "v1", map[string]string{"brokers": "b:9093"}, "no authentication profile"},
		{"kafka SASL incomplete", "pubsub.kafka", "v1", map[string]string{"brokers": "b", "authType": "password", "saslUsername": s}, "no authentication profile"},
		{"kafka unknown key", "pubsub.kafka", "v1", map[string]string{"brokers": "b", "authType": "none", "brokerz": "x"}, "unknown metadata key"},
		{"kafka missing brokers", "pubsub.kafka", "v1", map[string]string{"authType": "none"}, `required metadata key "brokers"`},
		{"keys are case-insensitive", "pubsub.kafka", "v1", map[string]string{"Brokers": "b", "authtype": "none"}, ""},
		{"postgres v2", "state.postgresql", "v2", map[string]string{"connectionString": s, "keyPrefix": "name", "actorStateStore": "false"}, ""},
		{"no such version", "state.postgresql", "v3", map[string]string{"connectionString": s}, "no metadata.yaml"},
		{"redis bool", "state.redis", "v1", map[string]string{"redisHost": "r:6379", "enableTLS": "yes"}, "not a bool"},
		{"redis ttl", "state.redis", "v1", map[string]string{"redisHost": "r:6379", "ttlInSeconds": "3600"}, ""},
		{"cron", "bindings.cron", "v1", map[string]string{"schedule": "@every 1m", "direction": "input"}, ""},
		{"binding route is runtime's", "bindings.http", "v1", map[string]string{"url": "http://x", "route": "/x"}, ""},
		{"secret store has no keys", "secretstores.kubernetes", "v1", map[string]string{"namespace": "x"}, "unknown metadata key"},
		{"keyPrefix is for state stores", "bindings.cron", "v1", map[string]string{"schedule": "@every 1m", "keyPrefix": "name"}, "unknown metadata key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.CheckMetadata(tt.typ, tt.version, tt.md)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestKafkaSource(t *testing.T) {
	const valid = `apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata: {name: k, namespace: todo}
spec:
  consumerGroup: g
  bootstrapServers: [b:9093]
  topics: [t]
  net:
    sasl:
      enable: true
      user: {secretKeyRef: {name: s, key: user}}
      password: {secretKeyRef: {name: s, key: password}}
  sink:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: f}
    uri: /events/t
`
	if _, err := KafkaSourceDoc(doc(t, valid)); err != nil {
		t.Fatalf("valid source rejected: %v", err)
	}
	for name, mutate := range map[string][2]string{
		"no brokers":        {"bootstrapServers: [b:9093]", "bootstrapServers: []"},
		"no topics":         {"topics: [t]", "topics: []"},
		"no sink":           {"    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: f}\n    uri: /events/t\n", "    uri: /events/t\n"},
		"password literal":  {"password: {secretKeyRef: {name: s, key: password}}", "password: {}"},
		"unknown field":     {"consumerGroup: g", "consumerGroupId: g"},
		"bad ordering":      {"consumerGroup: g", "consumerGroup: g\n  ordering: random"},
		"secret ref no key": {"user: {secretKeyRef: {name: s, key: user}}", "user: {secretKeyRef: {name: s}}"},
		"wrong version":     {"sources.knative.dev/v1beta1", "sources.knative.dev/v1"},
	} {
		t.Run(name, func(t *testing.T) {
			y := strings.Replace(valid, mutate[0], mutate[1], 1)
			if y == valid {
				t.Fatal("mutation did not apply")
			}
			if _, err := KafkaSourceDoc(doc(t, y)); err == nil {
				t.Error("accepted")
			}
		})
	}
}
