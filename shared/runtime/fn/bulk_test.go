package fn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/logging"
)

// bulkFunction is a function with bulk subscribe on and one topic, whose
// events h handles.
func bulkFunction(t *testing.T, h EventHandler) *Function {
	t.Helper()
	f, err := NewWithConfig(Config{Name: "bulk-test", PubSub: "pubsub", BulkMaxMessages: 100, BulkMaxAwait: 50 * time.Millisecond},
		logging.New(io.Discard, "bulk-test", "error"))
	require.NoError(t, err)
	t.Cleanup(func() { f.Dapr().Close() })
	f.Subscribe(Subscription{Topic: "b.events"}, h)
	return f
}

// ce is a CloudEvent as daprd puts it in a batch entry.
func ce(id, subject, kind string) map[string]any {
	return map[string]any{"specversion": "1.0", "id": id, "source": "s", "type": "t", "subject": subject,
		"datacontenttype": "application/json", "data": map[string]string{"Kind": kind}}
}

// batch is daprd's bulk request body, with entry ids e<i>.
func batch(t *testing.T, events ...any) string {
	t.Helper()
	entries := make([]map[string]any, len(events))
	for i, e := range events {
		entries[i] = map[string]any{"entryId": fmt.Sprintf("e%d", i), "event": e, "metadata": map[string]string{}, "contentType": "application/cloudevents+json"}
	}
	b, err := json.Marshal(map[string]any{"id": "batch", "type": "com.dapr.event.sent.bulk", "topic": "b.events", "pubsubname": "pubsub", "metadata": map[string]string{}, "entries": entries})
	require.NoError(t, err)
	return string(b)
}

// deliver posts body to the topic's route and returns the status of each
// entry by entry id.
func deliver(t *testing.T, f *Function, body string) map[string]string {
	t.Helper()
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/dapr/topics/b.events", strings.NewReader(body)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var out struct {
		Statuses []struct{ EntryID, Status string }
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
	got := map[string]string{}
	for _, s := range out.Statuses {
		got[s.EntryID] = s.Status
	}
	return got
}

func kindOf(e cloudevents.Event) string {
	var d struct{ Kind string }
	_ = json.Unmarshal(e.Data(), &d)
	return d.Kind
}

var errTransient = errors.New("store unavailable")

func TestBulkAnswersAStatusPerEntry(t *testing.T) {
	var mu sync.Mutex
	handled := map[string]string{}
	f := bulkFunction(t, func(_ context.Context, e cloudevents.Event) error {
		mu.Lock()
		handled[e.ID()] = kindOf(e)
		mu.Unlock()
		switch kindOf(e) {
		case "poison":
			return Permanent(errors.New("poison"))
		case "flaky":
			return fmt.Errorf("wrapped: %w", errTransient)
		case "panic":
			panic("handler bug")
		}
		return nil
	})
	raw, err := json.Marshal(ce("6", "task-6", "ok"))
	require.NoError(t, err)
	got := deliver(t, f, batch(t,
		ce("0", "task-0", "ok"),
		ce("1", "task-1", "poison"),
		ce("2", "task-2", "flaky"),
		map[string]any{"id": 7},                // not a CloudEvent
		"!not base64",                          // a raw payload that is not one either
		ce("5", "task-5", "panic"),             // retried, the process lives on
		base64.StdEncoding.EncodeToString(raw), // a raw payload holding a CloudEvent
		map[string]any{"specversion": "1.0", "id": "7", "source": "s", "type": "t", "subject": "task-7", "data_base64": base64.StdEncoding.EncodeToString([]byte(`{"Kind":"ok"}`))},
	))
	assert.Equal(t, map[string]string{
		"e0": "SUCCESS", "e1": "DROP", "e2": "RETRY", "e3": "DROP", "e4": "DROP", "e5": "RETRY", "e6": "SUCCESS", "e7": "SUCCESS",
	}, got)
	assert.Equal(t, map[string]string{"0": "ok", "1": "poison", "2": "flaky", "5": "panic", "6": "ok", "7": "ok"}, handled,
		"every CloudEvent reaches the handler once; the others never do")
}

// Entries of one subject are handled in batch order, one at a time, while
// subjects run side by side, never more than bulkConcurrency at once.
func TestBulkKeepsOrderPerSubjectAndRunsSubjectsConcurrently(t *testing.T) {
	const subjects, perSubject = 40, 5
	var mu sync.Mutex
	order := map[string][]string{}
	running, most := map[string]bool{}, 0
	inFlight := 0
	f := bulkFunction(t, func(_ context.Context, e cloudevents.Event) error {
		mu.Lock()
		if running[e.Subject()] {
			mu.Unlock()
			return Permanent(fmt.Errorf("two events of %s at once", e.Subject()))
		}
		running[e.Subject()] = true
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(time.Millisecond) // long enough for the others to start
		mu.Lock()
		order[e.Subject()] = append(order[e.Subject()], e.ID())
		running[e.Subject()] = false
		inFlight--
		mu.Unlock()
		return nil
	})
	var events []any
	want := map[string][]string{}
	for i := range perSubject {
		for s := range subjects {
			subject, id := fmt.Sprintf("task-%d", s), fmt.Sprintf("%d-%d", s, i)
			events = append(events, ce(id, subject, "ok"))
			want[subject] = append(want[subject], id)
		}
	}
	got := deliver(t, f, batch(t, events...))
	require.Len(t, got, len(events))
	for id, st := range got {
		assert.Equal(t, "SUCCESS", st, id)
	}
	assert.Equal(t, want, order, "each subject's events in batch order")
	assert.Greater(t, most, 1, "subjects are handled concurrently")
	assert.LessOrEqual(t, most, bulkConcurrency)
}

// An entry answered RETRY comes again; the entries of its subject behind
// it are answered RETRY unhandled so they cannot overtake it. A dropped
// entry does not hold its subject (it is done, in the dead letters).
func TestBulkHoldsASubjectBehindARetry(t *testing.T) {
	var mu sync.Mutex
	var handled []string
	f := bulkFunction(t, func(_ context.Context, e cloudevents.Event) error {
		mu.Lock()
		handled = append(handled, e.ID())
		mu.Unlock()
		switch kindOf(e) {
		case "flaky":
			return errTransient
		case "poison":
			return Permanent(errors.New("poison"))
		}
		return nil
	})
	got := deliver(t, f, batch(t,
		ce("a1", "A", "flaky"), ce("b1", "B", "poison"), ce("a2", "A", "ok"), ce("b2", "B", "ok"), ce("a3", "A", "ok"),
	))
	assert.Equal(t, map[string]string{"e0": "RETRY", "e1": "DROP", "e2": "RETRY", "e3": "SUCCESS", "e4": "RETRY"}, got)
	assert.ElementsMatch(t, []string{"a1", "b1", "b2"}, handled)
}

func TestBulkDedupesLikeSingleEvents(t *testing.T) {
	calls := 0
	f := bulkFunction(t, func(context.Context, cloudevents.Event) error { calls++; return nil })
	d := &memDeduper{marks: map[string]bool{}}
	f.Dedupe(d)
	body := batch(t, ce("1", "A", "ok"), ce("2", "A", "ok"))
	assert.Equal(t, map[string]string{"e0": "SUCCESS", "e1": "SUCCESS"}, deliver(t, f, body))
	assert.Equal(t, map[string]string{"e0": "SUCCESS", "e1": "SUCCESS"}, deliver(t, f, body), "a redelivered batch")
	assert.Equal(t, 2, calls, "each event handled once")
}

type memDeduper struct {
	mu    sync.Mutex
	marks map[string]bool
}

func (m *memDeduper) Marked(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.marks[key], nil
}

func (m *memDeduper) Mark(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	was := m.marks[key]
	m.marks[key] = true
	return !was, nil
}

// A body that is JSON but no batch nor event is dropped whole, as a
// single delivery's would be; daprd never loops on it.
func TestBulkRefusesAMalformedBatch(t *testing.T) {
	f := bulkFunction(t, func(context.Context, cloudevents.Event) error {
		t.Error("handler called")
		return nil
	})
	for _, body := range []string{`{"entries":"x"}`, `{"entries":[1]}`, `{"entries":{}}`, `{"id":"b","entries":[{"entryId":5}]}`} {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/dapr/topics/b.events", strings.NewReader(body)))
		assert.Equal(t, http.StatusOK, rec.Code, body)
		assert.JSONEq(t, `{"status":"DROP"}`, rec.Body.String(), body)
	}
	assert.Empty(t, deliver(t, f, `{"entries":[]}`), "an empty batch has nothing to answer")
}

// A single event on the route still takes the single-event path with bulk
// subscribe on (a daprd that read an older subscription).
func TestBulkOnStillTakesSingleEvents(t *testing.T) {
	var got []string
	f := bulkFunction(t, func(_ context.Context, e cloudevents.Event) error { got = append(got, e.ID()); return nil })
	b, err := json.Marshal(ce("single", "A", "ok"))
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/dapr/topics/b.events", strings.NewReader(string(b))))
	assert.JSONEq(t, `{"status":"SUCCESS"}`, rec.Body.String())
	assert.Equal(t, []string{"single"}, got)
}

func TestSubscriptionsAnnounceBulk(t *testing.T) {
	serve := func(f *Function) string {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dapr/subscribe", nil))
		return rec.Body.String()
	}
	on := bulkFunction(t, func(context.Context, cloudevents.Event) error { return nil })
	assert.JSONEq(t, `[{"pubsubname":"pubsub","topic":"b.events","routes":{"default":"/dapr/topics/b.events"},"deadLetterTopic":"b.events.dlq",
		"bulkSubscribe":{"enabled":true,"maxMessagesCount":100,"maxAwaitDurationMs":50}}]`, serve(on))

	off := testFunction(t)
	off.Subscribe(Subscription{Topic: "b.events"}, func(context.Context, cloudevents.Event) error { return nil })
	assert.Equal(t, `[{"pubsubname":"pubsub","topic":"b.events","routes":{"default":"/dapr/topics/b.events"},"deadLetterTopic":"b.events.dlq"}]`+"\n", serve(off),
		"off, the document is as it was without bulk subscribe")
}
