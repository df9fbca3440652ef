package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// testNotifierKill is a short fault run: reminders fall due over a few
// seconds, and when the first has reached the webhook, send-notification
// and its sidecar are killed (SIGKILL) together and restarted two seconds
// later. Whatever the broker does with the events in flight (Kafka's
// uncommitted offsets, RabbitMQ's unacknowledged messages, JetStream's
// pending acks), every reminder must reach the webhook under exactly one
// notification id. The same id again is the edge's at-least-once that the
// receiver drops by Idempotency-Key, so it is counted, not failed.
func testNotifierKill(t *testing.T, a api, p *devstack.Project) {
	const n = 12
	user := uniqueUser("kill")
	start := time.Now().Add(3 * time.Second)
	ids := make([]string, n)
	for i := range ids {
		at := start.Add(time.Duration(i) * 400 * time.Millisecond).Truncate(time.Millisecond)
		ids[i] = a.create(user, map[string]any{"title": fmt.Sprintf("kill %d", i), "remind_at": rfc(at)})["id"].(string)
	}
	delivered := func() (tasks, total int) {
		for _, id := range ids {
			if ds := p.Webhook.DeliveriesFor(id); len(ds) > 0 {
				tasks++
				total += len(ds)
			}
		}
		return tasks, total
	}
	require.Eventually(t, func() bool { got, _ := delivered(); return got > 0 }, 30*time.Second, 20*time.Millisecond, "no reminder was delivered")
	before, _ := delivered()
	require.NoError(t, p.Kill("send-notification-dapr"))
	require.NoError(t, p.Kill("send-notification"))
	t.Logf("killed send-notification and its sidecar after %d of %d reminders", before, n)
	time.Sleep(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, p.Restart(ctx, "send-notification"))
	require.NoError(t, p.Restart(ctx, "send-notification-dapr"))
	restarted := time.Now()

	// JetStream redelivers what was not acknowledged after its ack wait
	// (30 s); the others as soon as the consumer is back.
	assert.Eventually(t, func() bool { got, _ := delivered(); return got == n }, 90*time.Second, 100*time.Millisecond, "reminders lost")
	tasks, total := delivered()
	t.Logf("%d of %d reminders delivered, %d deliveries, the last %v after the restart", tasks, n, total, time.Since(restarted).Round(time.Second))
	time.Sleep(2 * time.Second) // anything redelivered late shows now
	for i, id := range ids {
		notifications := map[any]bool{}
		for _, d := range p.Webhook.DeliveriesFor(id) {
			notifications[d["id"]] = true
		}
		assert.Len(t, notifications, 1, "reminder %d: one notification, under one id", i)
	}
}
