package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// consumers whose backlog delays the reminder path: the consumer group of
// a Dapr subscription is the subscriber's app-id.
var consumers = []struct{ group, topic string }{
	{"fire-reminder", task.Topic},
	{"send-notification", reminder.Topic},
}

// newAdmin returns a Kafka client for offset queries, pinned to request
// versions that name topics (not topic ids).
func newAdmin(broker string) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(broker), kgo.MaxVersions(kversion.V2_8_0()))
}

// partitions lists the partitions of topic.
func partitions(ctx context.Context, cl *kgo.Client, topic string) ([]int32, error) {
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	var parts []int32
	for _, t := range mresp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, err)
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.Partition)
		}
	}
	return parts, nil
}

// consumerLag is how many records of topic the group has not committed.
func consumerLag(ctx context.Context, cl *kgo.Client, group, topic string) (int64, error) {
	parts, err := partitions(ctx, cl, topic)
	if err != nil {
		return 0, err
	}
	if len(parts) == 0 {
		return 0, nil
	}

	lreq := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, p := range parts {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition, lp.Timestamp = p, -1 // the end of the log
		lt.Partitions = append(lt.Partitions, lp)
	}
	lreq.Topics = append(lreq.Topics, lt)
	lresp, err := lreq.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	end := map[int32]int64{}
	for _, t := range lresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return 0, fmt.Errorf("end offset of %s/%d: %w", topic, p.Partition, err)
			}
			end[p.Partition] = p.Offset
		}
	}

	oreq := kmsg.NewPtrOffsetFetchRequest()
	oreq.Group = group
	ot := kmsg.NewOffsetFetchRequestTopic()
	ot.Topic, ot.Partitions = topic, parts
	oreq.Topics = append(oreq.Topics, ot)
	oresp, err := oreq.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	if err := kerr.ErrorForCode(oresp.ErrorCode); err != nil {
		return 0, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	committed := map[int32]int64{}
	for _, t := range oresp.Topics {
		for _, p := range t.Partitions {
			if p.Offset > 0 {
				committed[p.Partition] = p.Offset
			}
		}
	}
	var lag int64
	for p, e := range end {
		lag += max(0, e-committed[p])
	}
	return lag, nil
}

// drain waits until the reminder path's consumers have committed every
// event published so far, for at most limit. It reports the backlog left.
// A consumer the stack does not run (the hop stack runs none) has no
// backlog to wait for.
func (b *bench) drain(ctx context.Context, limit time.Duration) int64 {
	deadline := time.Now().Add(limit)
	var left int64
	for {
		left = 0
		for _, c := range consumers {
			if _, runs := b.s.Functions[c.group]; !runs {
				continue
			}
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			n, err := consumerLag(qctx, b.s.admin, c.group, c.topic)
			cancel()
			if err != nil {
				n = 1 // unknown: keep waiting
			}
			left += n
		}
		if left == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return left
		}
		time.Sleep(250 * time.Millisecond)
	}
}
