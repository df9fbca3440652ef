package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/idempotency"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

var now = fakes.Time("2026-03-01T09:30:00Z")

type env struct {
	store  *fakes.Store
	pub    *fakes.Publisher
	clock  *fakes.Clock
	routes http.Handler
}

func newEnv(t *testing.T) *env {
	e := &env{store: fakes.NewStore(nil), pub: &fakes.Publisher{}, clock: fakes.NewClock(now)}
	keys := idempotency.NewKeys(state.New(fakes.NewState(e.clock), "dedupe"))
	h := &Handler{Tasks: e.store, Keys: keys, Events: e.pub, Log: fakes.Logger(t), Now: e.clock.Now}
	f := fakes.Function(t, "create-task")
	serve(f, h)
	e.routes = f
	return e
}

func (e *env) create(t *testing.T, user string, body any, headers ...string) fakes.Response {
	t.Helper()
	return fakes.Do(t, e.routes, http.MethodPost, "/users/"+user+"/tasks", body, headers...)
}

// stored returns every task of the users the tests create tasks for.
func (e *env) stored(t *testing.T) []task.Task {
	t.Helper()
	ctx := context.Background()
	var all []task.Task
	for _, u := range []string{"user-1", "user-2"} {
		ts, err := e.store.Inner.List(ctx, u)
		require.NoError(t, err)
		all = append(all, ts...)
	}
	return all
}

// nothingHappened checks that a failed request stored and published nothing.
func (e *env) nothingHappened(t *testing.T) {
	t.Helper()
	assert.Empty(t, e.stored(t), "nothing stored")
	assert.Empty(t, e.pub.Events(), "nothing published")
}

func TestCreate(t *testing.T) {
	e := newEnv(t)
	r := e.create(t, "user-1", map[string]any{
		"title":       "  Pay rent  ",
		"description": "before the 5th",
		"priority":    "high",
		"tags":        []string{"Home", " bills "},
		"due_at":      "2026-03-05T12:00:00+05:00",
		"remind_at":   "2026-03-05T06:00:00Z",
		"recurrence":  map[string]any{"frequency": "monthly"},
	})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)

	got := fakes.DecodeTask(t, r.Body)
	assert.Equal(t, "/users/user-1/tasks/"+got.ID, r.Header.Get("Location"))
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.NotEmpty(t, got.ID)
	want := task.Task{
		ID: got.ID, UserID: "user-1", Title: "Pay rent", Description: "before the 5th",
		Priority: task.PriorityHigh, Tags: []string{"home", "bills"},
		DueAt:      fakes.Ptr(fakes.Time("2026-03-05T07:00:00Z")),
		RemindAt:   fakes.Ptr(fakes.Time("2026-03-05T06:00:00Z")),
		Recurrence: &task.Recurrence{Frequency: task.Monthly, Interval: 1},
		CreatedAt:  now, UpdatedAt: now,
	}
	assert.Equal(t, want, got)
	// The body is the task in the published schema: UTC times, every field.
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &raw))
	assert.Equal(t, "2026-03-05T07:00:00Z", raw["due_at"])
	assert.Contains(t, raw, "completed_at")
	assert.Nil(t, raw["completed_at"])

	stored, _, err := e.store.Inner.Get(context.Background(), "user-1", got.ID)
	require.NoError(t, err)
	assert.Equal(t, want, stored)

	pubs := e.pub.Published()
	require.Len(t, pubs, 1, "exactly one event")
	fakes.CheckTaskEvent(t, pubs[0], task.EventCreated, want)
	assert.JSONEq(t, string(r.Body), string(pubs[0].Event.Data()), "the event carries the task the client got")
}

func TestCreateMinimal(t *testing.T) {
	e := newEnv(t)
	r := e.create(t, "user-1", `{"title":"Buy milk"}`)
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	assert.JSONEq(t, `{
		"id": "`+fakes.DecodeTask(t, r.Body).ID+`", "user_id": "user-1", "title": "Buy milk", "description": "",
		"completed": false, "priority": "medium", "tags": [], "due_at": null, "remind_at": null,
		"recurrence": null, "created_at": "2026-03-01T09:30:00Z", "updated_at": "2026-03-01T09:30:00Z",
		"completed_at": null}`, string(r.Body))
	require.Len(t, e.pub.Events(), 1)
}

func TestCreateIDsAreDistinct(t *testing.T) {
	e := newEnv(t)
	a := fakes.DecodeTask(t, e.create(t, "user-1", `{"title":"a"}`).Body)
	b := fakes.DecodeTask(t, e.create(t, "user-1", `{"title":"a"}`).Body)
	assert.NotEqual(t, a.ID, b.ID, "without an Idempotency-Key, two requests are two tasks")
	assert.Len(t, e.stored(t), 2)
	assert.Len(t, e.pub.Events(), 2)
}

func TestCreateInvalidFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		fields []string
	}{
		{"title missing", `{"description":"x"}`, []string{"title"}},
		{"title blank", `{"title":"   "}`, []string{"title"}},
		{"title too long", `{"title":"` + strings.Repeat("x", task.MaxTitle+1) + `"}`, []string{"title"}},
		{"title control character", `{"title":"a\u0007b"}`, []string{"title"}},
		{"title not a string", `{"title":5}`, []string{"title"}},
		{"description too long", `{"title":"t","description":"` + strings.Repeat("x", task.MaxDescription+1) + `"}`, []string{"description"}},
		{"priority unknown", `{"title":"t","priority":"urgent"}`, []string{"priority"}},
		{"tags too many", `{"title":"t","tags":["a","b","c","d","e","f","g","h","i","j","k"]}`, []string{"tags"}},
		{"tag empty", `{"title":"t","tags":["ok",""]}`, []string{"tags[1]"}},
		{"tag repeated", `{"title":"t","tags":["Work","work"]}`, []string{"tags"}},
		{"tags not an array", `{"title":"t","tags":"work"}`, []string{"tags"}},
		{"due_at without offset", `{"title":"t","due_at":"2026-03-05T12:00:00"}`, []string{"due_at"}},
		{"due_at not a date", `{"title":"t","due_at":"tomorrow"}`, []string{"due_at"}},
		{"due_at out of range", `{"title":"t","due_at":"3000-01-01T00:00:00Z"}`, []string{"due_at"}},
		{"remind_at without offset", `{"title":"t","remind_at":"2026-03-05"}`, []string{"remind_at"}},
		{"remind_at after due_at", `{"title":"t","due_at":"2026-03-05T12:00:00Z","remind_at":"2026-03-05T13:00:00Z"}`, []string{"remind_at"}},
		{"recurrence frequency", `{"title":"t","due_at":"2026-03-05T12:00:00Z","recurrence":{"frequency":"hourly"}}`, []string{"recurrence.frequency"}},
		{"recurrence interval", `{"title":"t","due_at":"2026-03-05T12:00:00Z","recurrence":{"frequency":"daily","interval":0}}`, []string{"recurrence.interval"}},
		{"recurrence without due_at", `{"title":"t","recurrence":{"frequency":"daily"}}`, []string{"recurrence"}},
		{"unknown field", `{"title":"t","colour":"red"}`, []string{"colour"}},
		{"server-owned field", `{"title":"t","completed":true}`, []string{"completed"}},
		{"duplicate key", `{"title":"t","title":"u"}`, []string{"title"}},
		{"every bad field at once", `{"title":"","priority":"p","due_at":"x","remind_at":"y"}`, []string{"title", "priority", "due_at", "remind_at"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.create(t, "user-1", tc.body, "Idempotency-Key", "k1")
			assert.Equal(t, tc.fields, r.Fields(t), "%s", r.Body)
			e.nothingHappened(t)

			// The key was not used up by the rejected request.
			r = e.create(t, "user-1", `{"title":"fixed"}`, "Idempotency-Key", "k1")
			assert.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		})
	}
}

func TestCreateRejectedRequests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		user    string
		body    string
		headers []string
		status  int
		field   string
	}{
		{"not JSON", "user-1", `{"title":`, nil, http.StatusBadRequest, ""},
		{"trailing data", "user-1", `{"title":"a"} {}`, nil, http.StatusBadRequest, ""},
		{"empty body", "user-1", ``, nil, http.StatusBadRequest, ""},
		{"JSON array", "user-1", `[]`, nil, http.StatusBadRequest, ""},
		{"too large", "user-1", `{"title":"t","description":"` + strings.Repeat("x", 1<<20) + `"}`, nil, http.StatusRequestEntityTooLarge, ""},
		{"text/plain", "user-1", `{"title":"t"}`, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, ""},
		{"no content type", "user-1", `{"title":"t"}`, []string{"Content-Type", ""}, http.StatusUnsupportedMediaType, ""},
		{"latin-1", "user-1", `{"title":"t"}`, []string{"Content-Type", "application/json; charset=latin1"}, http.StatusUnsupportedMediaType, ""},
		{"merge patch is not a create", "user-1", `{"title":"t"}`, []string{"Content-Type", "application/merge-patch+json"}, http.StatusUnsupportedMediaType, ""},
		{"bad user id", "user$1", `{"title":"t"}`, nil, http.StatusBadRequest, "user_id"},
		{"user id starting with a dot", ".hidden", `{"title":"t"}`, nil, http.StatusBadRequest, "user_id"},
		{"user id with dots", "a..b", `{"title":"t"}`, nil, http.StatusBadRequest, "user_id"},
		{"key with a space", "user-1", `{"title":"t"}`, []string{"Idempotency-Key", "a b"}, http.StatusBadRequest, "Idempotency-Key"},
		{"key too long", "user-1", `{"title":"t"}`, []string{"Idempotency-Key", strings.Repeat("k", 256)}, http.StatusBadRequest, "Idempotency-Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.create(t, tc.user, tc.body, tc.headers...)
			require.Equal(t, tc.status, r.Status, "%s", r.Body)
			p := r.Problem(t)
			if tc.field != "" {
				require.Len(t, p.Errors, 1)
				assert.Equal(t, tc.field, p.Errors[0].Field)
			}
			e.nothingHappened(t)
		})
	}
}

func TestCreateIdempotent(t *testing.T) {
	e := newEnv(t)
	body := `{"title":"Buy milk","tags":["home"]}`
	first := e.create(t, "user-1", body, "Idempotency-Key", "key-1")
	require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)

	e.clock.Advance(time.Minute)
	// The same body in another key order is the same request.
	second := e.create(t, "user-1", `{"tags":["home"],"title":"Buy milk"}`, "Idempotency-Key", "key-1")
	require.Equal(t, http.StatusCreated, second.Status, "%s", second.Body)
	assert.JSONEq(t, string(first.Body), string(second.Body), "the retry answers with the first task")
	assert.Equal(t, first.Header.Get("Location"), second.Header.Get("Location"))
	assert.Len(t, e.stored(t), 1)
	assert.Len(t, e.pub.Events(), 1, "one event for both requests")

	t.Run("different body is 422", func(t *testing.T) {
		r := e.create(t, "user-1", `{"title":"Buy bread"}`, "Idempotency-Key", "key-1")
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)
		r.Problem(t)
		assert.Len(t, e.stored(t), 1, "nothing more stored")
		assert.Len(t, e.pub.Events(), 1, "nothing more published")
	})

	t.Run("keys are per user", func(t *testing.T) {
		r := e.create(t, "user-2", `{"title":"Buy bread"}`, "Idempotency-Key", "key-1")
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		got := fakes.DecodeTask(t, r.Body)
		assert.Equal(t, "user-2", got.UserID)
		assert.NotEqual(t, fakes.DecodeTask(t, first.Body).ID, got.ID)
		assert.Len(t, e.pub.Events(), 2)
	})
}

func TestCreatePublishFailureThenRetry(t *testing.T) {
	e := newEnv(t)
	e.pub.FailNext(errors.New("broker down"))
	body := `{"title":"Water plants","remind_at":"2026-03-02T08:00:00Z"}`

	r := e.create(t, "user-1", body, "Idempotency-Key", "retry-me")
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
	assert.Contains(t, r.Problem(t).Detail, "Idempotency-Key")
	assert.Empty(t, e.pub.Events())
	stored := e.stored(t)
	require.Len(t, stored, 1, "the task was stored before the publish failed")

	e.clock.Advance(time.Second)
	r = e.create(t, "user-1", body, "Idempotency-Key", "retry-me")
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	got := fakes.DecodeTask(t, r.Body)
	assert.Equal(t, stored[0], got, "the retry returns the task the first attempt stored")
	assert.Equal(t, "/users/user-1/tasks/"+stored[0].ID, r.Header.Get("Location"))
	pubs := e.pub.Published()
	require.Len(t, pubs, 1, "the retry published the event once")
	fakes.CheckTaskEvent(t, pubs[0], task.EventCreated, got)

	r = e.create(t, "user-1", body, "Idempotency-Key", "retry-me")
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	assert.Equal(t, got, fakes.DecodeTask(t, r.Body))
	assert.Len(t, e.pub.Events(), 1, "a later retry publishes nothing")
	assert.Len(t, e.stored(t), 1)
}

func TestCreatePublishFailureWithoutKey(t *testing.T) {
	e := newEnv(t)
	e.pub.FailNext(nil)
	r := e.create(t, "user-1", `{"title":"t"}`)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
	assert.Empty(t, e.pub.Events())
}

func TestCreateStoreFailure(t *testing.T) {
	e := newEnv(t)
	e.store.FailNext(fakes.OpCreate, errors.New("state store down: secret-ish detail"))
	r := e.create(t, "user-1", `{"title":"t"}`, "Idempotency-Key", "k")
	require.Equal(t, http.StatusInternalServerError, r.Status, "%s", r.Body)
	assert.NotContains(t, string(r.Body), "secret-ish", "internal errors are not shown to clients")
	e.nothingHappened(t)

	// The retry with the same key stores and publishes the task.
	r = e.create(t, "user-1", `{"title":"t"}`, "Idempotency-Key", "k")
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	assert.Len(t, e.stored(t), 1)
	assert.Len(t, e.pub.Events(), 1)
}

func TestCreateStoresPerUser(t *testing.T) {
	e := newEnv(t)
	r := e.create(t, "user-1", `{"title":"mine"}`)
	require.Equal(t, http.StatusCreated, r.Status)
	id := fakes.DecodeTask(t, r.Body).ID
	_, _, err := e.store.Inner.Get(context.Background(), "user-2", id)
	assert.ErrorIs(t, err, taskstore.ErrNotFound, "another user cannot reach the task")
}

func TestCreateBeyondTheTaskLimit(t *testing.T) {
	e := newEnv(t)
	full := make([]task.Task, taskstore.MaxTasks)
	for i := range full {
		full[i] = task.Task{ID: fmt.Sprintf("t%05d", i), UserID: "user-1", Title: "t"}
	}
	require.NoError(t, e.store.Inner.(*taskstore.Dapr).Import(context.Background(), full))
	r := e.create(t, "user-1", `{"title":"one too many"}`)
	require.Equal(t, http.StatusConflict, r.Status)
	assert.Contains(t, r.Problem(t).Detail, "the most allowed")
	assert.Empty(t, e.pub.Events(), "nothing published")
	assert.Equal(t, http.StatusCreated, e.create(t, "user-2", `{"title":"theirs"}`).Status, "the limit is per user")
}
