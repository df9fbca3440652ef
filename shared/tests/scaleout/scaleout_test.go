package scaleout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// TestScaleOut runs the functions as Kubernetes scales them out: three
// replicas of fire-reminder, two of the other event-driven functions and
// of create-task, a three-node scheduler and three brokers, and checks
// that every effect still happens once.
func TestScaleOut(t *testing.T) {
	p := devstack.StartProject(t, devstack.ProjectOptions{
		Profile:       devstack.KafkaPostgres,
		Functions:     []string{"create-task", "complete-task", "list-tasks", "fire-reminder", "send-notification", "sweep-reminders"},
		Replicas:      map[string]int{"create-task": 2, "fire-reminder": 3, "send-notification": 2, "sweep-reminders": 2},
		Schedulers:    3,
		Brokers:       3,
		SweepSchedule: "@every 3s",
	})
	log := devstack.WatchTopics(t, p.BrokerAddr(), task.Topic, reminder.Topic)
	c := cluster{t: t, p: p}
	warm := c.create(user("warmup"), time.Now().Add(time.Second), "")
	require.Eventually(t, func() bool { return len(c.deliveries()[warm]) == 1 }, 90*time.Second, 100*time.Millisecond, "the first reminder never arrived")

	t.Run("jobs fire once across three replicas", func(t *testing.T) { testJobsFireOnce(t, c.with(t), log) })
	t.Run("a job scheduled by one replica is cancelled by another", func(t *testing.T) { testCancelFromAnother(t, c.with(t), log) })
	t.Run("consumer groups across a replica killed and added", func(t *testing.T) { testRebalance(t, c.with(t)) })
	t.Run("racing replicas produce one effect", func(t *testing.T) { testRaces(t, c.with(t)) })
	t.Run("two sweeps announce and fire once", func(t *testing.T) { testSweeps(t, c.with(t), log) })
	assert.Zero(t, p.Webhook.Refused(), "every delivery carried the token and the notification's id as Idempotency-Key")
}

// cluster drives the stack as the Chat API would.
type cluster struct {
	t *testing.T
	p *devstack.Project
}

func (c cluster) with(t *testing.T) cluster { return cluster{t: t, p: c.p} }

// invoke calls fn through create-task's first sidecar, which picks any
// replica of fn.
func (c cluster) invoke(fn, method, path string, body any, headers ...string) fakes.Response {
	c.t.Helper()
	return fakes.Send(c.t, nil, method, c.p.Functions["create-task"].DaprURL()+"/v1.0/invoke/"+fn+"/method"+path, body, headers...)
}

// create makes a task reminding at remindAt (and due at dueAt, if set)
// and returns its id.
func (c cluster) create(user string, remindAt time.Time, dueAt string) string {
	c.t.Helper()
	body := map[string]any{"title": "scale-out", "remind_at": rfc(remindAt)}
	if dueAt != "" {
		body["due_at"] = dueAt
	}
	r := c.invoke("create-task", http.MethodPost, "/users/"+user+"/tasks", body)
	require.Equal(c.t, http.StatusCreated, r.Status, "%s", r.Body)
	var v struct{ ID string }
	require.NoError(c.t, json.Unmarshal(r.Body, &v))
	return v.ID
}

// deliveries groups the webhook's deliveries by task: the notification id
// of each, repeats included.
func (c cluster) deliveries() map[string][]string {
	m := map[string][]string{}
	for _, d := range c.p.Webhook.Deliveries() {
		tid, _ := d["task_id"].(string)
		id, _ := d["id"].(string)
		m[tid] = append(m[tid], id)
	}
	return m
}

// waitDelivered waits until every task's reminder reached the webhook.
func (c cluster) waitDelivered(ids []string, within time.Duration, msg string) {
	c.t.Helper()
	require.Eventually(c.t, func() bool {
		got := c.deliveries()
		for _, id := range ids {
			if len(got[id]) == 0 {
				return false
			}
		}
		return true
	}, within, 200*time.Millisecond, msg)
}

// stop kills every process of one replica, app and sidecar; start brings
// them back.
func (c cluster) stop(f devstack.Function) {
	c.t.Helper()
	require.NoError(c.t, c.p.Kill(f.Proc()))
	require.NoError(c.t, c.p.Kill(f.Proc()+"-dapr"))
}

func (c cluster) start(f devstack.Function) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(c.t, c.p.Restart(ctx, f.Proc()))
	require.NoError(c.t, c.p.Restart(ctx, f.Proc()+"-dapr"))
}

// job answers whether fire-reminder's job for the task exists, asked of
// the sidecar of one replica.
func (c cluster) job(via devstack.Function, taskID string) bool {
	c.t.Helper()
	r := fakes.Send(c.t, nil, http.MethodGet, via.DaprURL()+"/v1.0-alpha1/jobs/"+reminder.JobName(taskID), nil)
	return r.Status == http.StatusOK
}

// testJobsFireOnce sets reminders due within seconds of each other: the
// scheduler hands each job to one of the three connected replicas, and
// each reminder is published and delivered once.
func testJobsFireOnce(t *testing.T, c cluster, log *devstack.TopicLog) {
	const n = 24
	u := user("jobs")
	ids := make([]string, n)
	last := time.Now()
	for i := range ids {
		last = time.Now().Add(4*time.Second + time.Duration(i%6)*500*time.Millisecond)
		ids[i] = c.create(u, last, "")
	}
	c.waitDelivered(ids, time.Until(last)+60*time.Second, "every reminder delivered")
	time.Sleep(3 * time.Second) // room for a second firing to show
	got := c.deliveries()
	for _, id := range ids {
		assert.Len(t, got[id], 1, "task %s: one delivery", id)
		// A sweep that reaches a reminder in the instant it falls due may
		// publish it beside the job: the same event, under the same id.
		assert.Len(t, distinctEvents(log.About(id)[reminder.EventDue]), 1, "task %s: one reminder.due published", id)
	}
	fired := 0
	for _, f := range c.p.Replicas("fire-reminder") {
		if strings.Count(logOf(c.p, f.Proc()), `"msg":"reminder due"`) > 0 {
			fired++
		}
	}
	assert.GreaterOrEqual(t, fired, 2, "the scheduler spread the jobs over the replicas")
}

// testCancelFromAnother schedules reminders while only the first
// fire-reminder replica runs, then cancels one of them (the task is
// completed) while only the others run: the cancelled one never fires,
// the other fires once on a replica that did not schedule it.
func testCancelFromAnother(t *testing.T, c cluster, log *devstack.TopicLog) {
	rs := c.p.Replicas("fire-reminder")
	first, others := rs[0], rs[1:]
	for _, f := range others {
		c.stop(f)
	}
	u := user("cancel")
	remindAt := time.Now().Add(45 * time.Second)
	cancelled, kept := c.create(u, remindAt, ""), c.create(u, remindAt, "")
	require.Eventually(t, func() bool { return c.job(first, cancelled) && c.job(first, kept) }, 60*time.Second, 200*time.Millisecond,
		"the first replica scheduled both jobs")

	for _, f := range others {
		c.start(f)
	}
	c.stop(first)
	r := c.invoke("complete-task", http.MethodPost, "/users/"+u+"/tasks/"+cancelled+"/complete", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	// The completion's partition may have been the stopped replica's: it
	// moves to the others once the consumer group notices.
	require.Eventually(t, func() bool { return !c.job(others[0], cancelled) }, 60*time.Second, 200*time.Millisecond,
		"another replica cancelled the job")
	assert.True(t, c.job(others[0], kept), "the other job is still held")

	require.Eventually(t, func() bool { return len(c.deliveries()[kept]) > 0 }, time.Until(remindAt)+30*time.Second, 200*time.Millisecond,
		"the kept reminder fired on a replica that did not schedule it")
	c.start(first)
	time.Sleep(3 * time.Second)
	assert.Len(t, c.deliveries()[kept], 1, "the kept reminder was delivered once")
	assert.Empty(t, c.deliveries()[cancelled], "the cancelled reminder was not delivered")
	assert.Empty(t, log.About(cancelled)[reminder.EventDue], "the cancelled reminder was not published")
}

// testRebalance streams reminders while a send-notification replica is
// killed and later added back, and while fire-reminder runs two of its
// three replicas and then gets the third back: the partitions move
// between the replicas of each consumer group, and every reminder is
// still delivered once.
func testRebalance(t *testing.T, c cluster) {
	third := c.p.Replicas("fire-reminder")[2]
	second := c.p.Replicas("send-notification")[1]
	c.stop(third)
	u := user("rebalance")
	const n = 30
	ids := make([]string, 0, n)
	var last time.Time
	start := time.Now()
	for i := 0; i < n; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * 600 * time.Millisecond)))
		switch i {
		case 8:
			c.stop(second)
		case 18:
			c.start(second)
			c.start(third)
		}
		last = time.Now().Add(3 * time.Second)
		ids = append(ids, c.create(u, last, ""))
	}
	c.waitDelivered(ids, time.Until(last)+90*time.Second, "every reminder delivered across the rebalances")
	time.Sleep(3 * time.Second)
	got := c.deliveries()
	for _, id := range ids {
		assert.Len(t, distinct(got[id]), 1, "task %s: one notification", id)
		// The same notification again only when a killed replica had
		// sent it and not yet recorded it: bounded by the one kill.
		assert.LessOrEqual(t, len(got[id]), 2, "task %s: at most one repeat of the same notification", id)
	}
}

// testRaces sends the same request to two replicas of one function at
// the same moment, straight to each replica's own process: the same
// Idempotency-Key to both create-task replicas makes one task, and the
// same reminder.due event to both send-notification replicas makes one
// delivery.
func testRaces(t *testing.T, c cluster) {
	creates, sends := c.p.Replicas("create-task"), c.p.Replicas("send-notification")
	u := user("race")
	for round := 0; round < 10; round++ {
		key := fmt.Sprintf("race-%d", round)
		answers := both(creates, func(f devstack.Function) fakes.Response {
			return fakes.Send(t, nil, http.MethodPost, f.URL()+"/users/"+u+"/tasks", map[string]any{"title": key}, "Idempotency-Key", key)
		})
		var ids []string
		for _, r := range answers {
			require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
			var v struct{ ID string }
			require.NoError(t, json.Unmarshal(r.Body, &v))
			ids = append(ids, v.ID)
		}
		assert.Len(t, distinct(ids), 1, "round %d: both answers name one task", round)
	}
	r := c.invoke("list-tasks", http.MethodGet, "/users/"+u+"/tasks", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var list struct{ Items []json.RawMessage }
	require.NoError(t, json.Unmarshal(r.Body, &list))
	assert.Len(t, list.Items, 10, "ten keys raced, ten tasks stored")

	due := time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
	for round := 0; round < 10; round++ {
		tid := fmt.Sprintf("race-task-%d-%d", round, time.Now().UnixNano())
		d := reminder.Due{UserID: u, TaskID: tid, Title: "race", RemindAt: due}
		e, err := d.Event()
		require.NoError(t, err)
		e.SetSource("scale-out-test")
		body, err := json.Marshal(e)
		require.NoError(t, err)
		both(sends, func(f devstack.Function) fakes.Response {
			return fakes.Send(t, nil, http.MethodPost, f.URL()+"/events/"+reminder.Topic, body, "Content-Type", cloudevents.ApplicationCloudEventsJSON)
		})
		require.Eventually(t, func() bool { return len(c.deliveries()[tid]) > 0 }, 20*time.Second, 100*time.Millisecond, "round %d delivered", round)
		time.Sleep(500 * time.Millisecond)
		assert.Len(t, c.deliveries()[tid], 1, "round %d: the same reminder at two replicas is delivered once", round)
	}
}

// testSweeps sets tasks overdue and reminders due now while both
// sweep-reminders replicas sweep every 3 s, racing each other and
// fire-reminder: each task is announced overdue once, and each reminder
// is published and delivered once.
func testSweeps(t *testing.T, c cluster, log *devstack.TopicLog) {
	u := user("sweep")
	const n = 10
	ids := make([]string, n)
	for i := range ids {
		now := time.Now()
		ids[i] = c.create(u, now.Add(-2*time.Second), rfc(now.Add(-time.Second)))
	}
	require.Eventually(t, func() bool {
		for _, id := range ids {
			if len(log.About(id)[task.EventOverdue]) == 0 || len(c.deliveries()[id]) == 0 {
				return false
			}
		}
		return true
	}, 60*time.Second, 200*time.Millisecond, "every task announced overdue and reminded")
	time.Sleep(8 * time.Second) // more sweeps by both replicas
	for _, id := range ids {
		about := log.About(id)
		assert.Len(t, about[task.EventOverdue], 1, "task %s: announced overdue once", id)
		assert.Len(t, distinctEvents(about[reminder.EventDue]), 1, "task %s: one reminder.due", id)
		assert.Len(t, c.deliveries()[id], 1, "task %s: delivered once", id)
	}
	for _, f := range c.p.Replicas("sweep-reminders") {
		assert.Contains(t, logOf(c.p, f.Proc()), `"msg":"sweep done"`, "%s swept", f.Proc())
	}
}

// both runs call on every replica at once and returns the answers.
func both(rs []devstack.Function, call func(devstack.Function) fakes.Response) []fakes.Response {
	out := make([]fakes.Response, len(rs))
	var ready, done sync.WaitGroup
	ready.Add(1)
	for i, f := range rs {
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Wait()
			out[i] = call(f)
		}()
	}
	ready.Done()
	done.Wait()
	return out
}

func distinct(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func distinctEvents(es []cloudevents.Event) map[string]bool {
	m := map[string]bool{}
	for _, e := range es {
		m[e.ID()] = true
	}
	return m
}

func logOf(p *devstack.Project, proc string) string {
	b, _ := os.ReadFile(p.LogPath(proc))
	return string(b)
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func user(prefix string) string { return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()) }
