package devstack

import (
	"bytes"
	"context"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaMessage reads a Kafka record as the CloudEvents Kafka protocol
// binding does: a record whose content-type header names a CloudEvents
// event format is a structured-mode event; any other record is not a
// CloudEvent to a structured-mode reader ("unknown encoding"). The
// functions publish structured mode only, so binary mode is not read here.
func KafkaMessage(r *kgo.Record) binding.Message {
	m := &kafkaMessage{value: r.Value}
	for _, h := range r.Headers {
		if h.Key == "content-type" {
			m.format = format.Lookup(string(h.Value))
		}
	}
	return m
}

type kafkaMessage struct {
	value  []byte
	format format.Format
}

func (m *kafkaMessage) ReadEncoding() binding.Encoding {
	if m.format == nil {
		return binding.EncodingUnknown
	}
	return binding.EncodingStructured
}

func (m *kafkaMessage) ReadStructured(ctx context.Context, w binding.StructuredWriter) error {
	if m.format == nil {
		return binding.ErrNotStructured
	}
	return w.SetStructuredEvent(ctx, m.format, bytes.NewReader(m.value))
}

func (m *kafkaMessage) ReadBinary(context.Context, binding.BinaryWriter) error {
	return binding.ErrNotBinary
}

func (m *kafkaMessage) Finish(error) error { return nil }
