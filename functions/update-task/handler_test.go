package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	pub    *fakes.Publisher
	clock  *fakes.Clock
	routes http.Handler
}

func newEnv(t *testing.T) *env {
	e := &env{store: fakes.NewStore(nil), pub: &fakes.Publisher{}, clock: fakes.NewClock(now)}
	h := &Handler{Tasks: e.store, Events: e.pub, Log: fakes.Logger(t), Now: e.clock.Now}
	f := fakes.Function(t, "update-task")
	serve(f, h)
	e.routes = f
	return e
}

// seed stores a full task of user-1 and returns it.
func (e *env) seed(t *testing.T) task.Task {
	t.Helper()
	tk := task.Task{
		ID: "task-1", UserID: "user-1", Title: "Pay rent", Description: "before the 5th",
		Priority: task.PriorityHigh, Tags: []string{"home", "bills"},
		DueAt:      fakes.Ptr(fakes.Time("2026-03-05T12:00:00Z")),
		RemindAt:   fakes.Ptr(fakes.Time("2026-03-05T08:00:00Z")),
		Recurrence: &task.Recurrence{Frequency: task.Monthly, Interval: 1},
		CreatedAt:  created, UpdatedAt: created,
	}
	require.NoError(t, tk.Validate())
	require.NoError(t, e.store.Inner.Create(context.Background(), tk))
	return tk
}

func (e *env) patch(t *testing.T, user, id string, body any, headers ...string) fakes.Response {
	t.Helper()
	return fakes.Do(t, e.routes, http.MethodPatch, "/users/"+user+"/tasks/"+id, body,
		append([]string{"Content-Type", "application/merge-patch+json"}, headers...)...)
}

func (e *env) get(t *testing.T, user, id string) (task.Task, taskstore.Version) {
	t.Helper()
	tk, v, err := e.store.Inner.Get(context.Background(), user, id)
	require.NoError(t, err)
	return tk, v
}

// unchanged checks that a failed request changed and published nothing.
func (e *env) unchanged(t *testing.T, want task.Task, wantV taskstore.Version) {
	t.Helper()
	got, v := e.get(t, want.UserID, want.ID)
	assert.Equal(t, want, got, "task unchanged")
	assert.Equal(t, wantV, v, "task not rewritten")
	assert.Empty(t, e.pub.Events(), "nothing published")
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	orig := e.seed(t)
	r := e.patch(t, "user-1", "task-1", `{"title":" Pay the rent ","priority":"low","tags":["Money"],"remind_at":"2026-03-05T10:00:00+01:00"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	want := orig
	want.Title, want.Priority, want.Tags = "Pay the rent", task.PriorityLow, []string{"money"}
	want.RemindAt = fakes.Ptr(fakes.Time("2026-03-05T09:00:00Z"))
	want.UpdatedAt = now
	got := fakes.DecodeTask(t, r.Body)
	assert.Equal(t, want, got)
	stored, _ := e.get(t, "user-1", "task-1")
	assert.Equal(t, want, stored)

	pubs := e.pub.Published()
	require.Len(t, pubs, 1, "exactly one event")
	fakes.CheckTaskEvent(t, pubs[0], task.EventUpdated, want)
	assert.JSONEq(t, string(r.Body), string(pubs[0].Event.Data()))
}

func TestUpdateAcceptsApplicationJSON(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	r := e.patch(t, "user-1", "task-1", `{"description":"x"}`, "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, "x", fakes.DecodeTask(t, r.Body).Description)
}

func TestUpdateNullClears(t *testing.T) {
	e := newEnv(t)
	orig := e.seed(t)
	r := e.patch(t, "user-1", "task-1", `{"description":null,"tags":null,"due_at":null,"remind_at":null,"recurrence":null}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	want := orig
	want.Description, want.Tags, want.DueAt, want.RemindAt, want.Recurrence = "", []string{}, nil, nil, nil // tags marshal as []
	want.UpdatedAt = now
	assert.Equal(t, want, fakes.DecodeTask(t, r.Body))
	assert.JSONEq(t, `[]`, jsonField(t, r.Body, "tags"))
	assert.JSONEq(t, `null`, jsonField(t, r.Body, "due_at"))
	stored, _ := e.get(t, "user-1", "task-1")
	assert.Equal(t, want, stored)
	require.Len(t, e.pub.Published(), 1)
	fakes.CheckTaskEvent(t, e.pub.Published()[0], task.EventUpdated, want)
}

func TestUpdateRecurrenceMerges(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	r := e.patch(t, "user-1", "task-1", `{"recurrence":{"interval":2}}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, &task.Recurrence{Frequency: task.Monthly, Interval: 2}, fakes.DecodeTask(t, r.Body).Recurrence)
}

func TestUpdateInvalidFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		fields []string
	}{
		{"title cleared", `{"title":null}`, []string{"title"}},
		{"title blank", `{"title":"  "}`, []string{"title"}},
		{"title too long", `{"title":"` + strings.Repeat("x", task.MaxTitle+1) + `"}`, []string{"title"}},
		{"title not a string", `{"title":1}`, []string{"title"}},
		{"description too long", `{"description":"` + strings.Repeat("x", task.MaxDescription+1) + `"}`, []string{"description"}},
		{"priority cleared", `{"priority":null}`, []string{"priority"}},
		{"priority unknown", `{"priority":"urgent"}`, []string{"priority"}},
		{"tags not an array", `{"tags":"a"}`, []string{"tags"}},
		{"tag not a string", `{"tags":["a",1]}`, []string{"tags[1]"}},
		{"tag repeated", `{"tags":["a","A"]}`, []string{"tags"}},
		{"due_at without offset", `{"due_at":"2026-03-05T12:00:00"}`, []string{"due_at"}},
		{"due_at cleared under a recurrence", `{"due_at":null}`, []string{"recurrence"}},
		{"due_at before remind_at", `{"due_at":"2026-03-05T07:00:00Z"}`, []string{"remind_at"}},
		{"remind_at not a string", `{"remind_at":5}`, []string{"remind_at"}},
		{"remind_at after due_at", `{"remind_at":"2026-03-06T00:00:00Z"}`, []string{"remind_at"}},
		{"recurrence not an object", `{"recurrence":"daily"}`, []string{"recurrence"}},
		{"recurrence frequency", `{"recurrence":{"frequency":"yearly"}}`, []string{"recurrence.frequency"}},
		{"recurrence interval", `{"recurrence":{"interval":366}}`, []string{"recurrence.interval"}},
		{"recurrence unknown field", `{"recurrence":{"every":2}}`, []string{"recurrence.every"}},
		{"id", `{"id":"task-2"}`, []string{"id"}},
		{"user_id", `{"user_id":"user-2"}`, []string{"user_id"}},
		{"completed", `{"completed":true}`, []string{"completed"}},
		{"created_at", `{"created_at":"2026-01-01T00:00:00Z"}`, []string{"created_at"}},
		{"unknown field", `{"colour":"red"}`, []string{"colour"}},
		{"duplicate key", `{"title":"a","title":"b"}`, []string{"title"}},
		{"a good field does not save a bad one", `{"title":"fine","priority":"urgent"}`, []string{"priority"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			orig := e.seed(t)
			_, v := e.get(t, "user-1", "task-1")
			r := e.patch(t, "user-1", "task-1", tc.body)
			assert.Equal(t, tc.fields, r.Fields(t), "%s", r.Body)
			e.unchanged(t, orig, v)
		})
	}
}

func TestUpdateRejectedRequests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		user    string
		id      string
		body    string
		headers []string
		status  int
	}{
		{"not JSON", "user-1", "task-1", `{"title"`, nil, http.StatusBadRequest},
		{"null body", "user-1", "task-1", `null`, nil, http.StatusBadRequest},
		{"array body", "user-1", "task-1", `[{"title":"x"}]`, nil, http.StatusBadRequest},
		{"empty body", "user-1", "task-1", ``, nil, http.StatusBadRequest},
		{"too large", "user-1", "task-1", `{"description":"` + strings.Repeat("x", 1<<20) + `"}`, nil, http.StatusRequestEntityTooLarge},
		{"text/plain", "user-1", "task-1", `{"title":"x"}`, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{"json-patch is not merge-patch", "user-1", "task-1", `[{"op":"replace"}]`, []string{"Content-Type", "application/json-patch+json"}, http.StatusUnsupportedMediaType},
		{"bad task id", "user-1", "task$1", `{"title":"x"}`, nil, http.StatusBadRequest},
		{"bad user id", "user 1", "task-1", `{"title":"x"}`, nil, http.StatusBadRequest},
		{"another user's task", "user-2", "task-1", `{"title":"x"}`, nil, http.StatusNotFound},
		{"no such task", "user-1", "task-2", `{"title":"x"}`, nil, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			orig := e.seed(t)
			_, v := e.get(t, "user-1", "task-1")
			r := e.patch(t, strings.ReplaceAll(tc.user, " ", "%20"), tc.id, tc.body, tc.headers...)
			require.Equal(t, tc.status, r.Status, "%s", r.Body)
			r.Problem(t)
			e.unchanged(t, orig, v)
		})
	}
}

func TestUpdateRetriesAConflict(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	// Another writer changes the description between this request's read
	// and its write, once.
	raced := false
	e.store.Before = func(op fakes.Op, userID, taskID string) error {
		if op != fakes.OpUpdate || raced {
			return nil
		}
		raced = true
		cur, v, err := e.store.Inner.Get(context.Background(), userID, taskID)
		require.NoError(t, err)
		cur.Description = "changed concurrently"
		cur.UpdatedAt = now.Add(-time.Second)
		return e.store.Inner.Update(context.Background(), cur, v)
	}
	r := e.patch(t, "user-1", "task-1", `{"title":"Pay the rent"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, 2, e.store.Calls(fakes.OpUpdate), "the conflict was retried")

	got := fakes.DecodeTask(t, r.Body)
	assert.Equal(t, "Pay the rent", got.Title)
	assert.Equal(t, "changed concurrently", got.Description, "the patch was applied to the fresh task")
	stored, _ := e.get(t, "user-1", "task-1")
	assert.Equal(t, got, stored)
	pubs := e.pub.Published()
	require.Len(t, pubs, 1, "one event despite the retry")
	fakes.CheckTaskEvent(t, pubs[0], task.EventUpdated, got)
}

func TestUpdateConflictOnceFromStore(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	e.store.FailNext(fakes.OpUpdate, taskstore.ErrConflict)
	r := e.patch(t, "user-1", "task-1", `{"priority":"low"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Len(t, e.pub.Events(), 1)
}

func TestUpdateConflictGivesUp(t *testing.T) {
	e := newEnv(t)
	orig := e.seed(t)
	_, v := e.get(t, "user-1", "task-1")
	for range taskstore.Reapply.Attempts {
		e.store.FailNext(fakes.OpUpdate, taskstore.ErrConflict)
	}
	r := e.patch(t, "user-1", "task-1", `{"priority":"low"}`)
	require.Equal(t, http.StatusConflict, r.Status, "%s", r.Body)
	r.Problem(t)
	assert.Equal(t, taskstore.Reapply.Attempts, e.store.Calls(fakes.OpUpdate))
	e.unchanged(t, orig, v)
}

func TestUpdateStoreFailure(t *testing.T) {
	e := newEnv(t)
	orig := e.seed(t)
	_, v := e.get(t, "user-1", "task-1")
	e.store.FailNext(fakes.OpUpdate, errors.New("down"))
	r := e.patch(t, "user-1", "task-1", `{"priority":"low"}`)
	require.Equal(t, http.StatusInternalServerError, r.Status, "%s", r.Body)
	assert.Equal(t, 1, e.store.Calls(fakes.OpUpdate), "only conflicts are retried")
	e.unchanged(t, orig, v)
}

func TestUpdatePublishFailure(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	e.pub.FailNext(nil)
	r := e.patch(t, "user-1", "task-1", `{"priority":"low"}`)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "stored but not announced: %s", r.Body)
	assert.Empty(t, e.pub.Events())

	// Retrying the patch publishes the update.
	e.clock.Advance(time.Second)
	r = e.patch(t, "user-1", "task-1", `{"priority":"low"}`)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Len(t, e.pub.Published(), 1)
	fakes.CheckTaskEvent(t, e.pub.Published()[0], task.EventUpdated, fakes.DecodeTask(t, r.Body))
}

func jsonField(t *testing.T, body []byte, field string) string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m))
	require.Contains(t, m, field)
	return string(m[field])
}
