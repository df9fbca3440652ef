package fn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/logging"
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// batchLog records the event ids of every batch daprd posted to a route,
// in the order they came.
type batchLog struct {
	mu      sync.Mutex
	batches [][]string
}

func (b *batchLog) add(ids []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batches = append(b.batches, ids)
}

func (b *batchLog) all() [][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]string(nil), b.batches...)
}

// Bulk subscribe through the real daprd and broker: daprd delivers batches,
// each event is handled once and in order within its subject, a permanent
// failure is dead-lettered, and a transient one is posted again alone
// (with the events of its subject behind it) until it succeeds.
func TestBulkSubscribeThroughDapr(t *testing.T) {
	const bulkApp = "bulk-test"
	dir := t.TempDir()
	res := writeResources(t, dir, "pubsub.yaml", "resiliency.yaml")
	ports, err := devstack.FreePorts(3)
	require.NoError(t, err)
	f, err := fn.NewWithConfig(fn.Config{
		Name:            bulkApp,
		Port:            ports[0],
		Sidecar:         sidecar.Config{Host: "127.0.0.1", HTTPPort: ports[1], GRPCPort: ports[2]},
		ShutdownTimeout: 5 * time.Second,
		PubSub:          "pubsub",
		BulkMaxMessages: 20,
		BulkMaxAwait:    50 * time.Millisecond,
	}, logging.New(io.Discard, bulkApp, "error"))
	require.NoError(t, err)

	var mu sync.Mutex
	attempts := map[string]int{}     // by event id
	handled := map[string][]string{} // event ids handled, by subject
	var dead []string
	release := make(chan struct{})
	f.Subscribe(fn.Subscription{Topic: "bulk.events"}, func(_ context.Context, e cloudevents.Event) error {
		var data struct{ Kind string }
		if err := fn.DecodeData(e, &data); err != nil {
			return err
		}
		mu.Lock()
		attempts[e.ID()]++
		first := attempts[e.ID()] == 1
		mu.Unlock()
		switch data.Kind {
		case "gate": // holds its batch until every other event is queued behind it
			select {
			case <-release:
			case <-time.After(30 * time.Second):
			}
		case "poison":
			return fn.Permanent(errors.New("poison event"))
		case "flaky":
			if first {
				return errors.New("transient failure")
			}
		}
		mu.Lock()
		handled[e.Subject()] = append(handled[e.Subject()], e.ID())
		mu.Unlock()
		return nil
	})
	f.Subscribe(fn.Subscription{Topic: "bulk.events.dlq", DeadLetterTopic: "bulk.events.dlq.dlq"}, func(_ context.Context, e cloudevents.Event) error {
		mu.Lock()
		dead = append(dead, e.ID())
		mu.Unlock()
		return nil
	})

	defer serve(t, f)()

	// daprd reaches the function through a proxy that notes each batch.
	batches := &batchLog{}
	target, err := url.Parse("http://127.0.0.1:" + strconv.Itoa(ports[0]))
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dapr/topics/bulk.events" {
			body, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			var in struct {
				Entries []struct {
					Event struct{ ID string } `json:"event"`
				} `json:"entries"`
			}
			assert.NoError(t, json.Unmarshal(body, &in), "daprd posts JSON")
			ids := make([]string, len(in.Entries))
			for i, en := range in.Entries {
				ids[i] = en.Event.ID
			}
			batches.add(ids)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	frontPort := front.Listener.Addr().(*net.TCPAddr).Port

	devstack.StartT(t, devstack.TestStack{
		Functions:  []devstack.Function{{Name: bulkApp, AppPort: frontPort, HTTPPort: ports[1], GRPCPort: ports[2]}},
		Resources:  res,
		Dir:        dir,
		Env:        devstack.LocalEnv(dir, "", "http://127.0.0.1:1/unused", "@every 1h"),
		Partitions: 1, // every subject in every batch: concurrency and order both at stake
	})

	pub := f.Publisher()
	publish := func(id, subject, kind string) {
		e := cloudevents.NewEvent()
		e.SetID(id)
		e.SetType("com.todo.test.v1")
		e.SetSubject(subject)
		e.SetExtension(events.PartitionKeyExtension, subject)
		require.NoError(t, e.SetData(cloudevents.ApplicationJSON, map[string]string{"Kind": kind}))
		require.NoError(t, pub.Publish(context.Background(), "bulk.events", e))
	}

	publish("gate", "G", "gate")
	want := map[string][]string{"G": {"gate"}}
	kinds := map[string][]string{
		"A": {"ok", "ok", "ok", "ok", "ok", "ok"},
		"B": {"ok", "ok", "ok", "ok", "ok", "ok"},
		"C": {"ok", "ok", "ok", "ok", "ok", "ok"},
		"F": {"flaky", "ok", "ok"},
		"P": {"poison", "ok"},
	}
	for i := range 6 {
		for _, subject := range []string{"A", "B", "C", "F", "P"} {
			if i >= len(kinds[subject]) {
				continue
			}
			id := fmt.Sprintf("%s%d", subject, i+1)
			publish(id, subject, kinds[subject][i])
			if kinds[subject][i] != "poison" {
				want[subject] = append(want[subject], id)
			}
		}
	}
	close(release)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, ids := range handled {
			n += len(ids)
		}
		return n == 1+6*3+3+1 && len(dead) == 1
	}, 60*time.Second, 100*time.Millisecond, "every event handled or dead-lettered")
	// Anything redelivered would come within the retry interval (100ms).
	time.Sleep(time.Second)

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, want, handled, "each subject's events handled once, in order")
	assert.Equal(t, []string{"P1"}, dead, "the permanent failure is dead-lettered once")
	for id, n := range attempts {
		switch id {
		case "F1":
			assert.Equal(t, 2, n, "the transient failure is retried once, then succeeds")
		default:
			assert.Equal(t, 1, n, "%s: handled once, though a batch beside it was retried", id)
		}
	}

	all := batches.all()
	t.Logf("batches daprd posted: %v", all)
	most := 0
	var withF1 [][]string
	for _, b := range all {
		most = max(most, len(b))
		if slices.Contains(b, "F1") {
			withF1 = append(withF1, b)
		}
	}
	assert.Greater(t, most, 1, "daprd delivered batches: %v", all)
	require.Len(t, withF1, 2, "F1 posted, then posted again: %v", all)
	var held []string // F1 and the events of its subject behind it in its batch
	for _, id := range withF1[0] {
		if id[0] == 'F' {
			held = append(held, id)
		}
	}
	assert.Equal(t, held, withF1[1],
		"daprd posts again only the entries answered RETRY (the failed one and those held behind it), not the batch: %v", all)
}
