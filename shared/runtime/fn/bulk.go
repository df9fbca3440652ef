package fn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/dapr/go-sdk/service/common"
)

// Bulk subscribe (SUBSCRIBE_BULK_MAX_MESSAGES > 0): daprd posts a batch of
// a partition's events to the topic's route and the function answers a
// status per entry. The go-sdk has no handler for it, so the runtime
// serves it, each entry through the same path as a single event.
//
// What daprd 1.18 does with the answer (pkg/runtime/subscription,
// bulksubscription.go and bulkresiliency.go): SUCCESS and DROP entries are
// done (DROP ones published to the dead-letter topic); RETRY entries alone
// are posted again under the pubsub's inbound resiliency policy, and those
// still failing when it gives up are dead-lettered, after which the whole
// batch is committed. SUCCESS entries are therefore not redelivered by a
// RETRY beside them. The whole batch is redelivered, SUCCESS entries
// included, when the Kafka consumer gets an error back (the dead-letter
// publish failed, or daprd stopped mid-batch) or the process died before
// the offsets were committed: handlers must be idempotent, as they must be
// for single events (docs/reliability.md).

// bulkConcurrency bounds how many subjects of one batch are handled at
// once. Handlers mostly wait on the sidecar, the stores and webhooks, so
// the bound is about them, not the CPU: daprd has one batch in flight per
// partition, so a replica runs at most partitions × 16 handlers, which its
// sidecar and the stores' connection pools serve without queueing, rather
// than one per entry of a large batch.
const bulkConcurrency = 16

// Entry statuses daprd understands in a bulk answer.
const (
	bulkSuccess = "SUCCESS"
	bulkRetry   = "RETRY"
	bulkDrop    = "DROP"
)

// bulkSubscribe is the bulkSubscribe field of a subscription daprd reads
// from /dapr/subscribe (pkg/runtime/pubsub BulkSubscribeJSON).
type bulkSubscribe struct {
	Enabled            bool  `json:"enabled"`
	MaxMessagesCount   int   `json:"maxMessagesCount"`
	MaxAwaitDurationMs int64 `json:"maxAwaitDurationMs"`
}

// bulkSubscribe is what every subscription announces: nil when bulk
// subscribe is off, so the document stays as it was without it. The wait
// is always given: Dapr's Kafka default is 10 s.
func (f *Function) bulkSubscribe() *bulkSubscribe {
	if f.cfg.BulkMaxMessages == 0 {
		return nil
	}
	return &bulkSubscribe{Enabled: true, MaxMessagesCount: f.cfg.BulkMaxMessages, MaxAwaitDurationMs: f.cfg.BulkMaxAwait.Milliseconds()}
}

// maxDeliveryBytes bounds a request daprd posts to a topic route: one
// event, or a batch whose every event may be as large as one alone.
func (f *Function) maxDeliveryBytes() int64 {
	return maxEventBytes * int64(max(1, f.cfg.BulkMaxMessages))
}

// bulkEntry is one event of a batch. Event is the CloudEvent as JSON, or
// as a base64 string of its bytes (a raw payload).
type bulkEntry struct {
	EntryID string          `json:"entryId"`
	Event   json.RawMessage `json:"event"`
}

type bulkStatus struct {
	EntryID string `json:"entryId"`
	Status  string `json:"status"`
}

// topicEvent decodes the entry's event as the go-sdk decodes a single one.
func (b bulkEntry) topicEvent() (*common.TopicEvent, error) {
	raw := []byte(b.Event)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		var err error
		if raw, err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("event is a string but not base64: %w", err)
		}
	}
	var in topicEnvelope
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	te := &common.TopicEvent{
		ID: in.ID, SpecVersion: in.SpecVersion, Type: in.Type, Source: in.Source,
		DataContentType: in.DataContentType, Subject: in.Subject, Topic: in.Topic,
		PubsubName: in.PubsubName, TraceID: in.TraceID, TraceParent: in.TraceParent,
		RawData: in.Data,
	}
	if len(in.Data) == 0 && in.DataBase64 != "" {
		data, err := base64.StdEncoding.DecodeString(in.DataBase64)
		if err != nil {
			return nil, fmt.Errorf("data_base64: %w", err)
		}
		te.RawData = data
	}
	return te, nil
}

// serveBulk handles a batch daprd delivered for sub and answers a status
// per entry: SUCCESS for a nil error, DROP (dead letters) for a Permanent
// one or an entry that is not a CloudEvent, RETRY otherwise. Entries of
// one subject (one task) are handled one after another in batch order, as
// the partition holds them; after a RETRY the rest of that subject is
// answered RETRY unhandled, so a later event never overtakes an earlier
// one that is to come again. Subjects are handled concurrently, at most
// bulkConcurrency at a time.
func (f *Function) serveBulk(w http.ResponseWriter, r *http.Request, sub Subscription, entries []bulkEntry) {
	h := f.topicHandler[r.URL.Path]
	statuses := make([]bulkStatus, len(entries))
	events := make([]*common.TopicEvent, len(entries))
	bySubject := map[string][]int{}
	var subjects []string
	for i, en := range entries {
		statuses[i].EntryID = en.EntryID
		te, err := en.topicEvent()
		if err != nil {
			f.log.WarnContext(r.Context(), "event dropped to dead letters: batch entry is not a JSON CloudEvent", "via", "topic "+sub.Topic, "entry", en.EntryID, "error", err)
			statuses[i].Status = bulkDrop
			continue
		}
		events[i] = te
		if _, ok := bySubject[te.Subject]; !ok {
			subjects = append(subjects, te.Subject)
		}
		bySubject[te.Subject] = append(bySubject[te.Subject], i)
	}

	sem := make(chan struct{}, bulkConcurrency)
	var wg sync.WaitGroup
	for _, subject := range subjects {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			held := false
			for _, i := range bySubject[subject] {
				if held {
					statuses[i].Status = bulkRetry
					continue
				}
				switch err := f.handleBulkEntry(r.Context(), sub, events[i], h); {
				case err == nil:
					statuses[i].Status = bulkSuccess
				case IsPermanent(err):
					statuses[i].Status = bulkDrop
				default:
					statuses[i].Status = bulkRetry
					held = true
				}
			}
			if held {
				f.log.InfoContext(r.Context(), "events held for redelivery behind a failed one of the same subject", "via", "topic "+sub.Topic, "subject", subject)
			}
		})
	}
	wg.Wait()

	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Statuses []bulkStatus `json:"statuses"`
	}{statuses})
}

// handleBulkEntry is handleTopicEvent on a goroutine of its own, where the
// recover middleware cannot catch a panic: one is logged and retried, as a
// single event's would be (500).
func (f *Function) handleBulkEntry(ctx context.Context, sub Subscription, te *common.TopicEvent, h EventHandler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			f.log.ErrorContext(ctx, "handler panicked", "via", "topic "+sub.Topic, "id", te.ID, "panic", fmt.Sprint(v))
			err = errors.New("handler panicked")
		}
	}()
	return f.handleTopicEvent(ctx, sub, te, h)
}
