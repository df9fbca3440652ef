package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

var (
	created = fakes.Time("2026-01-01T08:00:00Z")
	now     = fakes.Time("2026-03-01T10:00:00Z")
)

type env struct {
	store  *fakes.Store
	pub    *fakes.Publisher
	clock  *fakes.Clock
	routes http.Handler
}

func newEnv(t *testing.T) *env {
	e := &env{store: fakes.NewStore(nil), pub: &fakes.Publisher{}, clock: fakes.NewClock(now)}
	h := &Handler{Tasks: e.store, Events: e.pub, Log: fakes.Logger(t), Now: e.clock.Now}
	f := fakes.Function(t, "complete-task")
	serve(f, h)
	e.routes = f
	return e
}

func (e *env) seed(t *testing.T, tk task.Task) task.Task {
	t.Helper()
	if tk.UserID == "" {
		tk.UserID = "user-1"
	}
	if tk.Priority == "" {
		tk.Priority = task.PriorityMedium
	}
	tk.CreatedAt, tk.UpdatedAt = created, created
	require.NoError(t, tk.Validate())
	require.NoError(t, e.store.Inner.Create(context.Background(), tk))
	return e.get(t, tk.UserID, tk.ID) // as stored: no tags is []
}

func (e *env) complete(t *testing.T, user, id string) fakes.Response {
	t.Helper()
	return fakes.Do(t, e.routes, http.MethodPost, "/users/"+user+"/tasks/"+id+"/complete", nil)
}

func (e *env) tasks(t *testing.T, user string) []task.Task {
	t.Helper()
	ts, err := e.store.Inner.List(context.Background(), user)
	require.NoError(t, err)
	return ts
}

func (e *env) get(t *testing.T, user, id string) task.Task {
	t.Helper()
	tk, _, err := e.store.Inner.Get(context.Background(), user, id)
	require.NoError(t, err)
	return tk
}

func TestComplete(t *testing.T) {
	e := newEnv(t)
	orig := e.seed(t, task.Task{ID: "task-1", Title: "Buy milk", Tags: []string{"home"}, RemindAt: fakes.Ptr(fakes.Time("2026-03-02T08:00:00Z"))})
	r := e.complete(t, "user-1", "task-1")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	want := orig
	want.Completed, want.CompletedAt, want.UpdatedAt = true, fakes.Ptr(now), now
	got := fakes.DecodeTask(t, r.Body)
	assert.Equal(t, want, got)
	assert.Equal(t, want, e.get(t, "user-1", "task-1"))
	assert.Len(t, e.tasks(t, "user-1"), 1, "a task that does not recur has no next occurrence")

	pubs := e.pub.Published()
	require.Len(t, pubs, 1, "exactly one event")
	fakes.CheckTaskEvent(t, pubs[0], task.EventCompleted, want)
	assert.JSONEq(t, string(r.Body), string(pubs[0].Event.Data()))
}

func TestCompleteTwice(t *testing.T) {
	e := newEnv(t)
	e.seed(t, task.Task{ID: "task-1", Title: "Buy milk"})
	first := e.complete(t, "user-1", "task-1")
	require.Equal(t, http.StatusOK, first.Status, "%s", first.Body)

	e.clock.Advance(time.Hour)
	second := e.complete(t, "user-1", "task-1")
	require.Equal(t, http.StatusOK, second.Status, "completing twice is not an error: %s", second.Body)
	assert.JSONEq(t, string(first.Body), string(second.Body), "the second completion changes nothing")
	assert.Equal(t, now, *e.get(t, "user-1", "task-1").CompletedAt, "completed_at stays the first completion's")
	evs := e.pub.Events()
	require.Len(t, evs, 2, "the completion is announced again")
	assert.Equal(t, evs[0].ID(), evs[1].ID(), "as the same event, which consumers act on once")
}

func TestCompleteRecurring(t *testing.T) {
	for _, tc := range []struct {
		name                string
		recurrence          task.Recurrence
		due, remind         string
		wantDue, wantRemind string
	}{
		{"daily", task.Recurrence{Frequency: task.Daily, Interval: 1},
			"2026-03-01T09:00:00Z", "2026-03-01T08:30:00Z", "2026-03-02T09:00:00Z", "2026-03-02T08:30:00Z"},
		{"every 3 days", task.Recurrence{Frequency: task.Daily, Interval: 3},
			"2026-03-01T09:00:00Z", "2026-02-28T09:00:00Z", "2026-03-04T09:00:00Z", "2026-03-03T09:00:00Z"},
		{"weekly", task.Recurrence{Frequency: task.Weekly, Interval: 1},
			"2026-03-01T09:00:00Z", "2026-03-01T09:00:00Z", "2026-03-08T09:00:00Z", "2026-03-08T09:00:00Z"},
		{"monthly clamps Jan 31 to Feb 28", task.Recurrence{Frequency: task.Monthly, Interval: 1},
			"2026-01-31T18:00:00Z", "2026-01-31T17:00:00Z", "2026-02-28T18:00:00Z", "2026-02-28T17:00:00Z"},
		{"monthly in a leap year", task.Recurrence{Frequency: task.Monthly, Interval: 1},
			"2028-01-31T18:00:00Z", "2028-01-30T18:00:00Z", "2028-02-29T18:00:00Z", "2028-02-28T18:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rec := tc.recurrence
			orig := e.seed(t, task.Task{
				ID: "task-1", Title: "Water plants", Description: "the big ones",
				Priority: task.PriorityHigh, Tags: []string{"home", "garden"},
				DueAt: fakes.Ptr(fakes.Time(tc.due)), RemindAt: fakes.Ptr(fakes.Time(tc.remind)),
				Recurrence: &rec,
			})
			r := e.complete(t, "user-1", "task-1")
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			done := fakes.DecodeTask(t, r.Body)
			assert.True(t, done.Completed)

			nextDue := fakes.Time(tc.wantDue)
			next := e.get(t, "user-1", task.NextID("task-1", nextDue))
			assert.Equal(t, task.Task{
				ID: task.NextID("task-1", nextDue), UserID: "user-1",
				Title: orig.Title, Description: orig.Description, Priority: orig.Priority, Tags: orig.Tags,
				DueAt: &nextDue, RemindAt: fakes.Ptr(fakes.Time(tc.wantRemind)),
				Recurrence: &rec, CreatedAt: now, UpdatedAt: now,
			}, next, "the next occurrence keeps the series and the reminder offset")
			assert.Len(t, e.tasks(t, "user-1"), 2)

			pubs := e.pub.Published()
			require.Len(t, pubs, 2, "the completion, and the creation of the next occurrence")
			fakes.CheckTaskEvent(t, pubs[0], task.EventCompleted, done)
			fakes.CheckTaskEvent(t, pubs[1], task.EventCreated, next)

			// Completing again creates no second occurrence; it announces
			// the same two events again (same ids: consumers act once).
			e.clock.Advance(time.Minute)
			r = e.complete(t, "user-1", "task-1")
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			assert.Len(t, e.tasks(t, "user-1"), 2, "no second occurrence")
			again := e.pub.Events()
			require.Len(t, again, 4)
			assert.Equal(t, []string{again[0].ID(), again[1].ID()}, []string{again[2].ID(), again[3].ID()})

			// The occurrence is a task like any other: completing it makes the next.
			r = e.complete(t, "user-1", next.ID)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			assert.Len(t, e.tasks(t, "user-1"), 3)
		})
	}
}

func TestCompleteRecurringWithoutReminder(t *testing.T) {
	e := newEnv(t)
	e.seed(t, task.Task{ID: "task-1", Title: "t", DueAt: fakes.Ptr(fakes.Time("2026-03-01T09:00:00Z")),
		Recurrence: &task.Recurrence{Frequency: task.Daily, Interval: 1}})
	require.Equal(t, http.StatusOK, e.complete(t, "user-1", "task-1").Status)
	next := e.get(t, "user-1", task.NextID("task-1", fakes.Time("2026-03-02T09:00:00Z")))
	assert.Nil(t, next.RemindAt)
}

func TestCompleteNotFound(t *testing.T) {
	for _, tc := range []struct{ name, user, id string }{
		{"another user's task", "user-2", "task-1"},
		{"no such task", "user-1", "task-9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			orig := e.seed(t, task.Task{ID: "task-1", Title: "t"})
			r := e.complete(t, tc.user, tc.id)
			require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Body)
			r.Problem(t)
			assert.Equal(t, orig, e.get(t, "user-1", "task-1"), "task unchanged")
			assert.Empty(t, e.tasks(t, "user-2"))
			assert.Empty(t, e.pub.Events())
		})
	}
}

func TestCompleteBadIDs(t *testing.T) {
	e := newEnv(t)
	r := e.complete(t, "user-1", "task:1..2")
	assert.Equal(t, []string{"task_id"}, r.Fields(t))
	r = e.complete(t, "us%24er", "task-1")
	assert.Equal(t, []string{"user_id"}, r.Fields(t))
	assert.Equal(t, 0, e.store.Calls(fakes.OpGet))
	assert.Empty(t, e.pub.Events())
}

func TestCompleteOnlyPost(t *testing.T) {
	e := newEnv(t)
	e.seed(t, task.Task{ID: "task-1", Title: "t"})
	r := fakes.Do(t, e.routes, http.MethodGet, "/users/user-1/tasks/task-1/complete", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.Status)
	assert.False(t, e.get(t, "user-1", "task-1").Completed)
}

func TestCompleteRetriesAConflict(t *testing.T) {
	e := newEnv(t)
	e.seed(t, task.Task{ID: "task-1", Title: "t", DueAt: fakes.Ptr(fakes.Time("2026-03-01T09:00:00Z")),
		Recurrence: &task.Recurrence{Frequency: task.Daily, Interval: 1}})
	raced := false
	e.store.Before = func(op fakes.Op, userID, taskID string) error {
		if op != fakes.OpComplete || raced {
			return nil
		}
		raced = true // a concurrent edit of the title
		cur, v, err := e.store.Inner.Get(context.Background(), userID, taskID)
		require.NoError(t, err)
		cur.Title = "renamed"
		return e.store.Inner.Update(context.Background(), cur, v)
	}
	r := e.complete(t, "user-1", "task-1")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, 2, e.store.Calls(fakes.OpComplete))
	done := fakes.DecodeTask(t, r.Body)
	assert.Equal(t, "renamed", done.Title, "completed the fresh task")
	assert.Len(t, e.tasks(t, "user-1"), 2, "one next occurrence")
	next := e.get(t, "user-1", task.NextID("task-1", fakes.Time("2026-03-02T09:00:00Z")))
	assert.Equal(t, "renamed", next.Title)
	pubs := e.pub.Published()
	require.Len(t, pubs, 2)
	fakes.CheckTaskEvent(t, pubs[0], task.EventCompleted, done)
	fakes.CheckTaskEvent(t, pubs[1], task.EventCreated, next)
}

func TestCompleteConflictGivesUp(t *testing.T) {
	e := newEnv(t)
	orig := e.seed(t, task.Task{ID: "task-1", Title: "t"})
	for range taskstore.Reapply.Attempts {
		e.store.FailNext(fakes.OpComplete, taskstore.ErrConflict)
	}
	r := e.complete(t, "user-1", "task-1")
	require.Equal(t, http.StatusConflict, r.Status, "%s", r.Body)
	assert.Equal(t, orig, e.get(t, "user-1", "task-1"))
	assert.Empty(t, e.pub.Events())
}

func TestCompleteStoreFailure(t *testing.T) {
	e := newEnv(t)
	orig := e.seed(t, task.Task{ID: "task-1", Title: "t"})
	e.store.FailNext(fakes.OpComplete, errors.New("down"))
	r := e.complete(t, "user-1", "task-1")
	require.Equal(t, http.StatusInternalServerError, r.Status, "%s", r.Body)
	assert.Equal(t, 1, e.store.Calls(fakes.OpComplete))
	assert.Equal(t, orig, e.get(t, "user-1", "task-1"))
	assert.Empty(t, e.pub.Events())
}

// A failed publish is answered 503, and the retry the caller then makes
// publishes what was lost, with the same event ids, without completing
// anything twice.
func TestCompletePublishFailure(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failType  string
		published int
	}{
		{"completion event", task.EventCompleted, 0},
		{"next occurrence's event", task.EventCreated, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t, task.Task{ID: "task-1", Title: "t", DueAt: fakes.Ptr(fakes.Time("2026-03-01T09:00:00Z")),
				Recurrence: &task.Recurrence{Frequency: task.Daily, Interval: 1}})
			e.pub.Fail = func(_ string, ev cloudevents.Event) error {
				if ev.Type() == tc.failType {
					return fakes.ErrInjected
				}
				return nil
			}
			r := e.complete(t, "user-1", "task-1")
			require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
			r.Problem(t)
			assert.Len(t, e.pub.Events(), tc.published)

			e.pub.Fail = nil
			e.clock.Advance(time.Minute)
			r = e.complete(t, "user-1", "task-1")
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			done := fakes.DecodeTask(t, r.Body)
			assert.Len(t, e.tasks(t, "user-1"), 2, "still one next occurrence")
			next := e.get(t, "user-1", task.NextID("task-1", fakes.Time("2026-03-02T09:00:00Z")))
			pubs := e.pub.Published()
			require.Len(t, pubs, tc.published+2, "the retry announces both")
			fakes.CheckTaskEvent(t, pubs[tc.published], task.EventCompleted, done)
			fakes.CheckTaskEvent(t, pubs[tc.published+1], task.EventCreated, next)
			if tc.published == 1 {
				assert.Equal(t, pubs[0].Event.ID(), pubs[1].Event.ID(), "the completion is announced with the same id")
			}
		})
	}
}
