package fakes

import (
	"cmp"
	"context"
	"fmt"
	"sync"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/todo-chatbot/functions/shared/runtime/events"
)

// Published is one event a Publisher accepted, with its topic.
type Published struct {
	Topic string
	Event cloudevents.Event
}

// Publisher is an events.Publisher that records what it is given. Like
// the Dapr publisher it stamps its source (Source, "test" when empty) and
// refuses an invalid CloudEvent; it can also be told to fail, in which case
// the event is not recorded (it was not published).
type Publisher struct {
	Source string

	// Fail, when set, is asked about every valid event; a non-nil error
	// fails that Publish.
	Fail func(topic string, e cloudevents.Event) error

	mu        sync.Mutex
	published []Published
	failNext  []error
	failAll   error
	attempts  int
}

var _ events.Publisher = (*Publisher)(nil)

// Publish records e on topic, or returns an injected failure.
func (p *Publisher) Publish(_ context.Context, topic string, e cloudevents.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts++
	e.SetSource(cmp.Or(p.Source, "test"))
	if err := e.Validate(); err != nil {
		return fmt.Errorf("fakes: publish to %s: invalid event: %w", topic, err)
	}
	if len(p.failNext) > 0 {
		err := p.failNext[0]
		p.failNext = p.failNext[1:]
		return err
	}
	if p.failAll != nil {
		return p.failAll
	}
	if p.Fail != nil {
		if err := p.Fail(topic, e); err != nil {
			return err
		}
	}
	p.published = append(p.published, Published{Topic: topic, Event: e.Clone()})
	return nil
}

// FailNext makes the next Publish fail with err (ErrInjected when nil).
// Calls queue: FailNext twice fails the next two.
func (p *Publisher) FailNext(err error) {
	if err == nil {
		err = ErrInjected
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext = append(p.failNext, err)
}

// FailAll makes every Publish fail with err until FailAll(nil).
func (p *Publisher) FailAll(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failAll = err
}

// Events returns the events published so far, in order.
func (p *Publisher) Events() []cloudevents.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]cloudevents.Event, len(p.published))
	for i, pub := range p.published {
		out[i] = pub.Event.Clone()
	}
	return out
}

// Published returns the events published so far with their topics.
func (p *Publisher) Published() []Published {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Published, len(p.published))
	for i, pub := range p.published {
		out[i] = Published{Topic: pub.Topic, Event: pub.Event.Clone()}
	}
	return out
}

// Attempts counts Publish calls, failed ones included.
func (p *Publisher) Attempts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts
}

// Reset forgets what was published and any pending failure.
func (p *Publisher) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published, p.failNext, p.failAll, p.attempts = nil, nil, nil, 0
}
