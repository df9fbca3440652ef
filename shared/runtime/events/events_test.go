package events

import (
	"context"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/dapr/dapr/pkg/proto/runtime/v1"
	dapr "github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/logging"
)

type recordingClient struct {
	body []byte
	req  runtime.PublishEventRequest
}

func (c *recordingClient) PublishEvent(_ context.Context, _, _ string, data any, opts ...dapr.PublishEventOption) error {
	c.body = data.([]byte)
	for _, o := range opts {
		o(&c.req)
	}
	return nil
}

func publish(t *testing.T, ctx context.Context) (*recordingClient, cloudevents.Event) {
	t.Helper()
	c := &recordingClient{}
	e, err := New("com.todo.task.created.v1", "t1", map[string]string{"id": "t1"})
	require.NoError(t, err)
	require.NoError(t, NewPublisher(c, "pubsub", "create-task").Publish(ctx, "todo.tasks.events", e))
	var got cloudevents.Event
	require.NoError(t, got.UnmarshalJSON(c.body))
	return c, got
}

func TestPublishIsAStructuredKafkaCloudEvent(t *testing.T) {
	t.Parallel()
	c, got := publish(t, context.Background())
	assert.Equal(t, map[string]string{
		"rawPayload":   "true",
		"content-type": "application/cloudevents+json",
		"partitionKey": "t1",
	}, c.req.GetMetadata(), "the record's headers and key")
	assert.Equal(t, "t1", got.Subject())
	assert.Equal(t, "create-task", got.Source(), "the publishing function is the source")
}

func TestPublishTraceContext(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for name, tc := range map[string]struct {
		traceparent string
		want        map[string]any
	}{
		"valid, continued": {tp, map[string]any{"traceparent": tp}},
		"none":             {"", nil},
		"malformed":        {"00-xyz-01", nil},
		"all-zero":         {"00-00000000000000000000000000000000-0000000000000000-00", nil},
	} {
		t.Run(name, func(t *testing.T) {
			_, got := publish(t, logging.WithTraceParent(context.Background(), tc.traceparent))
			ext := got.Extensions()
			delete(ext, PartitionKeyExtension)
			if tc.want == nil {
				assert.Empty(t, ext, "no trace attributes, not empty ones")
				return
			}
			assert.Equal(t, tc.want, ext)
		})
	}
}
