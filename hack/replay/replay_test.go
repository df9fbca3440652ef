package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

// TestReplay dead-letters two reminder.due events, one by hand as an
// operator would find it after an outage and one that Dapr itself
// dead-lettered (its data is malformed), replays the topic through
// send-notification's sidecar, and checks the valid one is delivered
// once, even when replayed again, and the malformed one goes back to
// the dead letters.
func TestReplay(t *testing.T) {
	p := devstack.StartProject(t, devstack.ProjectOptions{Functions: []string{"send-notification"}})
	dlq := reminder.Topic + ".dlq"
	dead := watch(t, p.BrokerAddr(), dlq)
	dapr := p.Functions["send-notification"].DaprURL()

	// Malformed: send-notification drops it and Dapr moves it to the DLQ.
	poison := cloudevents.NewEvent()
	poison.SetID("poison-1")
	poison.SetSource("test")
	poison.SetType(reminder.EventDue)
	poison.SetSubject("task-poison")
	require.NoError(t, poison.SetData(cloudevents.ApplicationJSON, map[string]any{"task_id": "task-poison"}))
	publishVia(t, dapr, reminder.Topic, poison)
	require.Eventually(t, func() bool { return dead.count("poison-1") == 1 }, 60*time.Second, 100*time.Millisecond, "Dapr never dead-lettered the malformed event")

	// Valid, but dead-lettered (say the webhook was down longer than the
	// retries lasted): written to the DLQ as Dapr writes them.
	due := reminder.Due{TaskID: "task-replayed", UserID: "user-replay", Title: "replayed", RemindAt: time.Now().UTC().Truncate(time.Second)}
	ev, err := due.Event()
	require.NoError(t, err)
	ev.SetSource("fire-reminder") // as its publisher stamps it
	produce(t, p.BrokerAddr(), dlq, "task-replayed", envelopeOf(t, ev, reminder.Topic))
	require.Eventually(t, func() bool { return dead.count(ev.ID()) == 1 }, 10*time.Second, 50*time.Millisecond)
	time.Sleep(time.Second)
	assert.Empty(t, p.Webhook.DeliveriesFor("task-replayed"), "nothing delivered before the replay")

	var out bytes.Buffer
	o := Options{Brokers: []string{p.BrokerAddr()}, Topic: dlq, Group: "replay-test", DaprURL: dapr, PubSub: "pubsub", Out: &out, MaxRetry: 3}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dry := o
	dry.DryRun, dry.Group = true, "replay-test-dry"
	res, err := Replay(ctx, dry)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Replayed, "dry run lists both: %s", out.String())
	time.Sleep(time.Second)
	assert.Empty(t, p.Webhook.DeliveriesFor("task-replayed"), "a dry run publishes nothing")

	res, err = Replay(ctx, o)
	require.NoError(t, err, out.String())
	assert.Equal(t, Result{Read: 2, Replayed: 2, ByTopic: map[string]int{reminder.Topic: 2}}, res)
	require.Eventually(t, func() bool { return len(p.Webhook.DeliveriesFor("task-replayed")) == 1 }, 60*time.Second, 100*time.Millisecond,
		"the replayed reminder was never delivered:\n%s", out.String())
	require.Eventually(t, func() bool { return dead.count("poison-1") == 2 }, 60*time.Second, 100*time.Millisecond,
		"the replayed malformed event went back to the dead letters")
	assert.Contains(t, out.String(), "replay "+reminder.EventDue+" "+ev.ID())

	// A second run replays only what was dead-lettered since: the
	// malformed event, again.
	res, err = Replay(ctx, o)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Replayed)
	require.Eventually(t, func() bool { return dead.count("poison-1") == 3 }, 60*time.Second, 100*time.Millisecond)

	// Replaying everything again (another group) delivers nothing twice:
	// the event keeps its id, and the delivery record holds.
	again := o
	again.Group = "replay-test-again"
	res, err = Replay(ctx, again)
	require.NoError(t, err)
	assert.Equal(t, 4, res.Replayed)
	time.Sleep(3 * time.Second)
	assert.Len(t, p.Webhook.DeliveriesFor("task-replayed"), 1, "replayed twice, delivered once")
	assert.Zero(t, p.Webhook.Refused())
}

// envelopeOf is e as Dapr delivers it and dead-letters it: a structured
// CloudEvent with the pub/sub and topic it came from.
func envelopeOf(t *testing.T, e cloudevents.Event, topic string) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	m["topic"], m["pubsubname"] = topic, "pubsub"
	b, err = json.Marshal(m)
	require.NoError(t, err)
	return b
}

func publishVia(t *testing.T, dapr, topic string, e cloudevents.Event) {
	t.Helper()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	resp, err := http.Post(dapr+"/v1.0/publish/pubsub/"+topic, "application/cloudevents+json", bytes.NewReader(b))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func produce(t *testing.T, broker, topic, key string, value []byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: value}).FirstErr())
}

// topicWatch counts the events on a topic by id, read from the broker.
type topicWatch struct {
	mu  sync.Mutex
	ids map[string]int
}

func watch(t *testing.T, broker, topic string) *topicWatch {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	w := &topicWatch{ids: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				var e struct{ ID string }
				if json.Unmarshal(r.Value, &e) == nil {
					w.mu.Lock()
					w.ids[e.ID]++
					w.mu.Unlock()
				}
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return w
}

func (w *topicWatch) count(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ids[id]
}
