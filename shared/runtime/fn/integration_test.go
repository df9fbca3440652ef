package fn_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	dapr "github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/logging"
	"github.com/todo-chatbot/functions/shared/runtime/request"
	"github.com/todo-chatbot/functions/shared/runtime/secret"
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/notify"
)

const appID = "trigger-test"

// resources is the component set of this test: the same component types
// as bindings/local, scoped to the test's own app-id.
var resources = map[string]string{
	"pubsub.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: pubsub}
spec:
  type: pubsub.kafka
  version: v1
  metadata:
    - {name: brokers, envRef: LOCAL_KAFKA_BROKERS}
    - {name: authType, value: "none"}
    - {name: disableTls, value: "true"}
    - {name: initialOffset, value: "oldest"}
`,
	"dedupe.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: dedupe}
spec:
  type: state.sqlite
  version: v1
  metadata:
    - {name: connectionString, envRef: LOCAL_DEDUPE_DB}
    - {name: keyPrefix, value: name}
`,
	"secrets.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: secrets}
spec:
  type: secretstores.local.file
  version: v1
  metadata:
    - {name: secretsFile, envRef: LOCAL_SECRETS_FILE}
    - {name: multiValued, value: "true"}
`,
	"cron.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: test-cron}
spec:
  type: bindings.cron
  version: v1
  metadata:
    - {name: schedule, value: "@every 1s"}
    - {name: direction, value: input}
`,
	"resiliency.yaml": `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: test}
spec:
  policies:
    retries:
      events: {policy: constant, duration: 100ms, maxRetries: 5}
  targets:
    components:
      pubsub:
        inbound: {retry: events}
`,
}

// writeResources writes the named resources to dir/resources and returns
// that folder.
func writeResources(t *testing.T, dir string, names ...string) string {
	t.Helper()
	res := filepath.Join(dir, "resources")
	require.NoError(t, os.MkdirAll(res, 0o755))
	for _, name := range names {
		require.NoError(t, os.WriteFile(filepath.Join(res, name), []byte(resources[name]), 0o644))
	}
	return res
}

// serve runs f until the returned stop is called, which checks that it
// stopped cleanly.
func serve(t *testing.T, f *fn.Function) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- f.Run(ctx) }()
	return func() {
		cancel()
		require.NoError(t, <-runErr)
	}
}

// recorder collects what reached the handlers.
type recorder struct {
	mu     sync.Mutex
	traces map[string]string              // trace id seen by the handler, by event id
	events map[string][]cloudevents.Event // by trigger
	calls  map[string]int                 // by event id
	ch     chan string
}

func newRecorder() *recorder {
	return &recorder{traces: map[string]string{}, events: map[string][]cloudevents.Event{}, calls: map[string]int{}, ch: make(chan string, 1024)}
}

func (r *recorder) add(trigger string, e cloudevents.Event) {
	r.mu.Lock()
	r.events[trigger] = append(r.events[trigger], e)
	r.calls[e.ID()]++
	r.mu.Unlock()
	r.ch <- trigger + ":" + e.ID()
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id]
}

// wait returns the first event recorded by trigger whose id is id.
func (r *recorder) wait(t *testing.T, trigger, id string) cloudevents.Event {
	t.Helper()
	return r.waitFor(t, trigger, func(e cloudevents.Event) bool { return e.ID() == id })
}

// waitFor returns the first event recorded by trigger that match accepts.
func (r *recorder) waitFor(t *testing.T, trigger string, match func(cloudevents.Event) bool) cloudevents.Event {
	t.Helper()
	deadline := time.After(45 * time.Second)
	for {
		r.mu.Lock()
		for _, e := range r.events[trigger] {
			if match(e) {
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("no matching %s event reached the handler", trigger)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// postWholeBody sends a POST with its whole body before it reads the
// answer, without Expect: 100-continue, as Python's urllib and requests do.
func postWholeBody(t *testing.T, addr, path string, body []byte) fakes.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, addr, len(body))
	require.NoError(t, err)
	_, err = conn.Write(body)
	require.NoError(t, err, "the server stopped reading before the body was sent")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "no answer to read")
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return fakes.Response{Status: resp.StatusCode, Header: resp.Header, Body: got}
}

const webhookToken = "s3cr3t-webhook-token-7f9c"

func TestTriggersThroughDapr(t *testing.T) {
	dir := t.TempDir()
	res := writeResources(t, dir, slices.Collect(maps.Keys(resources))...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets.json"),
		[]byte(`{"notify-webhook":{"token":"`+webhookToken+`"}}`), 0o600))

	ports, err := devstack.FreePorts(4)
	require.NoError(t, err)
	logs := &syncBuffer{}
	cfg := fn.Config{
		Name:            appID,
		Port:            ports[0],
		MetricsPort:     ports[3],
		Sidecar:         sidecar.Config{Host: "127.0.0.1", HTTPPort: ports[1], GRPCPort: ports[2]},
		ShutdownTimeout: 5 * time.Second,
		PubSub:          "pubsub",
		DedupeStore:     "dedupe",
		SecretStore:     "secrets",
	}
	f, err := fn.NewWithConfig(cfg, logging.New(logs, appID, "debug"))
	require.NoError(t, err)

	rec := newRecorder()
	f.Dedupe(state.Records{Store: f.DedupeState(), TTL: time.Hour})
	f.Handle("GET /hello", func(w http.ResponseWriter, r *http.Request) error {
		_, err := io.WriteString(w, "hello from "+appID)
		return err
	})
	f.Handle("POST /echo", func(w http.ResponseWriter, r *http.Request) error {
		var v map[string]any
		if err := request.DecodeJSON(r, &v); err != nil {
			return err
		}
		return fn.JSON(w, http.StatusOK, v)
	})
	failedOnce := map[string]bool{}
	f.Subscribe(fn.Subscription{Topic: "test.events"}, func(ctx context.Context, e cloudevents.Event) error {
		var data struct{ Kind string }
		if err := fn.DecodeData(e, &data); err != nil {
			return err
		}
		switch data.Kind {
		case "poison":
			return fn.Permanent(errors.New("poison event"))
		case "flaky":
			rec.mu.Lock()
			first := !failedOnce[e.ID()]
			failedOnce[e.ID()] = true
			rec.mu.Unlock()
			if first {
				return errors.New("transient failure")
			}
		}
		rec.mu.Lock()
		rec.traces[e.ID()] = logging.TraceID(ctx)
		rec.mu.Unlock()
		rec.add("topic", e)
		return nil
	})
	f.Subscribe(fn.Subscription{Topic: "test.events.dlq", DeadLetterTopic: "test.events.dlq.dlq"}, func(ctx context.Context, e cloudevents.Event) error {
		rec.add("dlq", e)
		return nil
	})
	var cronRuns int
	var cronMu sync.Mutex
	f.Cron("test-cron", func(ctx context.Context) error {
		cronMu.Lock()
		cronRuns++
		cronMu.Unlock()
		return nil
	})
	jobs := make(chan string, 8)
	f.Job("test-", func(ctx context.Context, name string, data []byte) error {
		jobs <- name + " " + string(data)
		return nil
	})
	f.Event("/events/raw", func(ctx context.Context, e cloudevents.Event) error {
		rec.add("raw", e)
		return nil
	})

	defer serve(t, f)()

	devstack.StartT(t, devstack.TestStack{
		Functions: []devstack.Function{{Name: appID, AppPort: ports[0], HTTPPort: ports[1], GRPCPort: ports[2]}},
		Resources: res,
		Dir:       dir,
		Env:       devstack.LocalEnv(dir, "", "http://127.0.0.1:1/unused", "@every 1h"),
	})
	daprURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	appURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])

	t.Run("readiness follows the sidecar", func(t *testing.T) {
		resp, err := http.Get(appURL + "/readyz")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("service invocation", func(t *testing.T) {
		resp, err := http.Get(daprURL + "/v1.0/invoke/" + appID + "/method/hello")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "hello from "+appID, string(body))
	})

	t.Run("oversized body is a 413 problem to a client that writes it whole", func(t *testing.T) {
		// Past the request limit (1 MiB), and past what the socket buffers
		// hold, so a server that stopped reading would reset the connection.
		body := append([]byte(`{"pad":"`), append(bytes.Repeat([]byte("x"), 3<<20), `"}`...)...)
		for _, to := range []struct{ name, addr, path string }{
			{"straight", fmt.Sprintf("127.0.0.1:%d", ports[0]), "/echo"},
			{"through daprd", fmt.Sprintf("127.0.0.1:%d", ports[1]), "/v1.0/invoke/" + appID + "/method/echo"},
		} {
			t.Run(to.name, func(t *testing.T) {
				resp := postWholeBody(t, to.addr, to.path, body)
				assert.Equal(t, http.StatusRequestEntityTooLarge, resp.Status, "%s", resp.Body)
				assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			})
		}
	})

	pub := f.Publisher()
	publish := func(kind string) cloudevents.Event {
		e := cloudevents.NewEvent()
		e.SetID(fmt.Sprintf("%s-%d", kind, time.Now().UnixNano()))
		e.SetType("com.todo.test.v1")
		e.SetSubject("subject-1")
		require.NoError(t, e.SetData(cloudevents.ApplicationJSON, map[string]string{"Kind": kind}))
		require.NoError(t, pub.Publish(logging.WithTraceParent(context.Background(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), "test.events", e))
		return e
	}

	t.Run("topic via Kafka keeps the event", func(t *testing.T) {
		sent := publish("ok")
		got := rec.wait(t, "topic", sent.ID())
		assert.Equal(t, appID, got.Source(), "the publishing function is the source")
		assert.Equal(t, sent.Type(), got.Type())
		assert.Equal(t, sent.Subject(), got.Subject())
		assert.JSONEq(t, `{"Kind":"ok"}`, string(got.Data()))
		rec.mu.Lock()
		assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", rec.traces[sent.ID()], "the publisher's trace must reach the handler")
		rec.mu.Unlock()
	})

	t.Run("transient failure is redelivered", func(t *testing.T) {
		sent := publish("flaky")
		rec.wait(t, "topic", sent.ID())
		assert.Equal(t, 1, rec.count(sent.ID()))
	})

	t.Run("malformed event goes to the dead-letter topic once", func(t *testing.T) {
		sent := publish("poison")
		rec.wait(t, "dlq", sent.ID())
		// Dapr would redeliver within the retry interval (100ms) if the
		// runtime had asked for it.
		time.Sleep(time.Second)
		assert.Equal(t, 1, rec.count(sent.ID()), "dead-lettered once, never handled")
		assert.Contains(t, logs.String(), "event dropped to dead letters")
	})

	t.Run("non-JSON topic body is dropped, not retried", func(t *testing.T) {
		resp, err := http.Post(appURL+"/dapr/topics/test.events", "application/cloudevents+json", strings.NewReader("{not json"))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.JSONEq(t, `{"status":"DROP"}`, string(body))
	})

	t.Run("data that is not JSON goes to the dead-letter topic", func(t *testing.T) {
		// Published raw: daprd wraps it in a CloudEvent whose data is text.
		req, _ := http.NewRequest(http.MethodPost, daprURL+"/v1.0/publish/pubsub/test.events", strings.NewReader("garbage, not json"))
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		got := rec.waitFor(t, "dlq", func(e cloudevents.Event) bool { return string(e.Data()) == `"garbage, not json"` })
		assert.Equal(t, "com.dapr.event.sent", got.Type(), "daprd wrapped the raw message")
		assert.Equal(t, 1, rec.count(got.ID()))
	})

	t.Run("cron binding", func(t *testing.T) {
		require.Eventually(t, func() bool {
			cronMu.Lock()
			defer cronMu.Unlock()
			return cronRuns >= 2
		}, 20*time.Second, 100*time.Millisecond)
	})

	t.Run("job callback", func(t *testing.T) {
		data, err := structpb.NewValue(map[string]any{"task_id": "t1"})
		require.NoError(t, err)
		anyData, err := anypb.New(data)
		require.NoError(t, err)
		due := "1s"
		require.NoError(t, f.Dapr().ScheduleJobAlpha1(context.Background(), &dapr.Job{Name: "test-job1", DueTime: &due, Data: anyData}))
		select {
		case got := <-jobs:
			assert.Equal(t, `test-job1 {"task_id":"t1"}`, got)
		case <-time.After(30 * time.Second):
			t.Fatal("job never fired")
		}
	})

	t.Run("raw CloudEvent, binary mode", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, appURL+"/events/raw", strings.NewReader(`{"n":1}`))
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", "binary-1")
		req.Header.Set("Ce-Source", "/apis/v1/namespaces/todo/pingsources/wake")
		req.Header.Set("Ce-Type", "dev.knative.sources.ping")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusAccepted, resp.StatusCode)
		got := rec.wait(t, "raw", "binary-1")
		assert.Equal(t, "dev.knative.sources.ping", got.Type())
		assert.JSONEq(t, `{"n":1}`, string(got.Data()))
	})

	t.Run("raw CloudEvent, structured mode", func(t *testing.T) {
		body := `{"specversion":"1.0","id":"structured-1","source":"test","type":"com.todo.test.v1","datacontenttype":"application/json","data":{"n":2}}`
		resp, err := http.Post(appURL+"/events/raw", "application/cloudevents+json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusAccepted, resp.StatusCode)
		got := rec.wait(t, "raw", "structured-1")
		assert.JSONEq(t, `{"n":2}`, string(got.Data()))
	})

	t.Run("not a CloudEvent is a 400 problem", func(t *testing.T) {
		resp, err := http.Post(appURL+"/events/raw", "application/json", strings.NewReader(`{"n":3}`))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	})

	t.Run("KafkaSource delivery of an event Dapr already delivered is not processed twice", func(t *testing.T) {
		sent := publish("ok")
		rec.wait(t, "topic", sent.ID())
		// The runtime records the event as processed once the handler returns.
		var marker struct{}
		require.Eventually(t, func() bool {
			_, err := f.DedupeState().Get(context.Background(), fn.DedupeKey(appID, sent), &marker)
			return err == nil
		}, 10*time.Second, 20*time.Millisecond)
		inner, err := json.Marshal(sent)
		require.NoError(t, err)
		req, _ := http.NewRequest(http.MethodPost, appURL+"/events/test.events", bytes.NewReader(inner))
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", "partition:0/offset:42")
		req.Header.Set("Ce-Source", "/apis/v1/namespaces/todo/kafkasources/tasks#test.events")
		req.Header.Set("Ce-Type", "dev.knative.kafka.event")
		req.Header.Set("Content-Type", "application/cloudevents+json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusAccepted, resp.StatusCode)
		assert.Equal(t, 1, rec.count(sent.ID()), "the same event by the Knative path must be skipped")
		assert.Contains(t, logs.String(), "duplicate event skipped")
	})

	t.Run("KafkaSource delivery of a new event reaches the topic handler", func(t *testing.T) {
		inner := `{"specversion":"1.0","id":"via-knative-1","source":"test","type":"com.todo.test.v1","datacontenttype":"application/json","data":{"Kind":"ok"}}`
		req, _ := http.NewRequest(http.MethodPost, appURL+"/events/test.events", strings.NewReader(inner))
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", "partition:1/offset:7")
		req.Header.Set("Ce-Source", "/apis/v1/namespaces/todo/kafkasources/tasks#test.events")
		req.Header.Set("Ce-Type", "dev.knative.kafka.event")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusAccepted, resp.StatusCode)
		got := rec.wait(t, "topic", "via-knative-1")
		assert.Equal(t, "com.todo.test.v1", got.Type())
	})

	t.Run("state: first write, etag conflict, transaction, TTL", func(t *testing.T) {
		st := state.New(f.Dapr(), "dedupe")
		ctx := context.Background()
		key := fmt.Sprintf("k-%d", time.Now().UnixNano())
		require.NoError(t, st.Apply(ctx, state.Create(key, map[string]int{"v": 1})))
		assert.ErrorIs(t, st.Apply(ctx, state.Create(key, map[string]int{"v": 2})), state.ErrConflict)
		var v map[string]int
		etag, err := st.Get(ctx, key, &v)
		require.NoError(t, err)
		assert.Equal(t, 1, v["v"])
		require.NoError(t, st.Transact(ctx, state.Put(key, map[string]int{"v": 3}, etag), state.Put(key+"-b", 1, "")))
		assert.ErrorIs(t, st.Transact(ctx, state.Put(key, map[string]int{"v": 4}, etag)), state.ErrConflict, "stale etag")
		_, err = st.Get(ctx, key, &v)
		require.NoError(t, err)
		assert.Equal(t, 3, v["v"])
		require.NoError(t, st.Apply(ctx, state.Put(key+"-ttl", 1, "").WithTTL(time.Second)))
		require.Eventually(t, func() bool {
			_, err := st.Get(ctx, key+"-ttl", &v)
			return errors.Is(err, state.ErrNotFound)
		}, 10*time.Second, 200*time.Millisecond)
	})

	t.Run("delivery records: claim, lease, release and takeover on a real store", func(t *testing.T) {
		ctx := context.Background()
		clock := fakes.NewClock(time.Now())
		recs := notify.StateRecords{Store: state.New(f.Dapr(), "dedupe"), Now: clock.Now}
		n, err := notify.Message(notify.MessageInput{UserID: "records-user", Title: "hi"}, "webhook")
		require.NoError(t, err)

		_, claimed, err := recs.Claim(ctx, n)
		require.NoError(t, err)
		require.True(t, claimed, "the first delivery claims the record")
		_, claimed, err = recs.Claim(ctx, n)
		assert.ErrorIs(t, err, notify.ErrInProgress, "a second delivery while the lease lives")
		assert.False(t, claimed)

		require.NoError(t, recs.Release(ctx, n))
		_, claimed, err = recs.Claim(ctx, n)
		require.NoError(t, err)
		assert.True(t, claimed, "a released record is claimed again at once")

		clock.Advance(notify.Lease + time.Second) // its holder crashed
		_, claimed, err = recs.Claim(ctx, n)
		require.NoError(t, err)
		assert.True(t, claimed, "a lapsed lease is taken over")
		_, _, err = recs.Claim(ctx, n)
		assert.ErrorIs(t, err, notify.ErrInProgress, "the takeover is a new lease")

		sentAt := clock.Now().UTC()
		n.Status, n.SentAt = notify.StatusSent, &sentAt
		require.NoError(t, recs.MarkSent(ctx, n))
		clock.Advance(notify.Lease + time.Second)
		held, claimed, err := recs.Claim(ctx, n)
		require.NoError(t, err)
		assert.False(t, claimed, "a sent record is never claimed again")
		assert.Equal(t, notify.StatusSent, held.Status)
		require.NoError(t, recs.Release(ctx, n), "releasing a sent record keeps it")
		list, err := recs.List(ctx, n.UserID)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, n.ID, list[0].ID)
	})

	t.Run("two deliveries racing for one record: exactly one claims it", func(t *testing.T) {
		ctx := context.Background()
		recs := notify.StateRecords{Store: state.New(f.Dapr(), "dedupe")}
		n, err := notify.Message(notify.MessageInput{UserID: "records-race", Title: "hi"}, "webhook")
		require.NoError(t, err)
		var wg sync.WaitGroup
		results := make(chan bool, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, claimed, err := recs.Claim(ctx, n)
				if err != nil && !errors.Is(err, notify.ErrInProgress) {
					t.Errorf("claim: %v", err)
				}
				results <- claimed
			}()
		}
		wg.Wait()
		close(results)
		wins := 0
		for c := range results {
			if c {
				wins++
			}
		}
		assert.Equal(t, 1, wins)
	})

	t.Run("a secret never reaches the logs", func(t *testing.T) {
		v, err := f.Secrets().Get(context.Background(), "notify-webhook", "token")
		require.NoError(t, err)
		require.Equal(t, webhookToken, v.Reveal())
		log := f.Logger()
		log.Info("secret as attribute", "token", v)
		log.Info("secret in message: " + fmt.Sprint(v))
		log.Error("wrapped", "error", fmt.Errorf("call failed with %v / %s / %+v / %#v", v, v, v, v))
		log.Error("revealed by mistake", "error", fmt.Errorf("bad token %q", v.Reveal()))
		b, _ := json.Marshal(struct{ Token secret.Value }{v})
		log.Info("as json " + string(b))
		_, err = f.Secrets().Get(context.Background(), "notify-webhook", "missing")
		require.Error(t, err)
		log.Error("missing field", "error", err)
		out := logs.String()
		assert.NotContains(t, out, webhookToken)
		assert.Contains(t, out, "[REDACTED]")
	})

	t.Run("metrics count what the triggers above did", func(t *testing.T) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[3]))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		got := string(body)
		for _, series := range []string{
			`todo_events_total{outcome="success",topic="test.events"}`,
			`todo_events_total{outcome="retry",topic="test.events"}`,
			`todo_events_total{outcome="dead_lettered",topic="test.events"}`,
			`todo_events_total{outcome="duplicate_skipped",topic="test.events"}`,
			`todo_handler_duration_seconds_count{route="/dapr/topics/test.events",trigger="topic"}`,
			`todo_handler_duration_seconds_count{route="/job/{name}",trigger="job"}`,
			`todo_handler_duration_seconds_count{route="/test-cron",trigger="cron"}`,
		} {
			assert.Regexp(t, regexp.QuoteMeta(series)+` [1-9]`, got, "a non-zero %s", series)
		}
	})
}
