package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/metrics"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

var now = fakes.Time("2026-03-02T12:00:00Z")

// fakeReconciler records what it is asked and fails for the users in fail.
type fakeReconciler struct {
	mu   sync.Mutex
	reqs []reminder.Reconcile
	fail map[string]error
}

func (f *fakeReconciler) Reconcile(_ context.Context, req reminder.Reconcile) (reminder.ReconcileResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if err := f.fail[req.UserID]; err != nil {
		return reminder.ReconcileResult{}, err
	}
	return reminder.ReconcileResult{Checked: len(req.TaskIDs)}, nil
}

func (f *fakeReconciler) requests() map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]string{}
	for _, r := range f.reqs {
		out[r.UserID] = append(out[r.UserID], r.TaskIDs...)
	}
	return out
}

// fakeProgress holds the last complete run's start.
type fakeProgress struct {
	last time.Time
	fail error
}

func (f *fakeProgress) Last(context.Context) (time.Time, error) { return f.last, f.fail }

func (f *fakeProgress) Save(_ context.Context, at time.Time) error {
	f.last = at
	return nil
}

type env struct {
	h        *Handler
	store    *fakes.Store
	rec      *fakeReconciler
	marks    *fakes.State
	progress *fakeProgress
	pub      *fakes.Publisher
	clock    *fakes.Clock
}

func newEnv(t *testing.T) *env {
	e := &env{rec: &fakeReconciler{}, progress: &fakeProgress{}, pub: &fakes.Publisher{}, clock: fakes.NewClock(now)}
	e.marks = fakes.NewState(e.clock)
	e.store = fakes.NewStore(fakes.NewTasks(e.clock))
	marks := state.Records{Store: state.New(e.marks, "dedupe"), TTL: overdueMarked}
	e.h = &Handler{Tasks: e.store, Reconciler: e.rec, Marks: marks, Progress: e.progress, Events: e.pub,
		Log: fakes.Logger(t), Now: e.clock.Now}
	return e
}

type opt func(*task.Task)

func due(d time.Duration) opt    { return func(t *task.Task) { t.DueAt = fakes.Ptr(now.Add(d)) } }
func remind(d time.Duration) opt { return func(t *task.Task) { t.RemindAt = fakes.Ptr(now.Add(d)) } }
func completed(t *task.Task)     { t.Completed, t.CompletedAt = true, fakes.Ptr(now.Add(-time.Minute)) }

func (e *env) add(t *testing.T, user, id string, opts ...opt) task.Task {
	t.Helper()
	tk := task.Task{ID: id, UserID: user, Title: "task " + id, Priority: task.PriorityMedium,
		CreatedAt: now.Add(-72 * time.Hour), UpdatedAt: now.Add(-72 * time.Hour)}
	for _, o := range opts {
		o(&tk)
	}
	require.NoError(t, e.store.Inner.Create(context.Background(), tk))
	stored, _, err := e.store.Inner.Get(context.Background(), user, id)
	require.NoError(t, err)
	return stored
}

func TestSweepAnnouncesOverdueOnce(t *testing.T) {
	e := newEnv(t)
	overdue := e.add(t, "user-1", "overdue", due(-time.Hour))
	e.add(t, "user-1", "ahead", due(time.Hour))
	e.add(t, "user-1", "long-ago", due(-25*time.Hour))
	e.add(t, "user-1", "done", due(-time.Hour), completed)
	e.add(t, "user-1", "undated")
	other := e.add(t, "user-2", "theirs", due(-time.Minute))

	require.NoError(t, e.h.Sweep(context.Background()))
	pubs := e.pub.Published()
	require.Len(t, pubs, 2, "one overdue event per overdue task")
	byID := map[string]fakes.Published{}
	for _, p := range pubs {
		byID[p.Event.Subject()] = p
	}
	fakes.CheckTaskEvent(t, byID["overdue"], task.EventOverdue, overdue)
	fakes.CheckTaskEvent(t, byID["theirs"], task.EventOverdue, other)
	require.Len(t, e.marks.Keys(), 2)
	for _, k := range e.marks.Keys() {
		ttl, ok := e.marks.TTL(k)
		assert.True(t, ok)
		assert.GreaterOrEqual(t, ttl, lookback, "the mark outlives the window it guards")
	}

	// The next sweeps announce nothing again.
	e.clock.Advance(time.Minute)
	require.NoError(t, e.h.Sweep(context.Background()))
	e.clock.Advance(30 * time.Minute)
	require.NoError(t, e.h.Sweep(context.Background()))
	assert.Len(t, e.pub.Events(), 2)

	// A task that falls due later is announced when it does.
	e.clock.Advance(time.Hour)
	require.NoError(t, e.h.Sweep(context.Background()))
	require.Len(t, e.pub.Events(), 3)
	assert.Equal(t, "ahead", e.pub.Events()[2].Subject())
}

func TestSweepAnnouncesAgainAfterDueMoves(t *testing.T) {
	e := newEnv(t)
	e.add(t, "user-1", "t", due(-2*time.Hour))
	require.NoError(t, e.h.Sweep(context.Background()))
	require.Len(t, e.pub.Events(), 1)

	cur, v, err := e.store.Inner.Get(context.Background(), "user-1", "t")
	require.NoError(t, err)
	cur.DueAt, cur.UpdatedAt = fakes.Ptr(now.Add(-time.Hour)), now.Add(-90*time.Minute)
	require.NoError(t, e.store.Inner.Update(context.Background(), cur, v))
	require.NoError(t, e.h.Sweep(context.Background()))
	assert.Len(t, e.pub.Events(), 2, "overdue at a new due time is news")
}

func TestSweepReconcilesPendingRemindersWithinLookback(t *testing.T) {
	e := newEnv(t)
	e.add(t, "user-1", "missed", remind(-time.Hour))                             // due, maybe never fired
	e.add(t, "user-1", "ahead", remind(ahead-time.Second), due(4*time.Hour))     // its job may be missing
	e.add(t, "user-1", "later", remind(ahead), due(4*time.Hour))                 // a later run's
	e.add(t, "user-1", "next-week", remind(7*24*time.Hour), due(8*24*time.Hour)) // a later run's
	e.add(t, "user-1", "just-in", remind(-lookback+time.Minute))
	e.add(t, "user-1", "too-old", remind(-lookback-time.Minute))
	e.add(t, "user-1", "edge", remind(-lookback))
	e.add(t, "user-1", "done", remind(-time.Hour), completed)
	e.add(t, "user-1", "no-reminder", due(2*time.Hour))
	e.add(t, "user-2", "theirs", remind(time.Minute))
	e.add(t, "user-3", "nothing-to-do", due(time.Minute)) // no reminders: not called

	require.NoError(t, e.h.Sweep(context.Background()))
	got := e.rec.requests()
	assert.ElementsMatch(t, []string{"missed", "ahead", "just-in"}, got["user-1"])
	assert.Equal(t, []string{"theirs"}, got["user-2"])
	assert.NotContains(t, got, "user-3", "no reconcile for a user without pending reminders")
	assert.Len(t, e.rec.reqs, 2, "one request per user")
}

func TestSweepOneUserFailingDoesNotStopOthers(t *testing.T) {
	e := newEnv(t)
	for _, u := range []string{"user-a", "user-b", "user-c", "user-d"} {
		e.add(t, u, "t-"+u, due(-time.Hour), remind(-2*time.Hour))
	}
	e.rec.fail = map[string]error{"user-b": errors.New("fire-reminder unavailable"), "user-c": errors.New("state store timeout")}

	err := e.h.Sweep(context.Background())
	require.Error(t, err, "the sweep reports the failures")
	assert.Contains(t, err.Error(), "user user-b")
	assert.Contains(t, err.Error(), "user user-c")
	assert.NotContains(t, err.Error(), "user-a:")
	assert.True(t, e.progress.last.IsZero(), "a run with failures does not record progress")

	got := e.rec.requests()
	assert.Equal(t, []string{"t-user-a"}, got["user-a"])
	assert.Equal(t, []string{"t-user-d"}, got["user-d"], "users after a failing one are swept")
	assert.Len(t, e.pub.Events(), 4, "overdue announced for every user")

	// The next run covers the same times again, and announces nothing twice.
	e.rec.fail, e.rec.reqs = nil, nil
	e.clock.Advance(time.Minute)
	require.NoError(t, e.h.Sweep(context.Background()))
	assert.Len(t, e.pub.Events(), 4)
	got = e.rec.requests()
	assert.Equal(t, []string{"t-user-b"}, got["user-b"])
	assert.Equal(t, []string{"t-user-c"}, got["user-c"])
	assert.Equal(t, now.Add(time.Minute), e.progress.last)
}

func TestSweepCoversOnlyTheTimesSinceItsPreviousRun(t *testing.T) {
	e := newEnv(t)
	e.add(t, "user-1", "old", remind(-3*time.Hour), due(-2*time.Hour))
	require.NoError(t, e.h.Sweep(context.Background()))
	require.Len(t, e.rec.reqs, 1, "the first run looks back a whole lookback")
	require.Len(t, e.pub.Events(), 1)

	// It was filed under the minute it was written: the run after covers
	// that minute still, the one after that no more.
	e.clock.Advance(2 * overlap)
	require.NoError(t, e.h.Sweep(context.Background()))
	e.rec.reqs = nil
	e.clock.Advance(2 * overlap)
	fresh := e.add(t, "user-1", "fresh", remind(4*overlap+time.Minute), due(4*overlap+2*time.Minute))
	e.clock.Advance(3 * time.Minute)
	require.NoError(t, e.h.Sweep(context.Background()))
	assert.Equal(t, map[string][]string{"user-1": {"fresh"}}, e.rec.requests(),
		"a later run reads from its previous run less the overlap, not the whole lookback")
	require.Len(t, e.pub.Published(), 2)
	fakes.CheckTaskEvent(t, e.pub.Published()[1], task.EventOverdue, fresh)
}

func TestSweepAgendaFailure(t *testing.T) {
	e := newEnv(t)
	e.add(t, "user-1", "t", due(-time.Hour))
	e.store.FailNext(fakes.OpAgenda, nil)
	assert.Error(t, e.h.Sweep(context.Background()))
	assert.Empty(t, e.pub.Events())
	assert.Empty(t, e.rec.reqs)
	assert.True(t, e.progress.last.IsZero())
}

func TestSweepProgressFailure(t *testing.T) {
	e := newEnv(t)
	e.add(t, "user-1", "t", due(-time.Hour))
	e.progress.fail = errors.New("state store down")
	failed := testutil.ToFloat64(metrics.SweepRuns.WithLabelValues("failed"))
	assert.Error(t, e.h.Sweep(context.Background()))
	assert.Empty(t, e.pub.Events(), "nothing is announced without knowing the window")
	assert.Equal(t, failed+1, testutil.ToFloat64(metrics.SweepRuns.WithLabelValues("failed")), "the run counts as failed")
}

func TestSweepOverduePublishFailureIsRetriedNextRun(t *testing.T) {
	e := newEnv(t)
	tk := e.add(t, "user-1", "t", due(-time.Hour))
	e.pub.FailNext(nil)
	require.Error(t, e.h.Sweep(context.Background()))
	assert.Empty(t, e.pub.Events())

	e.clock.Advance(time.Minute)
	require.NoError(t, e.h.Sweep(context.Background()))
	pubs := e.pub.Published()
	require.Len(t, pubs, 1, "the overdue event the failed run lost goes out on the next")
	fakes.CheckTaskEvent(t, pubs[0], task.EventOverdue, tk)
}

func TestSweepMarksFailure(t *testing.T) {
	e := newEnv(t)
	e.add(t, "user-1", "t", due(-time.Hour))
	e.marks.Fail = func(fakes.StateOp, string) error { return errors.New("dedupe store down") }
	require.Error(t, e.h.Sweep(context.Background()))
	assert.Empty(t, e.pub.Events(), "not announced without a mark: it could be announced twice")
}

func TestSweepUnmarkFailureIsLogged(t *testing.T) {
	e := newEnv(t)
	e.add(t, "user-1", "t", due(-time.Hour))
	e.marks.Fail = func(op fakes.StateOp, _ string) error {
		if op == fakes.StateDelete {
			return errors.New("dedupe store down")
		}
		return nil
	}
	e.pub.FailNext(nil)
	require.Error(t, e.h.Sweep(context.Background()))
	assert.Empty(t, e.pub.Events())
}

// invokeClient answers Dapr service invocation with answer.
type invokeClient struct {
	dapr.Client
	appID, method, verb, contentType string
	body                             []byte
	answer                           []byte
	err                              error
}

func (c *invokeClient) InvokeMethodWithContent(_ context.Context, appID, method, verb string, content *dapr.DataContent) ([]byte, error) {
	c.appID, c.method, c.verb, c.contentType, c.body = appID, method, verb, content.ContentType, content.Data
	return c.answer, c.err
}

func TestInvoker(t *testing.T) {
	c := &invokeClient{answer: []byte(`{"checked":2,"scheduled":1,"fired":1,"cancelled":0,"already_done":0}`)}
	res, err := Invoker{Client: c, AppID: "fire-reminder"}.Reconcile(context.Background(),
		reminder.Reconcile{UserID: "user-1", TaskIDs: []string{"a", "b"}})
	require.NoError(t, err)
	assert.Equal(t, reminder.ReconcileResult{Checked: 2, Scheduled: 1, Fired: 1}, res)
	assert.Equal(t, "fire-reminder", c.appID)
	assert.Equal(t, "reconcile", c.method, "fire-reminder serves POST /reconcile")
	assert.Equal(t, "post", c.verb)
	assert.Equal(t, "application/json", c.contentType)
	assert.JSONEq(t, `{"user_id":"user-1","task_ids":["a","b"]}`, string(c.body))

	c.err = errors.New("unavailable")
	_, err = Invoker{Client: c, AppID: "fire-reminder"}.Reconcile(context.Background(), reminder.Reconcile{UserID: "user-1"})
	assert.ErrorContains(t, err, "fire-reminder/reconcile")

	c.err, c.answer = nil, []byte(`<html>`)
	_, err = Invoker{Client: c, AppID: "fire-reminder"}.Reconcile(context.Background(), reminder.Reconcile{UserID: "user-1"})
	assert.Error(t, err, "an answer that is not a result is an error")
}
