package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

var (
	created = fakes.Time("2026-03-01T09:00:00Z")
	now     = fakes.Time("2026-03-01T10:00:00Z")
)

type env struct {
	store  *fakes.Store
	held   *fakes.State
	pub    *fakes.Publisher
	clock  *fakes.Clock
	routes http.Handler
}

func newEnv(t *testing.T) *env {
	e := &env{store: fakes.NewStore(nil), pub: &fakes.Publisher{}, clock: fakes.NewClock(now)}
	e.held = fakes.NewState(e.clock)
	pending := state.Records{Store: state.New(e.held, "dedupe"), TTL: heldFor}
	h := &Handler{Tasks: e.store, Pending: pending, Events: e.pub, Log: fakes.Logger(t), Now: e.clock.Now}
	f := fakes.Function(t, "delete-task")
	serve(f, h)
	e.routes = f
	return e
}

func (e *env) seed(t *testing.T) task.Task {
	t.Helper()
	tk := task.Task{
		ID: "task-1", UserID: "user-1", Title: "Pay rent", Description: "before the 5th",
		Priority: task.PriorityHigh, Tags: []string{"home"},
		DueAt:     fakes.Ptr(fakes.Time("2026-03-05T12:00:00Z")),
		RemindAt:  fakes.Ptr(fakes.Time("2026-03-05T08:00:00Z")),
		CreatedAt: created, UpdatedAt: created,
	}
	require.NoError(t, e.store.Inner.Create(context.Background(), tk))
	return tk
}

func (e *env) delete(t *testing.T, user, id string) fakes.Response {
	t.Helper()
	return fakes.Do(t, e.routes, http.MethodDelete, "/users/"+user+"/tasks/"+id, nil)
}

func (e *env) exists(t *testing.T, user, id string) bool {
	t.Helper()
	_, _, err := e.store.Inner.Get(context.Background(), user, id)
	if errors.Is(err, taskstore.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	orig := e.seed(t)
	r := e.delete(t, "user-1", "task-1")
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	assert.Empty(t, r.Body)
	assert.False(t, e.exists(t, "user-1", "task-1"))

	pubs := e.pub.Published()
	require.Len(t, pubs, 1, "exactly one event")
	// The event carries the task as it was, stamped with the deletion time.
	want := orig
	want.UpdatedAt = now
	fakes.CheckTaskEvent(t, pubs[0], task.EventDeleted, want)
}

func TestDeleteThenGet(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	require.Equal(t, http.StatusNoContent, e.delete(t, "user-1", "task-1").Status)

	_, _, err := e.store.Get(context.Background(), "user-1", "task-1")
	assert.ErrorIs(t, err, taskstore.ErrNotFound)
	all, err := e.store.List(context.Background(), "user-1")
	require.NoError(t, err)
	assert.Empty(t, all)

	r := e.delete(t, "user-1", "task-1")
	require.Equal(t, http.StatusNotFound, r.Status, "deleting again: %s", r.Body)
	r.Problem(t)
	assert.Len(t, e.pub.Events(), 1, "no second event")
}

func TestDeleteNotFound(t *testing.T) {
	for _, tc := range []struct{ name, user, id string }{
		{"another user's task", "user-2", "task-1"},
		{"no such task", "user-1", "task-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.seed(t)
			r := e.delete(t, tc.user, tc.id)
			require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Body)
			r.Problem(t)
			assert.True(t, e.exists(t, "user-1", "task-1"), "the task is still there")
			assert.Empty(t, e.pub.Events())
		})
	}
}

func TestDeleteBadIDs(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	assert.Equal(t, []string{"task_id"}, e.delete(t, "user-1", "task%2F1").Fields(t))
	assert.Equal(t, []string{"user_id"}, e.delete(t, ".user", "task-1").Fields(t))
	assert.True(t, e.exists(t, "user-1", "task-1"))
	assert.Empty(t, e.pub.Events())
}

func TestDeleteRetriesAConflict(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	raced := false
	e.store.Before = func(op fakes.Op, userID, taskID string) error {
		if op != fakes.OpDelete || raced {
			return nil
		}
		raced = true // a concurrent rename
		cur, v, err := e.store.Inner.Get(context.Background(), userID, taskID)
		require.NoError(t, err)
		cur.Title = "renamed"
		return e.store.Inner.Update(context.Background(), cur, v)
	}
	r := e.delete(t, "user-1", "task-1")
	require.Equal(t, http.StatusNoContent, r.Status, "%s", r.Body)
	assert.Equal(t, 2, e.store.Calls(fakes.OpDelete))
	assert.False(t, e.exists(t, "user-1", "task-1"))
	pubs := e.pub.Published()
	require.Len(t, pubs, 1)
	assert.Equal(t, "renamed", fakes.DecodeTask(t, pubs[0].Event.Data()).Title, "the event carries the task as deleted")
}

func TestDeleteConflictGivesUp(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	for range taskstore.Reapply.Attempts {
		e.store.FailNext(fakes.OpDelete, taskstore.ErrConflict)
	}
	r := e.delete(t, "user-1", "task-1")
	require.Equal(t, http.StatusConflict, r.Status, "%s", r.Body)
	assert.True(t, e.exists(t, "user-1", "task-1"))
	assert.Empty(t, e.pub.Events())
}

func TestDeleteStoreFailure(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	e.store.FailNext(fakes.OpDelete, errors.New("down"))
	r := e.delete(t, "user-1", "task-1")
	require.Equal(t, http.StatusInternalServerError, r.Status, "%s", r.Body)
	assert.True(t, e.exists(t, "user-1", "task-1"))
	assert.Empty(t, e.pub.Events())
}

// A deletion stored but not announced answers 503; the caller's retry
// finds the task gone and announces the deletion held for it, with the
// event the first attempt meant to publish.
func TestDeletePublishFailure(t *testing.T) {
	e := newEnv(t)
	orig := e.seed(t)
	e.pub.FailNext(nil)
	r := e.delete(t, "user-1", "task-1")
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "stored but not announced: %s", r.Body)
	r.Problem(t)
	assert.Empty(t, e.pub.Events())
	assert.False(t, e.exists(t, "user-1", "task-1"))

	e.clock.Advance(time.Minute)
	r = e.delete(t, "user-1", "task-1")
	require.Equal(t, http.StatusNoContent, r.Status, "the retry announces it: %s", r.Body)
	pubs := e.pub.Published()
	require.Len(t, pubs, 1)
	want := orig
	want.UpdatedAt = now // the first attempt's deletion time: the same event
	fakes.CheckTaskEvent(t, pubs[0], task.EventDeleted, want)
	assert.Empty(t, e.held.Keys(), "nothing held once announced")

	r = e.delete(t, "user-1", "task-1")
	require.Equal(t, http.StatusNotFound, r.Status, "then it is gone: %s", r.Body)
	assert.Len(t, e.pub.Events(), 1)
}

func TestDeleteHoldFailure(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	e.held.Fail = func(op fakes.StateOp, _ string) error {
		if op == fakes.StateSave {
			return errors.New("dedupe store down")
		}
		return nil
	}
	r := e.delete(t, "user-1", "task-1")
	require.Equal(t, http.StatusInternalServerError, r.Status, "%s", r.Body)
	r.Problem(t)
	assert.True(t, e.exists(t, "user-1", "task-1"), "nothing deleted that could not be announced")
	assert.Empty(t, e.pub.Events())
}
