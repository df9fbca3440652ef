package fn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/dapr/go-sdk/service/common"
	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/todo-chatbot/functions/shared/runtime/logging"
	"github.com/todo-chatbot/functions/shared/runtime/metrics"
	"github.com/todo-chatbot/functions/shared/runtime/problem"
)

// Subscription says where a topic's events come from and where the ones
// that cannot be processed go.
type Subscription struct {
	Topic           string `json:"topic"`
	DeadLetterTopic string `json:"dead_letter_topic"` // default: Topic + ".dlq"
	PubSub          string `json:"pubsub"`            // default: the function's PUBSUB_NAME
}

// DaprRoute is the path daprd delivers the topic's events to.
func (s Subscription) DaprRoute() string { return "/dapr/topics/" + s.Topic }

// EventsRoute is the path Knative Eventing (KafkaSource) delivers the same
// events to when the function runs without a sidecar subscription, e.g.
// when it was woken from zero.
func (s Subscription) EventsRoute() string { return "/events/" + s.Topic }

// Subscribe routes the topic's events to h by both paths: Dapr pub/sub
// (programmatic subscription, dead-letter topic, consumer group = app-id)
// and CloudEvents over HTTP from Knative Eventing.
func (f *Function) Subscribe(sub Subscription, h EventHandler) {
	if sub.PubSub == "" {
		sub.PubSub = f.cfg.PubSub
	}
	if sub.DeadLetterTopic == "" {
		sub.DeadLetterTopic = sub.Topic + ".dlq"
	}
	f.daprTopic[sub.DaprRoute()] = sub
	f.topicHandler[sub.DaprRoute()] = h
	err := f.svc.AddTopicEventHandler(&common.Subscription{
		PubsubName:      sub.PubSub,
		Topic:           sub.Topic,
		Route:           sub.DaprRoute(),
		DeadLetterTopic: sub.DeadLetterTopic,
	}, func(ctx context.Context, te *common.TopicEvent) (retry bool, err error) {
		if err := f.handleTopicEvent(ctx, sub, te, h); err != nil {
			// false means DROP: daprd moves the event to the dead-letter topic.
			return !IsPermanent(err), err
		}
		return false, nil
	})
	if err != nil {
		f.errs = append(f.errs, fmt.Errorf("subscribe %s: %w", sub.Topic, err))
	}
	f.Event(sub.EventsRoute(), h)
}

// handleTopicEvent handles one event daprd delivered for sub, alone or as
// an entry of a batch: the event's own trace context, then handleEvent's
// contract. An event that is not a CloudEvent is Permanent.
func (f *Function) handleTopicEvent(ctx context.Context, sub Subscription, te *common.TopicEvent, h EventHandler) error {
	if te.TraceParent != "" {
		ctx = logging.WithTraceParent(ctx, te.TraceParent)
	}
	e, err := fromTopicEvent(te)
	if err != nil {
		f.log.WarnContext(ctx, "event dropped to dead letters: not a CloudEvent", "via", "topic "+sub.Topic, "id", te.ID, "error", err)
		return Permanent(err)
	}
	return f.handleEvent(ctx, "topic "+sub.Topic, sub.Topic, e, h)
}

// serveSubscriptions tells daprd, when it starts, which topics to deliver
// where: Dapr's programmatic subscription document.
func (f *Function) serveSubscriptions(w http.ResponseWriter, _ *http.Request) {
	type routes struct {
		Default string `json:"default"`
	}
	type subscription struct {
		PubSub          string         `json:"pubsubname"`
		Topic           string         `json:"topic"`
		Routes          routes         `json:"routes"`
		DeadLetterTopic string         `json:"deadLetterTopic"`
		BulkSubscribe   *bulkSubscribe `json:"bulkSubscribe,omitempty"`
	}
	subs := f.Describe().Topics
	out := make([]subscription, len(subs))
	for i, s := range subs {
		out[i] = subscription{PubSub: s.PubSub, Topic: s.Topic, Routes: routes{Default: s.DaprRoute()}, DeadLetterTopic: s.DeadLetterTopic, BulkSubscribe: f.bulkSubscribe()}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// guardTopics answers a Dapr delivery whose body is not JSON with DROP
// itself: the go-sdk would answer 303, which daprd retries forever. A batch
// (bulk subscribe) is served by serveBulk; a single event goes on to the
// go-sdk's decoding.
func (f *Function) guardTopics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := f.daprTopic[r.URL.Path]; r.Method != http.MethodPost || !ok {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, f.maxDeliveryBytes()))
		var in delivery
		if err == nil {
			// Not JSON, or JSON of another shape ({"id":1}, [], "x"): the
			// go-sdk's decoding would fail with a 303 either way.
			err = json.Unmarshal(body, &in)
		}
		var entries []bulkEntry
		if err == nil && in.Entries != nil {
			err = json.Unmarshal(in.Entries, &entries)
		}
		if err != nil {
			f.log.WarnContext(r.Context(), "event dropped to dead letters: body is neither a JSON CloudEvent nor a batch of them", "route", r.URL.Path, "bytes", len(body), "error", errString(err))
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"DROP"}`)
			return
		}
		if in.Entries != nil {
			f.serveBulk(w, r, f.daprTopic[r.URL.Path], entries)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// delivery is what daprd posts to a topic route: a single event, or a
// batch whose entries hold the events.
type delivery struct {
	topicEnvelope
	Entries json.RawMessage `json:"entries"`
}

// topicEnvelope has the fields and types the go-sdk decodes a Dapr
// delivery into; a body that does not decode into it is never handled.
type topicEnvelope struct {
	ID              string          `json:"id"`
	SpecVersion     string          `json:"specversion"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	DataBase64      string          `json:"data_base64"`
	Subject         string          `json:"subject"`
	Topic           string          `json:"topic"`
	PubsubName      string          `json:"pubsubname"`
	TraceID         string          `json:"traceid"`
	TraceParent     string          `json:"traceparent"`
}

// Event serves CloudEvents posted to path (binary or structured mode), as
// Knative Eventing delivers them: 2xx acknowledges, 400 sends the event to
// the dead-letter sink, 5xx asks for redelivery.
func (f *Function) Event(path string, h EventHandler) {
	f.events = append(f.events, path)
	f.mux.Post(path, func(w http.ResponseWriter, r *http.Request) {
		e, err := decodeHTTP(r)
		if err != nil {
			f.log.WarnContext(r.Context(), "CloudEvent refused", "path", path, "error", err)
			writeProblem(w, http.StatusBadRequest, err.Error())
			return
		}
		// The event's own trace context, as on the Dapr path: the request's
		// is the delivering source's.
		ctx := r.Context()
		if tp, ok := e.Extensions()["traceparent"].(string); ok {
			ts, _ := e.Extensions()["tracestate"].(string)
			ctx = logging.WithTraceParent(ctx, tp, ts)
		}
		switch err := f.handleEvent(ctx, "event "+path, strings.TrimPrefix(path, "/events/"), e, h); {
		case err == nil:
			w.WriteHeader(http.StatusAccepted)
		case IsPermanent(err):
			writeProblem(w, http.StatusBadRequest, "the event cannot be processed")
		default:
			writeProblem(w, http.StatusServiceUnavailable, "the event could not be processed now; retry")
		}
	})
}

// DedupeKey is the key under which function records that it processed e.
func DedupeKey(function string, e cloudevents.Event) string {
	return function + "|event|" + e.Source() + "|" + e.ID()
}

// handleEvent runs h once per event id: the same event may arrive twice,
// by Kafka redelivery or by both the Dapr and the Knative path. topic
// labels the outcome in todo_events_total.
func (f *Function) handleEvent(ctx context.Context, via, topic string, e cloudevents.Event, h EventHandler) error {
	key := DedupeKey(f.cfg.Name, e)
	if f.dedupe != nil {
		seen, err := f.dedupe.Marked(ctx, key)
		if err != nil {
			f.log.WarnContext(ctx, "dedupe lookup failed; will retry", "via", via, "id", e.ID(), "error", err)
			return err
		}
		if seen {
			f.log.InfoContext(ctx, "duplicate event skipped", "via", via, "id", e.ID(), "type", e.Type())
			metrics.Events.WithLabelValues(topic, metrics.DuplicateSkipped).Inc()
			return nil
		}
	}
	ctx, span := tracer.Start(ctx, e.Type(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("cloudevents.event_id", e.ID()), attribute.String("cloudevents.event_subject", e.Subject())))
	defer span.End()
	err := h(ctx, e)
	switch {
	case err == nil:
		metrics.Events.WithLabelValues(topic, metrics.Success).Inc()
		if f.dedupe != nil {
			if _, err := f.dedupe.Mark(ctx, key); err != nil {
				// The effect happened; handlers are idempotent, so a
				// redelivery after this is harmless.
				f.log.WarnContext(ctx, "could not record processed event", "id", e.ID(), "error", err)
			}
		}
		return nil
	case IsPermanent(err):
		metrics.Events.WithLabelValues(topic, metrics.DeadLettered).Inc()
		f.log.WarnContext(ctx, "event dropped to dead letters", "via", via, "id", e.ID(), "type", e.Type(), "subject", e.Subject(), "error", err)
	default:
		metrics.Events.WithLabelValues(topic, metrics.Retry).Inc()
		f.log.ErrorContext(ctx, "event failed; asking for redelivery", "via", via, "id", e.ID(), "type", e.Type(), "subject", e.Subject(), "error", err)
	}
	return err
}

// Cron runs h each time the named Dapr cron input binding fires, and for
// every CloudEvent posted to /events/<binding> (a Knative PingSource on the
// same schedule, for when the function is scaled to zero).
func (f *Function) Cron(binding string, h func(ctx context.Context) error) {
	f.cronRoute["/"+binding] = binding
	err := f.svc.AddBindingInvocationHandler(binding, func(ctx context.Context, _ *common.BindingEvent) ([]byte, error) {
		if err := h(ctx); err != nil {
			f.log.ErrorContext(ctx, "cron run failed", "binding", binding, "error", err)
			return nil, err
		}
		return nil, nil
	})
	if err != nil {
		f.errs = append(f.errs, fmt.Errorf("cron %s: %w", binding, err))
	}
	f.Event("/events/"+binding, func(ctx context.Context, _ cloudevents.Event) error { return h(ctx) })
}

// JobHandler handles a Dapr job the function scheduled. data is the job's
// JSON data.
type JobHandler func(ctx context.Context, name string, data []byte) error

// Job routes every Dapr job whose name starts with prefix to h. The go-sdk
// HTTP service does not implement job callbacks, so the runtime serves
// POST /job/{name} itself.
func (f *Function) Job(prefix string, h JobHandler) { f.jobs[prefix] = h }

func (f *Function) serveJob(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	var h JobHandler
	var kind string
	for prefix, jh := range f.jobs {
		if strings.HasPrefix(name, prefix) && (h == nil || len(prefix) > len(kind)) {
			h, kind = jh, prefix
		}
	}
	if h == nil {
		// Retrying cannot make an unknown job known: acknowledge it.
		f.log.WarnContext(r.Context(), "job with no handler acknowledged", "job", name)
		w.WriteHeader(http.StatusOK)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventBytes))
	if err != nil {
		f.log.WarnContext(r.Context(), "job dropped: body unreadable", "job", name, "error", err)
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx, span := tracer.Start(continueJobTrace(r.Context(), data), "job "+kind, trace.WithSpanKind(trace.SpanKindConsumer))
	defer span.End()
	switch err := h(ctx, name, data); {
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case IsPermanent(err):
		f.log.WarnContext(r.Context(), "job dropped", "job", name, "error", err)
		w.WriteHeader(http.StatusOK)
	default:
		// A non-2xx makes the scheduler retry under the job's failure policy.
		f.log.ErrorContext(r.Context(), "job failed; the scheduler will retry", "job", name, "error", err)
		writeProblem(w, http.StatusInternalServerError, "job failed")
	}
}

// Description is what a function serves: its routes, topics, cron
// bindings, jobs and CloudEvent paths, as its code declared them. The
// contract tests and the deploy checks read it instead of the source.
type Description struct {
	Name   string         `json:"name"`
	Routes []string       `json:"routes"`
	Topics []Subscription `json:"topics"`
	Crons  []string       `json:"crons"`
	Jobs   []string       `json:"jobs"`
	Events []string       `json:"events"`
}

// Describe returns what f serves, each list sorted.
func (f *Function) Describe() Description {
	return Description{
		Name:   f.cfg.Name,
		Routes: slices.Sorted(slices.Values(f.routes)),
		Topics: slices.SortedFunc(maps.Values(f.daprTopic), func(a, b Subscription) int { return strings.Compare(a.Topic, b.Topic) }),
		Crons:  slices.Sorted(maps.Values(f.cronRoute)),
		Jobs:   slices.Sorted(maps.Keys(f.jobs)),
		Events: slices.Sorted(slices.Values(f.events)),
	}
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	problem.Write(w, problem.New(status, detail))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return fmt.Sprintf("body larger than %d bytes", mb.Limit)
	}
	return err.Error()
}
