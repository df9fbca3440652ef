package fn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/dapr/go-sdk/service/common"
)

// EventHandler handles one CloudEvent, however it arrived. A nil error
// acknowledges it; Permanent(err) drops it to the dead letters; any other
// error asks for redelivery.
type EventHandler func(ctx context.Context, e cloudevents.Event) error

// maxEventBytes bounds a delivered event; anything larger is dead-lettered.
const maxEventBytes = 1 << 20

// kafkaSourceType is the type KafkaSource gives a record that is not a
// CloudEvent by the Kafka protocol binding (records published before the
// functions set the binding's content-type header).
const kafkaSourceType = "dev.knative.kafka.event"

// decodeHTTP reads a CloudEvent in binary or structured mode, as Knative
// Eventing sources send them. An event that KafkaSource built around a
// record written by Dapr (itself a structured CloudEvent) is unwrapped, so
// both delivery paths hand the handler the same event, with the same id.
func decodeHTTP(r *http.Request) (cloudevents.Event, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxEventBytes)
	msg := cehttp.NewMessageFromHttpRequest(r)
	defer func() { _ = msg.Finish(nil) }()
	e, err := binding.ToEvent(r.Context(), msg)
	if err != nil {
		return cloudevents.Event{}, fmt.Errorf("not a CloudEvent: %w", err)
	}
	if err := e.Validate(); err != nil {
		return cloudevents.Event{}, fmt.Errorf("invalid CloudEvent: %w", err)
	}
	if e.Type() == kafkaSourceType {
		if inner, ok := unwrap(e.Data()); ok {
			return inner, nil
		}
	}
	return *e, nil
}

func unwrap(data []byte) (cloudevents.Event, bool) {
	if !bytes.Contains(data, []byte(`"specversion"`)) {
		return cloudevents.Event{}, false
	}
	var inner cloudevents.Event
	if err := json.Unmarshal(data, &inner); err != nil || inner.Validate() != nil {
		return cloudevents.Event{}, false
	}
	return inner, true
}

// fromTopicEvent rebuilds the CloudEvent that Dapr delivered. Dapr passes a
// published CloudEvent through, so id, source, type and subject are the
// publisher's own.
func fromTopicEvent(te *common.TopicEvent) (cloudevents.Event, error) {
	e := cloudevents.NewEvent()
	e.SetID(te.ID)
	e.SetSource(te.Source)
	e.SetType(te.Type)
	e.SetSubject(te.Subject)
	if te.SpecVersion != "" && te.SpecVersion != cloudevents.VersionV1 {
		return e, fmt.Errorf("unsupported specversion %q", te.SpecVersion)
	}
	if te.TraceParent != "" {
		e.SetExtension("traceparent", te.TraceParent)
	}
	ct := te.DataContentType
	if ct == "" {
		ct = cloudevents.ApplicationJSON
	}
	if len(te.RawData) > 0 {
		if err := e.SetData(ct, te.RawData); err != nil {
			return e, err
		}
	}
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("invalid CloudEvent: %w", err)
	}
	return e, nil
}

// DecodeData unmarshals e's JSON data into v; a failure is Permanent, since
// redelivering the same bytes cannot succeed. Unknown fields are accepted:
// producers may add fields to an event version without breaking consumers.
func DecodeData(e cloudevents.Event, v any) error {
	if len(e.Data()) == 0 {
		return Permanent(errors.New("event has no data"))
	}
	dec := json.NewDecoder(bytes.NewReader(e.Data()))
	if err := dec.Decode(v); err != nil {
		return Permanent(fmt.Errorf("event %s data: %w", e.Type(), err))
	}
	return nil
}
