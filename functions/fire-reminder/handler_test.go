package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
)

var (
	now      = fakes.Time("2026-03-01T10:00:00Z")
	remindAt = fakes.Time("2026-03-01T12:00:00Z")
)

// fakeJobs keeps jobs in memory, as the Dapr Jobs API would: one per name,
// scheduling a name again replaces it.
type fakeJobs struct {
	mu        sync.Mutex
	jobs      map[string]scheduledJob
	schedules int
	cancels   int
}

type scheduledJob struct {
	Job reminder.Job
	At  time.Time
}

func (f *fakeJobs) Schedule(_ context.Context, name string, j reminder.Job, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jobs == nil {
		f.jobs = map[string]scheduledJob{}
	}
	f.jobs[name] = scheduledJob{Job: j, At: at}
	f.schedules++
	return nil
}

func (f *fakeJobs) Cancel(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.jobs, name)
	f.cancels++
	return nil
}

func (f *fakeJobs) Get(_ context.Context, name string) (reminder.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[name]
	if !ok {
		return reminder.Job{}, ErrNoJob
	}
	return j.Job, nil
}

func (f *fakeJobs) get(name string) (scheduledJob, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[name]
	return j, ok
}

type env struct {
	h     *Handler
	store *fakes.Store
	jobs  *fakeJobs
	fired *fakes.State
	pub   *fakes.Publisher
	clock *fakes.Clock
}

func newEnv(t *testing.T) *env {
	e := &env{store: fakes.NewStore(nil), jobs: &fakeJobs{}, pub: &fakes.Publisher{}, clock: fakes.NewClock(now)}
	e.fired = fakes.NewState(e.clock)
	fired := state.Records{Store: state.New(e.fired, "dedupe"), TTL: firedTTL}
	e.h = &Handler{Tasks: e.store, Jobs: e.jobs, Fired: fired, Events: e.pub, Log: fakes.Logger(t), Now: e.clock.Now}
	return e
}

// seed stores a task of user-1 reminding at remind (none when zero).
func (e *env) seed(t *testing.T, id string, remind time.Time) task.Task {
	t.Helper()
	tk := task.Task{ID: id, UserID: "user-1", Title: "Call mom", Priority: task.PriorityMedium,
		DueAt: fakes.Ptr(fakes.Time("2026-03-01T18:00:00Z")), CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour)}
	if !remind.IsZero() {
		tk.RemindAt = &remind
	}
	require.NoError(t, e.store.Inner.Create(context.Background(), tk))
	return tk
}

// change updates the stored task with f.
func (e *env) change(t *testing.T, userID, id string, f func(*task.Task)) task.Task {
	t.Helper()
	cur, v, err := e.store.Inner.Get(context.Background(), userID, id)
	require.NoError(t, err)
	f(&cur)
	cur.UpdatedAt = e.clock.Now()
	require.NoError(t, e.store.Inner.Update(context.Background(), cur, v))
	return cur
}

func taskEvent(t *testing.T, eventType string, tk task.Task) cloudevents.Event {
	t.Helper()
	ev, err := taskapi.Event(eventType, tk)
	require.NoError(t, err)
	ev.SetSource("update-task")
	return ev
}

func jobData(t *testing.T, j reminder.Job) []byte {
	t.Helper()
	b, err := json.Marshal(j)
	require.NoError(t, err)
	return b
}

// checkDue checks that the only event published is the reminder of tk.
func (e *env) checkDue(t *testing.T, tk task.Task) {
	t.Helper()
	pubs := e.pub.Published()
	require.Len(t, pubs, 1, "exactly one reminder")
	p := pubs[0]
	assert.Equal(t, reminder.Topic, p.Topic)
	assert.Equal(t, reminder.EventDue, p.Event.Type())
	assert.Equal(t, tk.ID, p.Event.Subject())
	assert.Equal(t, tk.ID, p.Event.Extensions()[events.PartitionKeyExtension])
	due, ok := reminder.For(tk)
	require.True(t, ok)
	want, err := due.Event()
	require.NoError(t, err)
	assert.Equal(t, want.ID(), p.Event.ID(), "the id is the reminder's identity")
	assert.JSONEq(t, `{"task_id":"`+tk.ID+`","user_id":"`+tk.UserID+`","title":"`+tk.Title+`",
		"due_at":"`+tk.DueAt.UTC().Format(time.RFC3339Nano)+`","remind_at":"`+tk.RemindAt.UTC().Format(time.RFC3339Nano)+`"}`, string(p.Event.Data()))
	ttl, fired := e.fired.TTL(firedKey(due.ID()))
	assert.True(t, fired, "the reminder is recorded as fired")
	assert.Equal(t, firedTTL, ttl, "for as long as a replay or a sweep may come")
}

func TestTaskEventSchedulesJob(t *testing.T) {
	for _, eventType := range []string{task.EventCreated, task.EventUpdated} {
		t.Run(eventType, func(t *testing.T) {
			e := newEnv(t)
			tk := e.seed(t, "task-1", remindAt)
			require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, eventType, tk)))
			j, ok := e.jobs.get("reminder-task-1")
			require.True(t, ok, "a job was scheduled")
			assert.Equal(t, scheduledJob{Job: reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt}, At: remindAt}, j)
			assert.Empty(t, e.pub.Events(), "nothing fires before its time")

			// The same event again (a redelivery) changes nothing.
			require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, eventType, tk)))
			assert.Equal(t, 1, e.jobs.schedules)
		})
	}
}

func TestTaskEventWithOffsetSchedulesAtUTCInstant(t *testing.T) {
	e := newEnv(t)
	// The task as create-task makes it from "+05:00" input.
	tk, err := task.NewFromCreate("user-1", task.CreateInput{Title: "offset", RemindAt: fakes.Ptr("2026-03-01T17:00:00+05:00")}, "task-1", now)
	require.NoError(t, err)
	require.NoError(t, e.store.Inner.Create(context.Background(), tk))

	// An event whose data carries the offset is read the same way.
	ev := cloudevents.NewEvent()
	ev.SetID("ev-1")
	ev.SetSource("test")
	ev.SetType(task.EventCreated)
	require.NoError(t, ev.SetData(cloudevents.ApplicationJSON,
		[]byte(`{"id":"task-1","user_id":"user-1","title":"offset","remind_at":"2026-03-01T17:00:00+05:00"}`)))
	require.NoError(t, e.h.OnTaskEvent(context.Background(), ev))

	j, ok := e.jobs.get("reminder-task-1")
	require.True(t, ok)
	assert.True(t, j.At.Equal(remindAt), "at 12:00Z, got %s", j.At)
	assert.Equal(t, time.UTC, j.At.Location())
	assert.Equal(t, `"2026-03-01T12:00:00Z"`, mustJSON(t, j.Job.RemindAt), "the job's data is UTC")
}

func TestTaskEventReadsTheStoredTask(t *testing.T) {
	e := newEnv(t)
	tk := e.seed(t, "task-1", remindAt)
	stale := tk
	stale.RemindAt = fakes.Ptr(remindAt.Add(-time.Hour))
	require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventUpdated, stale)))
	j, ok := e.jobs.get("reminder-task-1")
	require.True(t, ok)
	assert.Equal(t, remindAt, j.At, "scheduled at the stored remind_at, not the event's")
}

func TestMovingRemindAtReschedules(t *testing.T) {
	e := newEnv(t)
	tk := e.seed(t, "task-1", remindAt)
	require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventCreated, tk)))

	moved := remindAt.Add(3 * time.Hour)
	tk = e.change(t, "user-1", "task-1", func(tk *task.Task) { tk.DueAt = fakes.Ptr(moved.Add(time.Hour)); tk.RemindAt = &moved })
	require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventUpdated, tk)))
	j, ok := e.jobs.get("reminder-task-1")
	require.True(t, ok)
	assert.Equal(t, scheduledJob{Job: reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: moved}, At: moved}, j)
	assert.Equal(t, 2, e.jobs.schedules)

	// The old job, should it still fire, finds its reminder stale.
	e.clock.Set(remindAt)
	require.NoError(t, e.h.OnJob(context.Background(), "reminder-task-1", jobData(t, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt})))
	assert.Empty(t, e.pub.Events(), "a stale job publishes nothing")

	// The new one fires.
	e.clock.Set(moved)
	require.NoError(t, e.h.OnJob(context.Background(), "reminder-task-1", jobData(t, j.Job)))
	e.checkDue(t, tk)
}

func TestTaskEventCancels(t *testing.T) {
	for _, tc := range []struct {
		name      string
		eventType string
		change    func(t *testing.T, e *env) task.Task
	}{
		{"completed", task.EventCompleted, func(t *testing.T, e *env) task.Task {
			return e.change(t, "user-1", "task-1", func(tk *task.Task) { tk.Completed, tk.CompletedAt = true, fakes.Ptr(now) })
		}},
		{"deleted", task.EventDeleted, func(t *testing.T, e *env) task.Task {
			tk, v, err := e.store.Inner.Get(context.Background(), "user-1", "task-1")
			require.NoError(t, err)
			require.NoError(t, e.store.Inner.Delete(context.Background(), "user-1", "task-1", v))
			return tk
		}},
		{"reminder cleared", task.EventUpdated, func(t *testing.T, e *env) task.Task {
			return e.change(t, "user-1", "task-1", func(tk *task.Task) { tk.RemindAt = nil })
		}},
		{"created event of a task deleted since", task.EventCreated, func(t *testing.T, e *env) task.Task {
			tk, v, err := e.store.Inner.Get(context.Background(), "user-1", "task-1")
			require.NoError(t, err)
			require.NoError(t, e.store.Inner.Delete(context.Background(), "user-1", "task-1", v))
			return tk
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tk := e.seed(t, "task-1", remindAt)
			require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventCreated, tk)))
			_, ok := e.jobs.get("reminder-task-1")
			require.True(t, ok)

			tk = tc.change(t, e)
			require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, tc.eventType, tk)))
			_, ok = e.jobs.get("reminder-task-1")
			assert.False(t, ok, "the job was cancelled")

			// Should the scheduler deliver it anyway, nothing is published.
			e.clock.Set(remindAt)
			require.NoError(t, e.h.OnJob(context.Background(), "reminder-task-1", jobData(t, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt})))
			assert.Empty(t, e.pub.Events())
		})
	}
}

func TestCreatedWithoutReminderTouchesNoJob(t *testing.T) {
	e := newEnv(t)
	tk := e.seed(t, "task-1", time.Time{})
	require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventCreated, tk)))
	assert.Zero(t, e.jobs.schedules+e.jobs.cancels, "no call to the scheduler")

	// Its later update still cancels, as the task may have had a reminder.
	require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventUpdated, tk)))
	assert.Equal(t, 1, e.jobs.cancels)
}

func TestTaskEventOfOverdueReminderFiresNow(t *testing.T) {
	e := newEnv(t)
	past := now.Add(-time.Minute)
	tk := e.seed(t, "task-1", past)
	require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventCreated, tk)))
	e.checkDue(t, tk)
	assert.Zero(t, e.jobs.schedules)

	// A redelivered event does not fire it again.
	require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventCreated, tk)))
	assert.Len(t, e.pub.Events(), 1)
}

func TestTaskEventIgnoresOtherTypes(t *testing.T) {
	e := newEnv(t)
	tk := e.seed(t, "task-1", remindAt)
	require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventOverdue, tk)))
	assert.Zero(t, e.store.Calls(fakes.OpGet))
	assert.Zero(t, e.jobs.schedules)
}

func TestTaskEventMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
	}{
		{"not JSON", `{"id":`},
		{"wrong types", `{"id":5,"user_id":"user-1"}`},
		{"no data", ``},
		{"no ids", `{"title":"x"}`},
		{"invalid task id", `{"id":"../x","user_id":"user-1"}`},
		{"invalid user id", `{"id":"task-1","user_id":"a b"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ev := cloudevents.NewEvent()
			ev.SetID("ev-1")
			ev.SetSource("test")
			ev.SetType(task.EventUpdated)
			if tc.data != "" {
				require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, []byte(tc.data)))
			}
			err := e.h.OnTaskEvent(context.Background(), ev)
			require.Error(t, err)
			assert.True(t, fn.IsPermanent(err), "malformed data is not retried: %v", err)
			assert.Zero(t, e.jobs.schedules+e.jobs.cancels)
			assert.Empty(t, e.pub.Events())
		})
	}
}

func TestTaskEventStoreFailureIsRetried(t *testing.T) {
	e := newEnv(t)
	tk := e.seed(t, "task-1", remindAt)
	e.store.FailNext(fakes.OpGet, nil)
	err := e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventCreated, tk))
	require.Error(t, err)
	assert.False(t, fn.IsPermanent(err))
	require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventCreated, tk)))
	assert.Equal(t, 1, e.jobs.schedules)
}

func TestJobFires(t *testing.T) {
	e := newEnv(t)
	tk := e.seed(t, "task-1", remindAt)
	e.clock.Set(remindAt.Add(20 * time.Millisecond))
	require.NoError(t, e.h.OnJob(context.Background(), "reminder-task-1", jobData(t, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt})))
	e.checkDue(t, tk)
}

func TestJobPublishesNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, e *env)
		job    reminder.Job
	}{
		{"stale remind_at", nil, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt.Add(-time.Hour)}},
		{"completed task", func(t *testing.T, e *env) {
			e.change(t, "user-1", "task-1", func(tk *task.Task) { tk.Completed, tk.CompletedAt = true, fakes.Ptr(now) })
		}, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt}},
		{"reminder cleared", func(t *testing.T, e *env) {
			e.change(t, "user-1", "task-1", func(tk *task.Task) { tk.RemindAt = nil })
		}, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt}},
		{"deleted task", nil, reminder.Job{UserID: "user-1", TaskID: "task-9", RemindAt: remindAt}},
		{"another user's task", nil, reminder.Job{UserID: "user-2", TaskID: "task-1", RemindAt: remindAt}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, "task-1", remindAt)
			if tc.change != nil {
				tc.change(t, e)
			}
			e.clock.Set(remindAt)
			require.NoError(t, e.h.OnJob(context.Background(), "reminder-"+tc.job.TaskID, jobData(t, tc.job)), "acknowledged, not retried")
			assert.Empty(t, e.pub.Events())
		})
	}
}

func TestJobAlreadyFiredDoesNotRefire(t *testing.T) {
	e := newEnv(t)
	tk := e.seed(t, "task-1", remindAt)
	e.clock.Set(remindAt)
	data := jobData(t, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt})
	require.NoError(t, e.h.OnJob(context.Background(), "reminder-task-1", data))
	e.checkDue(t, tk)
	// The scheduler delivers the job again (a retry after a lost answer).
	require.NoError(t, e.h.OnJob(context.Background(), "reminder-task-1", data))
	assert.Len(t, e.pub.Events(), 1, "a fired reminder does not fire again")
}

func TestJobFiringEarlyWaits(t *testing.T) {
	e := newEnv(t)
	tk := e.seed(t, "task-1", remindAt)
	const early = 150 * time.Millisecond
	e.clock.Set(remindAt.Add(-early))
	start := time.Now()
	require.NoError(t, e.h.OnJob(context.Background(), "reminder-task-1", jobData(t, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt})))
	assert.GreaterOrEqual(t, time.Since(start), early, "waited for the instant asked for")
	e.checkDue(t, tk)
}

func TestJobFiringFarTooEarlyIsRetried(t *testing.T) {
	e := newEnv(t)
	e.seed(t, "task-1", remindAt)
	e.clock.Set(remindAt.Add(-time.Minute))
	start := time.Now()
	err := e.h.OnJob(context.Background(), "reminder-task-1", jobData(t, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt}))
	require.Error(t, err)
	assert.False(t, fn.IsPermanent(err), "the scheduler retries it")
	assert.Less(t, time.Since(start), time.Second, "it does not wait a minute")
	assert.Empty(t, e.pub.Events())
}

func TestJobWaitEndsWithContext(t *testing.T) {
	e := newEnv(t)
	e.seed(t, "task-1", remindAt)
	e.clock.Set(remindAt.Add(-4 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := e.h.OnJob(ctx, "reminder-task-1", jobData(t, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt}))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Empty(t, e.pub.Events())
}

func TestJobMalformed(t *testing.T) {
	e := newEnv(t)
	err := e.h.OnJob(context.Background(), "reminder-task-1", []byte(`{"user_id":`))
	require.Error(t, err)
	assert.True(t, fn.IsPermanent(err))
	err = e.h.OnJob(context.Background(), "reminder-task-1", []byte(`{"remind_at":"tomorrow"}`))
	assert.True(t, fn.IsPermanent(err))
}

func TestJobPublishFailureIsRetried(t *testing.T) {
	e := newEnv(t)
	tk := e.seed(t, "task-1", remindAt)
	e.clock.Set(remindAt)
	data := jobData(t, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt})
	e.pub.FailNext(nil)
	err := e.h.OnJob(context.Background(), "reminder-task-1", data)
	require.Error(t, err)
	assert.False(t, fn.IsPermanent(err))
	assert.Empty(t, e.fired.Keys(), "not recorded as fired")
	require.NoError(t, e.h.OnJob(context.Background(), "reminder-task-1", data))
	e.checkDue(t, tk)
}

func TestJobStoreFailureIsRetried(t *testing.T) {
	e := newEnv(t)
	e.seed(t, "task-1", remindAt)
	e.store.FailNext(fakes.OpGet, nil)
	err := e.h.OnJob(context.Background(), "reminder-task-1", jobData(t, reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt}))
	require.Error(t, err)
	assert.False(t, fn.IsPermanent(err))
}

func (e *env) reconcile(t *testing.T, body any, headers ...string) fakes.Response {
	t.Helper()
	f := fakes.Function(t, "fire-reminder")
	serve(f, e.h)
	return fakes.Do(t, f, http.MethodPost, "/reconcile", body, headers...)
}

func TestReconcile(t *testing.T) {
	e := newEnv(t)
	due := e.seed(t, "due", now.Add(-10*time.Minute)) // due, never fired: its job was lost
	e.seed(t, "ahead", remindAt)                      // ahead, no job: scheduled
	e.seed(t, "none", time.Time{})                    // no reminder: cancelled
	e.seed(t, "done", now.Add(-5*time.Minute))
	e.change(t, "user-1", "done", func(tk *task.Task) { tk.Completed, tk.CompletedAt = true, fakes.Ptr(now) })

	r := e.reconcile(t, reminder.Reconcile{UserID: "user-1", TaskIDs: []string{"due", "ahead", "none", "done", "gone"}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var res reminder.ReconcileResult
	r.JSON(t, &res)
	assert.Equal(t, reminder.ReconcileResult{Checked: 5, Scheduled: 1, Fired: 1, Cancelled: 3}, res)
	e.checkDue(t, due)
	j, ok := e.jobs.get("reminder-ahead")
	require.True(t, ok)
	assert.Equal(t, remindAt, j.At)

	// Reconciling again fires nothing twice and schedules nothing again.
	r = e.reconcile(t, reminder.Reconcile{UserID: "user-1", TaskIDs: []string{"due", "ahead"}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	res = reminder.ReconcileResult{}
	r.JSON(t, &res)
	assert.Equal(t, reminder.ReconcileResult{Checked: 2, AlreadyDone: 1}, res)
	assert.Len(t, e.pub.Events(), 1, "a fired reminder does not refire")
	assert.Equal(t, 1, e.jobs.schedules)

	// Nor does its job, should it arrive late.
	require.NoError(t, e.h.OnJob(context.Background(), "reminder-due", jobData(t, reminder.Job{UserID: "user-1", TaskID: "due", RemindAt: *due.RemindAt})))
	assert.Len(t, e.pub.Events(), 1)
}

func TestReconcileIsPerUser(t *testing.T) {
	e := newEnv(t)
	tk := e.seed(t, "task-1", remindAt)
	require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventCreated, tk)))
	e.seed(t, "overdue", now.Add(-time.Minute))

	r := e.reconcile(t, reminder.Reconcile{UserID: "user-2", TaskIDs: []string{"task-1", "overdue"}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Empty(t, e.pub.Events(), "another user's due reminder is not fired")
	_, ok := e.jobs.get("reminder-task-1")
	assert.True(t, ok, "another user's job is not cancelled")

	// An event naming the wrong user leaves the job alone too.
	other := tk
	other.UserID = "user-2"
	require.NoError(t, e.h.OnTaskEvent(context.Background(), taskEvent(t, task.EventDeleted, other)))
	_, ok = e.jobs.get("reminder-task-1")
	assert.True(t, ok)
}

func TestReconcileRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		headers []string
		status  int
		field   string
	}{
		{"bad user", `{"user_id":"a/b","task_ids":["due"]}`, nil, http.StatusBadRequest, "user_id"},
		{"no user", `{"task_ids":["due"]}`, nil, http.StatusBadRequest, "user_id"},
		{"bad task id after a good one", `{"user_id":"user-1","task_ids":["due","bad id"]}`, nil, http.StatusBadRequest, "task_ids[1]"},
		{"unknown field", `{"user_id":"user-1","tasks":["due"]}`, nil, http.StatusBadRequest, "tasks"},
		{"not JSON", `{"user_id":`, nil, http.StatusBadRequest, ""},
		{"text/plain", `{"user_id":"user-1","task_ids":["due"]}`, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, ""},
		{"too large", `{"user_id":"user-1","task_ids":["` + strings.Repeat("x", 1<<20) + `"]}`, nil, http.StatusRequestEntityTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, "due", now.Add(-time.Minute))
			r := e.reconcile(t, tc.body, tc.headers...)
			require.Equal(t, tc.status, r.Status, "%s", r.Body)
			p := r.Problem(t)
			if tc.field != "" {
				require.Len(t, p.Errors, 1)
				assert.Equal(t, tc.field, p.Errors[0].Field)
			}
			assert.Empty(t, e.pub.Events(), "nothing fired")
			assert.Zero(t, e.jobs.schedules+e.jobs.cancels, "no job touched")
		})
	}
}

func TestReconcileStoreFailure(t *testing.T) {
	e := newEnv(t)
	e.seed(t, "due", now.Add(-time.Minute))
	e.store.FailNext(fakes.OpGet, errors.New("down"))
	r := e.reconcile(t, reminder.Reconcile{UserID: "user-1", TaskIDs: []string{"due"}})
	require.Equal(t, http.StatusInternalServerError, r.Status, "%s", r.Body)
	assert.Empty(t, e.pub.Events())
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
