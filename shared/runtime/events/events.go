// Package events builds and publishes the CloudEvents the functions
// exchange over Dapr pub/sub.
package events

import (
	"context"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	dapr "github.com/dapr/go-sdk/client"
	"github.com/google/uuid"

	"github.com/todo-chatbot/functions/shared/runtime/logging"
)

// PartitionKeyExtension is the CloudEvents extension (the Kafka binding's
// "partitionkey") that keeps one entity's events in order on one partition.
const PartitionKeyExtension = "partitionkey"

// New returns a CloudEvent 1.0 with JSON data. subject doubles as the
// partition key: every event about one task lands on one partition. Its
// source is set by the publisher: the function that publishes it.
func New(eventType, subject string, data any) (cloudevents.Event, error) {
	e := cloudevents.NewEvent()
	e.SetID(uuid.NewString())
	e.SetType(eventType)
	e.SetSubject(subject)
	e.SetTime(time.Now().UTC())
	e.SetExtension(PartitionKeyExtension, subject)
	if err := e.SetData(cloudevents.ApplicationJSON, data); err != nil {
		return e, fmt.Errorf("event %s data: %w", eventType, err)
	}
	return e, nil
}

// Publisher is what handlers publish through.
type Publisher interface {
	Publish(ctx context.Context, topic string, e cloudevents.Event) error
}

// PublishClient is the part of the Dapr client a DaprPublisher uses.
type PublishClient interface {
	PublishEvent(ctx context.Context, pubsub, topic string, data any, opts ...dapr.PublishEventOption) error
}

// DaprPublisher publishes, as source, through one Dapr pub/sub component.
type DaprPublisher struct {
	client PublishClient
	pubsub string
	source string
}

// NewPublisher returns a publisher over the named pub/sub component whose
// events name source (the publishing function) as their source.
func NewPublisher(client PublishClient, pubsub, source string) *DaprPublisher {
	return &DaprPublisher{client: client, pubsub: pubsub, source: source}
}

// Publish writes e to Kafka as a structured-mode CloudEvent by the
// CloudEvents Kafka protocol binding: the record's value is exactly e's
// JSON, its content-type header application/cloudevents+json, its key the
// partition key. A raw payload keeps daprd from adding its own trace
// attributes, which are empty strings when it has no trace; consumers
// through Dapr still read the value as the CloudEvent it is. e continues
// ctx's trace when ctx carries a valid W3C trace context, and carries none
// otherwise.
func (p *DaprPublisher) Publish(ctx context.Context, topic string, e cloudevents.Event) error {
	e.SetSource(p.source)
	for k, v := range logging.TraceContext(ctx) {
		e.SetExtension(k, v)
	}
	if err := e.Validate(); err != nil {
		return fmt.Errorf("publish to %s: invalid event: %w", topic, err)
	}
	body, err := e.MarshalJSON()
	if err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	meta := map[string]string{"rawPayload": "true", "content-type": cloudevents.ApplicationCloudEventsJSON}
	if key, ok := e.Extensions()[PartitionKeyExtension].(string); ok && key != "" {
		meta["partitionKey"] = key
	}
	if err := p.client.PublishEvent(ctx, p.pubsub, topic, body, dapr.PublishEventWithMetadata(meta)); err != nil {
		return fmt.Errorf("publish %s %s to %s: %w", e.Type(), e.ID(), topic, err)
	}
	return nil
}
