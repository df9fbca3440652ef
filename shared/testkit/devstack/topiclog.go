package devstack

import (
	"context"
	"sync"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TopicLog records every record of some topics, read straight from the
// broker beside the functions' own consumers: what was really published,
// whoever consumed it.
type TopicLog struct {
	mu      sync.Mutex
	records []*kgo.Record
}

// WatchTopics starts recording topics from their start until the test ends.
func WatchTopics(t TB, broker string, topics ...string) *TopicLog {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatalf("devstack: watch topics: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &TopicLog{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				l.mu.Lock()
				l.records = append(l.records, r)
				l.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return l
}

// Records returns every record so far, in the order they were read.
func (l *TopicLog) Records() []*kgo.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*kgo.Record(nil), l.records...)
}

// Events returns the records that a CloudEvents Kafka protocol binding
// reads as CloudEvents, in order.
func (l *TopicLog) Events() []cloudevents.Event {
	var out []cloudevents.Event
	for _, r := range l.Records() {
		if e, err := binding.ToEvent(context.Background(), KafkaMessage(r)); err == nil {
			out = append(out, *e)
		}
	}
	return out
}

// About returns the events whose subject is subject, by type.
func (l *TopicLog) About(subject string) map[string][]cloudevents.Event {
	out := map[string][]cloudevents.Event{}
	for _, e := range l.Events() {
		if e.Subject() == subject {
			out[e.Type()] = append(out[e.Type()], e)
		}
	}
	return out
}
