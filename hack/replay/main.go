// Command replay republishes dead letters: it reads the events Dapr moved
// to a dead-letter topic (<topic>.dlq) from the broker and publishes each
// again to the topic it came from, through a Dapr sidecar's publish API,
// so it takes the same path as the first time (same pub/sub component,
// same subscribers, same dedupe). Each event keeps its id: a subscriber
// that did process it after all skips it.
//
//	make replay-deadletters TOPIC=todo.reminders.events.dlq
//	go run ./hack/replay -topic todo.reminders.events.dlq [-dry-run]
//
// Dead letters are read with a consumer group (-group), whose offsets are
// committed after each successful publish: running it again replays only
// what was dead-lettered since. The broker and sidecar addresses default
// to those of `make run` (.run/stack.json).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options say what to replay and where to.
type Options struct {
	Brokers  []string
	Topic    string // the dead-letter topic
	To       string // the original topic; default: from the event, else Topic less ".dlq"
	Group    string // consumer group whose offsets mark what was replayed
	DaprURL  string // a sidecar's HTTP API, e.g. http://127.0.0.1:3501
	PubSub   string
	Token    string        // DAPR_API_TOKEN, if the sidecar wants one
	Idle     time.Duration // give up when the broker sends nothing for this long (30s)
	DryRun   bool          // list, publish nothing, commit nothing
	Max      int           // stop after this many (0: all)
	Out      io.Writer
	Client   *http.Client
	MaxRetry int // publish attempts per event
}

// Result counts what a run did.
type Result struct {
	Read, Replayed, Skipped int
	ByTopic                 map[string]int
}

func main() {
	o := Options{Out: os.Stdout, Client: &http.Client{Timeout: 10 * time.Second}, MaxRetry: 5}
	brokers := flag.String("brokers", "", "broker addresses, comma-separated (default: .run/stack.json, else 127.0.0.1:9092)")
	flag.StringVar(&o.Topic, "topic", "", "dead-letter topic to replay, e.g. todo.reminders.events.dlq (required)")
	flag.StringVar(&o.To, "to", "", "topic to republish to (default: the event's own topic, else -topic less .dlq)")
	flag.StringVar(&o.Group, "group", "dlq-replay", "consumer group that remembers what was replayed")
	flag.StringVar(&o.DaprURL, "dapr", "", "HTTP API of a sidecar with the pub/sub component (default: create-task's in .run/stack.json)")
	flag.StringVar(&o.PubSub, "pubsub", "pubsub", "pub/sub component name")
	flag.DurationVar(&o.Idle, "idle", 30*time.Second, "give up when the broker sends nothing for this long")
	flag.BoolVar(&o.DryRun, "dry-run", false, "list the dead letters; publish and commit nothing")
	flag.IntVar(&o.Max, "max", 0, "replay at most this many (0: all)")
	manifest := flag.String("manifest", ".run/stack.json", "the running stack's manifest (make run)")
	flag.Parse()
	o.Token = os.Getenv("DAPR_API_TOKEN")
	if err := defaults(&o, *brokers, *manifest); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	res, err := Replay(ctx, o)
	fmt.Fprintf(o.Out, "read %d dead letters from %s: %d replayed, %d skipped %v\n", res.Read, o.Topic, res.Replayed, res.Skipped, res.ByTopic)
	if err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}

func defaults(o *Options, brokers, manifest string) error {
	if o.Topic == "" {
		return errors.New("-topic is required (e.g. todo.reminders.events.dlq)")
	}
	var m struct {
		Broker    string `json:"broker"`
		Functions map[string]struct {
			DaprHTTP string `json:"dapr_http"`
		} `json:"functions"`
	}
	if b, err := os.ReadFile(manifest); err == nil {
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%s: %w", manifest, err)
		}
	}
	switch {
	case brokers != "":
		o.Brokers = strings.Split(brokers, ",")
	case m.Broker != "":
		o.Brokers = []string{m.Broker}
	default:
		o.Brokers = []string{"127.0.0.1:9092"}
	}
	if o.DaprURL == "" {
		o.DaprURL = m.Functions["create-task"].DaprHTTP
	}
	if o.DaprURL == "" && !o.DryRun {
		return errors.New("-dapr is required when no stack manifest names create-task's sidecar")
	}
	return nil
}

// envelope is the part of a dead-lettered CloudEvent replay reads.
type envelope struct {
	ID           string `json:"id"`
	Type         string `json:"type"`
	Subject      string `json:"subject"`
	Topic        string `json:"topic"`
	PartitionKey string `json:"partitionkey"`
}

// Replay republishes the dead letters o.Topic held when it started (or
// the first o.Max of them): it reads each partition up to its end offset
// of that moment. One dead-lettered again meanwhile, by a subscriber that
// still cannot process it, is left for the next run, so a run always ends.
// A dead letter that is not a JSON CloudEvent cannot be republished as
// one: it is reported, skipped and committed, so it does not block the
// rest.
func Replay(ctx context.Context, o Options) (Result, error) {
	res := Result{ByTopic: map[string]int{}}
	if o.Idle <= 0 {
		o.Idle = 30 * time.Second
	}
	if o.MaxRetry <= 0 {
		o.MaxRetry = 1
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(o.Brokers...),
		kgo.ConsumerGroup(o.Group),
		kgo.ConsumeTopics(o.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	todo, err := pending(ctx, kadm.NewClient(cl), o.Group, o.Topic)
	if err != nil {
		return res, err
	}
	for len(todo) > 0 && (o.Max == 0 || res.Read < o.Max) {
		pctx, cancel := context.WithTimeout(ctx, o.Idle)
		fs := cl.PollRecords(pctx, 100)
		cancel()
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var fatal error
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				fatal = fmt.Errorf("fetch %s[%d]: %w", topic, p, err)
			}
		})
		if fatal != nil {
			return res, fatal
		}
		recs := fs.Records()
		if len(recs) == 0 {
			return res, fmt.Errorf("%d partition(s) of %s not read to their end in %s", len(todo), o.Topic, o.Idle)
		}
		for _, r := range recs {
			end, due := todo[r.Partition]
			if !due || r.Offset >= end || (o.Max > 0 && res.Read >= o.Max) {
				continue // dead-lettered after the start: left for the next run
			}
			res.Read++
			if err := replayOne(ctx, o, r, &res); err != nil {
				return res, err // not committed: the next run retries it
			}
			if !o.DryRun {
				if err := cl.CommitRecords(ctx, r); err != nil {
					return res, fmt.Errorf("commit %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
				}
			}
			if r.Offset+1 >= end {
				delete(todo, r.Partition)
				cl.PauseFetchPartitions(map[string][]int32{r.Topic: {r.Partition}})
			}
		}
	}
	return res, nil
}

// pending returns, for each partition of topic that holds dead letters
// the group has not replayed, its end offset now.
func pending(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	committed, err := adm.FetchOffsetsForTopics(ctx, group, topic)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // a group's first run: nothing replayed yet
	}
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	todo := map[int32]int64{}
	var lerr error
	ends.Each(func(end kadm.ListedOffset) {
		if errors.Is(end.Err, kerr.UnknownTopicOrPartition) {
			return // nothing was ever dead-lettered there
		}
		if end.Err != nil {
			lerr = fmt.Errorf("end offset of %s[%d]: %w", topic, end.Partition, end.Err)
			return
		}
		from := int64(0)
		if s, ok := starts.Lookup(topic, end.Partition); ok {
			from = s.Offset
		}
		if c, ok := committed.Lookup(topic, end.Partition); ok && c.At > from {
			from = c.At
		}
		if end.Offset > from {
			todo[end.Partition] = end.Offset
		}
	})
	return todo, lerr
}

// replayOne republishes one dead letter (or, in a dry run, says it would).
func replayOne(ctx context.Context, o Options, r *kgo.Record, res *Result) error {
	var e envelope
	if err := json.Unmarshal(r.Value, &e); err != nil || e.ID == "" {
		res.Skipped++
		fmt.Fprintf(o.Out, "skip %s[%d]@%d: not a JSON CloudEvent (%d bytes)\n", r.Topic, r.Partition, r.Offset, len(r.Value))
		return nil
	}
	if e.Topic == o.Topic {
		e.Topic = "" // published to the dead-letter topic by hand
	}
	to := firstOf(o.To, e.Topic, strings.TrimSuffix(o.Topic, ".dlq"))
	if to == o.Topic {
		return fmt.Errorf("event %s would be republished to its dead-letter topic %s; give -to", e.ID, to)
	}
	key := firstOf(string(r.Key), e.PartitionKey, e.Subject)
	fmt.Fprintf(o.Out, "%s %s %s (%s) -> %s\n", verb(o.DryRun), e.Type, e.ID, e.Subject, to)
	if !o.DryRun {
		if err := publish(ctx, o, to, key, r.Value); err != nil {
			return err
		}
	}
	res.Replayed++
	res.ByTopic[to]++
	return nil
}

func verb(dry bool) string {
	if dry {
		return "would replay"
	}
	return "replay"
}

// publish posts the event to topic through the sidecar, as a structured
// CloudEvent (Dapr keeps its id), keyed like the original.
func publish(ctx context.Context, o Options, topic, key string, event []byte) error {
	u := strings.TrimSuffix(o.DaprURL, "/") + "/v1.0/publish/" + url.PathEscape(o.PubSub) + "/" + url.PathEscape(topic)
	if key != "" {
		u += "?metadata.partitionKey=" + url.QueryEscape(key)
	}
	var last error
	for attempt := 1; attempt <= o.MaxRetry; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(event))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/cloudevents+json")
		if o.Token != "" {
			req.Header.Set("dapr-api-token", o.Token)
		}
		resp, err := o.Client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("publish to %s: %s: %s", topic, resp.Status, bytes.TrimSpace(body))
			if resp.StatusCode/100 == 4 {
				return err
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
		}
	}
	return last
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
