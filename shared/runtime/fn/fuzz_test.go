package fn

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/dapr/go-sdk/service/common"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
)

// fuzzFunction is a function with one topic and one raw event route whose
// handler never fails transiently: whatever a delivery holds, the runtime
// must acknowledge or drop it, never ask for it again or crash.
func fuzzFunction(tb testing.TB) *Function {
	tb.Helper()
	f, err := NewWithConfig(Config{
		Name:    "fuzz",
		Port:    1,
		Sidecar: sidecar.Config{Host: "127.0.0.1", HTTPPort: 1, GRPCPort: 1}, // never dialled
		PubSub:  "pubsub",
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	h := func(_ context.Context, e cloudevents.Event) error {
		var d struct{ Kind string }
		if err := DecodeData(e, &d); err != nil {
			return err
		}
		if d.Kind == "poison" {
			return Permanent(errors.New("poison"))
		}
		return nil
	}
	f.Subscribe(Subscription{Topic: "fuzz.events"}, h)
	f.Event("/events/raw", h)
	if err := errors.Join(f.errs...); err != nil {
		tb.Fatal(err)
	}
	return f
}

var topicSeeds = []string{
	`{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"application/json","data":{"Kind":"ok"}}`,
	`{"specversion":"1.0","id":"2","source":"s","type":"t","data":{"Kind":"poison"}}`,
	`{"specversion":"1.0","id":"3","source":"s","type":"t","datacontenttype":"text/plain","data":"garbage"}`,
	`{"specversion":"1.0","id":"4","source":"s","type":"t","data_base64":"eyJLaW5kIjoib2sifQ=="}`,
	`{"specversion":"0.3","id":"5","source":"s","type":"t"}`,
	`{"id":6}`,
	`{"id":"7","data":[1,2]}`,
	`[]`, `"x"`, `null`, `{}`, `{not json`, ``,
	// Batches (bulk subscribe), as daprd posts them to the same route.
	`{"id":"b","type":"com.dapr.event.sent.bulk","topic":"fuzz.events","pubsubname":"pubsub","metadata":{},"entries":[` +
		`{"entryId":"1","event":{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"Kind":"ok"}},"metadata":{},"contentType":"application/cloudevents+json"},` +
		`{"entryId":"2","event":"eyJzcGVjdmVyc2lvbiI6IjEuMCJ9","contentType":"application/octet-stream"},` +
		`{"entryId":"3","event":{"id":7}}]}`,
	`{"entries":[]}`, `{"entries":null}`, `{"entries":"x"}`, `{"entries":[1]}`,
}

// FuzzTopicDelivery posts arbitrary bodies to the route daprd delivers a
// topic's events to, one or a batch. Any answer but 200 with SUCCESS or
// DROP (for each entry of a batch) would make daprd retry the same bytes
// until they are dead-lettered, or forever (a 303 or a 5xx, or RETRY).
func FuzzTopicDelivery(f *testing.F) {
	for _, s := range topicSeeds {
		f.Add([]byte(s))
	}
	fn := fuzzFunction(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/dapr/topics/fuzz.events", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/cloudevents+json")
		fn.mux.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d for %q: daprd would redeliver it forever", w.Code, body)
		}
		var st struct {
			Status   string
			Statuses []struct{ Status string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
			t.Fatalf("answer %q for %q: not JSON", w.Body.String(), body)
		}
		final := func(s string) bool { return s == "SUCCESS" || s == "DROP" }
		ok := final(st.Status) && st.Statuses == nil
		if st.Statuses != nil {
			ok = st.Status == ""
			for _, s := range st.Statuses {
				ok = ok && final(s.Status)
			}
		}
		if !ok {
			t.Fatalf("answer %q for %q: want SUCCESS or DROP", w.Body.String(), body)
		}
	})
}

// FuzzEventHTTP posts arbitrary CloudEvents, in binary or structured mode,
// to a Knative Eventing route: 202 acknowledges, anything refused is a 400
// problem (dead-lettered), and nothing is a 5xx (redelivered).
func FuzzEventHTTP(f *testing.F) {
	for _, s := range topicSeeds {
		f.Add([]byte(s), "application/cloudevents+json", "", "", "")
	}
	f.Add([]byte(`{"Kind":"ok"}`), "application/json", "1.0", "b-1", "dev.knative.sources.ping")
	f.Add([]byte(`{"Kind":"poison"}`), "application/json", "1.0", "b-2", "t")
	f.Add([]byte(`{"specversion":"1.0","id":"in","source":"s","type":"t","data":{"Kind":"ok"}}`), "application/json", "1.0", "k-1", "dev.knative.kafka.event")
	f.Add([]byte(`{"specversion":"1.0","id":"in","source":"s"}`), "application/cloudevents+json", "1.0", "k-2", "dev.knative.kafka.event")
	f.Add([]byte("\xff\xfe"), "text/plain; charset=latin1", "0.3", "x", "t")
	f.Add([]byte(`{"Kind":"ok"}`), "application/json", "2.0", "", "")
	fn := fuzzFunction(f)
	f.Fuzz(func(t *testing.T, body []byte, contentType, specVersion, id, typ string) {
		r := httptest.NewRequest(http.MethodPost, "/events/raw", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", contentType)
		if specVersion != "" {
			r.Header.Set("Ce-Specversion", specVersion)
			r.Header.Set("Ce-Id", id)
			r.Header.Set("Ce-Source", "/fuzz")
			r.Header.Set("Ce-Type", typ)
		}
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { defer close(done); fn.mux.ServeHTTP(w, r) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer for %q", body)
		}
		switch w.Code {
		case http.StatusAccepted:
		case http.StatusBadRequest:
			if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
				t.Fatalf("400 as %q, not a problem", ct)
			}
		default:
			t.Fatalf("status %d for %q (%s): %s", w.Code, body, contentType, w.Body.String())
		}
	})
}

// FuzzFromTopicEvent checks the rebuilding of a delivered event: an error
// is always Permanent, and an accepted event is valid.
func FuzzFromTopicEvent(f *testing.F) {
	f.Add("1", "1.0", "s", "t", "application/json", []byte(`{"a":1}`))
	f.Add("", "", "", "", "", []byte(nil))
	f.Add("1", "1.0", "s", "t", "text/plain", []byte("x"))
	f.Add("1", "1.0", "::", "t", "bad/ct;;", []byte(`{`))
	f.Fuzz(func(t *testing.T, id, spec, source, typ, ct string, data []byte) {
		e, err := fromTopicEvent(topicEvent(id, spec, source, typ, ct, data))
		if err != nil {
			return // the caller marks every error Permanent
		}
		if verr := e.Validate(); verr != nil {
			t.Fatalf("accepted an invalid event: %v", verr)
		}
		var v any
		if derr := DecodeData(e, &v); derr != nil && !IsPermanent(derr) {
			t.Fatalf("data error not permanent: %v", derr)
		}
	})
}

func topicEvent(id, spec, source, typ, ct string, data []byte) *common.TopicEvent {
	return &common.TopicEvent{ID: id, SpecVersion: spec, Source: source, Type: typ, DataContentType: ct, RawData: data}
}
