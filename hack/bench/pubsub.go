package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/todo-chatbot/functions/hack/bench/load"
)

const directTopic = "bench.direct"

// pubsub: publishing through bench-caller's sidecar, and delivery through
// the broker and bench-sub's sidecar to its handler; the baseline is a
// Kafka client producing to the same broker and a Kafka consumer in this
// process.
func (b *bench) pubsub(ctx context.Context) error {
	producer, err := kgo.NewClient(kgo.SeedBrokers(b.s.BrokerAddr()), kgo.AllowAutoTopicCreation(),
		// As Dapr's Kafka producer (sarama): acks from all replicas, not
		// idempotent, no lingering.
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer producer.Close()
	consumer, err := kgo.NewClient(kgo.SeedBrokers(b.s.BrokerAddr()), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics(directTopic), kgo.ConsumerGroup("bench-direct-"+randomHex(4)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer consumer.Close()
	var direct phases
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for cctx.Err() == nil {
			fs := consumer.PollFetches(cctx)
			at := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				var m message
				if json.Unmarshal(r.Value, &m) == nil {
					direct.add(m, at)
				}
			})
		}
	}()

	daprPub := func(ctx context.Context, m message) error {
		body, _ := json.Marshal(m)
		return b.s.callerDapr.PublishEvent(ctx, benchPS, benchTopic, body, dapr.PublishEventWithContentType("application/json"))
	}
	kafkaPub := func(ctx context.Context, m message) error {
		body, _ := json.Marshal(m)
		return producer.ProduceSync(ctx, &kgo.Record{Topic: directTopic, Value: body}).FirstErr()
	}
	// Both consumers must be subscribed before anything is measured.
	for _, w := range []struct {
		name string
		pub  func(context.Context, message) error
		got  *phases
	}{{"Dapr", daprPub, &b.s.subApp.phases}, {"Kafka", kafkaPub, &direct}} {
		id := "warm-" + randomHex(4)
		deadline := time.Now().Add(90 * time.Second)
		for i := 0; ; i++ {
			if err := w.pub(ctx, message{Phase: id, I: i, Intended: time.Now().UnixNano()}); err != nil && time.Now().After(deadline) {
				return fmt.Errorf("%s publish: %w", w.name, err)
			}
			w.got.get(id).wait(ctx, 1, time.Now().Add(500*time.Millisecond))
			if u, _ := w.got.get(id).tally(); u > 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s subscriber received nothing in 90 s", w.name)
			}
		}
	}

	cfg := b.cfg(b.sz.PubRate, b.sz.PubSeconds)
	// One phase: publish at the rate, then wait for every message to arrive.
	phase := func(pub func(context.Context, message) error, got *phases) (publish, deliver measurement) {
		id := randomHex(6)
		res := load.Run(ctx, cfg, func(ctx context.Context, i int, intended time.Time) error {
			return pub(ctx, message{Phase: id, I: i, Intended: intended.UnixNano()})
		})
		ok := res.Sent - res.Errors
		a := got.get(id)
		a.wait(ctx, ok, time.Now().Add(secs(b.sz.Grace)))
		unique, dups := a.tally()
		publish = fromResult(res)
		deliver = measurement{hist: a.histogram(), count: unique, errors: max(0, ok-unique), dups: dups,
			achieved: float64(unique) / b.sz.PubSeconds}
		if deliver.errors > 0 {
			deliver.firstErr = fmt.Sprintf("%d of %d published messages not delivered within %.0f s", deliver.errors, ok, b.sz.Grace)
		}
		return publish, deliver
	}
	pubPair := newPair("publish (until the broker acknowledged)", cfg.Rate, b.sz.PubSeconds, "Kafka client", "through Dapr")
	delPair := newPair("publish to handler", cfg.Rate, b.sz.PubSeconds, "Kafka client", "through Dapr")
	for r := 0; r < b.rounds(); r++ {
		for k := 0; k < 2; k++ {
			b.settle()
			if (k == 0) == (r%2 == 0) {
				p, d := phase(kafkaPub, &direct)
				pubPair.Base.add(pubPair.check(p))
				delPair.Base.add(delPair.check(d))
			} else {
				p, d := phase(daprPub, &b.s.subApp.phases)
				pubPair.Dapr.add(pubPair.check(p))
				delPair.Dapr.add(delPair.check(d))
			}
		}
	}
	pubPair.summarize()
	delPair.summarize()
	b.log("publish: P95 Kafka client %.2f ms, through Dapr %.2f ms", pubPair.Base.P95.Median, pubPair.Dapr.P95.Median)
	b.log("publish to handler: P95 Kafka client %.2f ms, through Dapr %.2f ms (lost %d, dups %d)",
		delPair.Base.P95.Median, delPair.Dapr.P95.Median, delPair.Dapr.Errors, delPair.Dapr.Dups)
	b.rep.Publish, b.rep.Delivery = &pubPair, &delPair
	return ctx.Err()
}
