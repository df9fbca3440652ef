package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/notify"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

var (
	now      = fakes.Time("2026-03-01T12:00:03Z")
	remindAt = fakes.Time("2026-03-01T12:00:00Z")
	dueAt    = fakes.Time("2026-03-01T18:00:00Z")
)

type env struct {
	h       *Handler
	state   *fakes.State
	channel *fakes.Channel
	clock   *fakes.Clock
	routes  http.Handler
}

func newEnv(t *testing.T) *env {
	e := &env{channel: &fakes.Channel{}, clock: fakes.NewClock(now)}
	e.state = fakes.NewState(e.clock)
	records := notify.StateRecords{Store: state.New(e.state, "tasks"), Now: e.clock.Now}
	e.h = &Handler{Records: records, Channel: e.channel, Log: fakes.Logger(t), Now: e.clock.Now}
	f := fakes.Function(t, "send-notification")
	serve(f, e.h)
	e.routes = f
	return e
}

// record reads the delivery record of the user's notification id.
func (e *env) record(userID, id string) (notify.Notification, bool) {
	var n notify.Notification
	_, err := state.New(e.state, "tasks").Get(context.Background(), "notification/"+userID+"/"+id, &n)
	return n, err == nil
}

func due(taskID string) reminder.Due {
	d := dueAt
	return reminder.Due{TaskID: taskID, UserID: "user-1", Title: "Call mom", DueAt: &d, RemindAt: remindAt}
}

func dueEvent(t *testing.T, d reminder.Due) cloudevents.Event {
	t.Helper()
	ev, err := d.Event()
	require.NoError(t, err)
	ev.SetSource("fire-reminder")
	return ev
}

func TestOnDueDelivers(t *testing.T) {
	e := newEnv(t)
	d := due("task-1")
	require.NoError(t, e.h.OnDue(context.Background(), dueEvent(t, d)))

	sent := e.channel.Delivered()
	require.Len(t, sent, 1, "delivered once")
	n := sent[0]
	assert.Equal(t, notify.FromDue(d, "fake").ID, n.ID, "the notification id is the reminder's")
	assert.Equal(t, "user-1", n.UserID)
	assert.Equal(t, "task-1", n.TaskID)
	assert.Equal(t, notify.KindReminder, n.Kind)
	assert.Equal(t, "Call mom", n.Title)
	assert.Equal(t, "Reminder: Call mom", n.Body)
	assert.Equal(t, &dueAt, n.DueAt)
	assert.Equal(t, &remindAt, n.RemindAt)
	assert.Equal(t, "fake", n.Channel)

	rec, ok := e.record("user-1", n.ID)
	require.True(t, ok)
	assert.Equal(t, notify.StatusSent, rec.Status)
	assert.Equal(t, &now, rec.SentAt)
}

func TestOnDueRedeliveredDeliversNothing(t *testing.T) {
	e := newEnv(t)
	ev := dueEvent(t, due("task-1"))
	require.NoError(t, e.h.OnDue(context.Background(), ev))
	e.clock.Advance(time.Minute)
	require.NoError(t, e.h.OnDue(context.Background(), ev), "a redelivery is acknowledged")

	// The same reminder fired again (a sweep after the job) is another
	// event of the same reminder.
	again := dueEvent(t, due("task-1"))
	again.SetID("another-event-id")
	require.NoError(t, e.h.OnDue(context.Background(), again))

	assert.Len(t, e.channel.Delivered(), 1, "delivered once")
	assert.Equal(t, 1, e.channel.Attempts(), "not even attempted again")
	rec, _ := e.record("user-1", notify.FromDue(due("task-1"), "fake").ID)
	assert.Equal(t, &now, rec.SentAt, "the record keeps the first delivery")

	// A moved reminder is a new one.
	moved := due("task-1")
	moved.RemindAt = remindAt.Add(time.Hour)
	require.NoError(t, e.h.OnDue(context.Background(), dueEvent(t, moved)))
	assert.Len(t, e.channel.Delivered(), 2)
}

func TestOnDueChannelFailureIsRetried(t *testing.T) {
	e := newEnv(t)
	ev := dueEvent(t, due("task-1"))
	e.channel.FailNext(errors.New("webhook 503"))
	err := e.h.OnDue(context.Background(), ev)
	require.Error(t, err)
	assert.False(t, fn.IsPermanent(err), "asks for redelivery")
	assert.Empty(t, e.channel.Delivered())
	id := notify.FromDue(due("task-1"), "fake").ID
	_, ok := e.record("user-1", id)
	assert.False(t, ok, "a failed delivery gives its claim up")

	e.clock.Advance(5 * time.Second)
	require.NoError(t, e.h.OnDue(context.Background(), ev), "the redelivery succeeds")
	assert.Len(t, e.channel.Delivered(), 1)
	rec, _ := e.record("user-1", id)
	assert.Equal(t, notify.StatusSent, rec.Status)
	assert.Equal(t, now.Add(5*time.Second), *rec.SentAt)

	require.NoError(t, e.h.OnDue(context.Background(), ev))
	assert.Len(t, e.channel.Delivered(), 1, "and only once")
}

func TestOnDueRecordFailureIsRetried(t *testing.T) {
	e := newEnv(t)
	ev := dueEvent(t, due("task-1"))
	failed := false
	e.state.Fail = func(op fakes.StateOp, _ string) error {
		if op == fakes.StateTransact && !failed {
			failed = true
			return errors.New("state store down")
		}
		return nil
	}
	err := e.h.OnDue(context.Background(), ev)
	require.Error(t, err)
	assert.False(t, fn.IsPermanent(err))
	// Delivered but not recorded: the claim holds off redeliveries for
	// its lease, then one sends it again (at least once) and records it.
	assert.ErrorIs(t, e.h.OnDue(context.Background(), ev), notify.ErrInProgress)
	e.clock.Advance(notify.Lease)
	require.NoError(t, e.h.OnDue(context.Background(), ev))
	assert.Len(t, e.channel.Delivered(), 2)
	rec, _ := e.record("user-1", notify.FromDue(due("task-1"), "fake").ID)
	assert.Equal(t, notify.StatusSent, rec.Status)
}

// Two deliveries of one reminder at once (a redelivery while the first
// is still sending, or the Dapr and the Knative path together) send it once.
func TestOnDueConcurrentDeliveriesSendOnce(t *testing.T) {
	e := newEnv(t)
	ev := dueEvent(t, due("task-1"))
	release := make(chan struct{})
	e.channel.Block = release
	first := make(chan error, 1)
	go func() { first <- e.h.OnDue(context.Background(), ev) }()
	require.Eventually(t, func() bool { return e.channel.Attempts() == 1 }, 5*time.Second, time.Millisecond)

	err := e.h.OnDue(context.Background(), ev)
	assert.ErrorIs(t, err, notify.ErrInProgress, "the second waits for the first")
	assert.False(t, fn.IsPermanent(err), "and is redelivered later")

	close(release)
	require.NoError(t, <-first)
	require.NoError(t, e.h.OnDue(context.Background(), ev), "the redelivery finds it sent")
	assert.Len(t, e.channel.Delivered(), 1)
}

func TestOnDueIgnoresOtherTypes(t *testing.T) {
	e := newEnv(t)
	ev := dueEvent(t, due("task-1"))
	ev.SetType("com.todo.task.created.v1")
	require.NoError(t, e.h.OnDue(context.Background(), ev))
	assert.Zero(t, e.channel.Attempts())
}

func TestOnDueMalformed(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"not JSON", `{"task_id":`},
		{"no data", ``},
		{"wrong type", `{"task_id":1}`},
		{"no user", `{"task_id":"task-1","title":"x","remind_at":"2026-03-01T12:00:00Z"}`},
		{"bad task id", `{"task_id":"a/b","user_id":"user-1","title":"x","remind_at":"2026-03-01T12:00:00Z"}`},
		{"no remind_at", `{"task_id":"task-1","user_id":"user-1","title":"x"}`},
		{"bad remind_at", `{"task_id":"task-1","user_id":"user-1","title":"x","remind_at":"noon"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ev := cloudevents.NewEvent()
			ev.SetID("ev-1")
			ev.SetSource("test")
			ev.SetType(reminder.EventDue)
			if tc.data != "" {
				require.NoError(t, ev.SetData(cloudevents.ApplicationJSON, []byte(tc.data)))
			}
			err := e.h.OnDue(context.Background(), ev)
			require.Error(t, err)
			assert.True(t, fn.IsPermanent(err), "dead-lettered, not retried: %v", err)
			assert.Zero(t, e.channel.Attempts())
			assert.Empty(t, e.state.Keys())
		})
	}
}

func (e *env) send(t *testing.T, body any, headers ...string) fakes.Response {
	t.Helper()
	return fakes.Do(t, e.routes, http.MethodPost, "/notifications", body, headers...)
}

func (e *env) list(t *testing.T, user string) (List, fakes.Response) {
	t.Helper()
	r := fakes.Do(t, e.routes, http.MethodGet, "/users/"+user+"/notifications", nil)
	var l List
	if r.Status == http.StatusOK {
		r.JSON(t, &l)
	}
	return l, r
}

func TestSendMessage(t *testing.T) {
	e := newEnv(t)
	r := e.send(t, `{"user_id":"user-1","title":"  Welcome ","body":"Hello there"}`)
	require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
	var n notify.Notification
	r.JSON(t, &n)
	assert.NotEmpty(t, n.ID)
	assert.Equal(t, notify.Notification{
		ID: n.ID, UserID: "user-1", Kind: notify.KindMessage, Title: "Welcome", Body: "Hello there",
		Status: notify.StatusSent, SentAt: &now, Channel: "fake",
	}, n)
	sent := e.channel.Delivered()
	require.Len(t, sent, 1)
	assert.Equal(t, n.ID, sent[0].ID)

	l, _ := e.list(t, "user-1")
	require.Len(t, l.Items, 1)
	assert.Equal(t, n, l.Items[0])

	// Each message is its own notification.
	r = e.send(t, `{"user_id":"user-1","title":"Welcome","body":"Hello there"}`)
	require.Equal(t, http.StatusAccepted, r.Status)
	assert.Len(t, e.channel.Delivered(), 2)
}

func TestSendMessageInvalid(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		headers []string
		status  int
		fields  []string
	}{
		{"no user", `{"title":"t"}`, nil, http.StatusBadRequest, []string{"user_id"}},
		{"bad user", `{"user_id":"a b","title":"t"}`, nil, http.StatusBadRequest, []string{"user_id"}},
		{"no title", `{"user_id":"user-1","body":"b"}`, nil, http.StatusBadRequest, []string{"title"}},
		{"blank title", `{"user_id":"user-1","title":"   "}`, nil, http.StatusBadRequest, []string{"title"}},
		{"title too long", `{"user_id":"user-1","title":"` + strings.Repeat("x", 201) + `"}`, nil, http.StatusBadRequest, []string{"title"}},
		{"body too long", `{"user_id":"user-1","title":"t","body":"` + strings.Repeat("x", 2001) + `"}`, nil, http.StatusBadRequest, []string{"body"}},
		{"every field", `{"user_id":"","title":"","body":"` + strings.Repeat("x", 2001) + `"}`, nil, http.StatusBadRequest, []string{"user_id", "title", "body"}},
		{"unknown field", `{"user_id":"user-1","title":"t","channel":"sms"}`, nil, http.StatusBadRequest, []string{"channel"}},
		{"wrong type", `{"user_id":"user-1","title":7}`, nil, http.StatusBadRequest, []string{"title"}},
		{"not JSON", `{"user_id":`, nil, http.StatusBadRequest, nil},
		{"too large", `{"user_id":"user-1","title":"t","body":"` + strings.Repeat("x", 1<<20) + `"}`, nil, http.StatusRequestEntityTooLarge, nil},
		{"text/plain", `{"user_id":"user-1","title":"t"}`, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.send(t, tc.body, tc.headers...)
			require.Equal(t, tc.status, r.Status, "%s", r.Body)
			if tc.fields != nil {
				assert.Equal(t, tc.fields, r.Fields(t))
			} else {
				r.Problem(t)
			}
			assert.Zero(t, e.channel.Attempts(), "nothing delivered")
			assert.Empty(t, e.state.Keys(), "nothing recorded")
		})
	}
}

func TestSendMessageChannelFailure(t *testing.T) {
	e := newEnv(t)
	e.channel.FailNext(errors.New("webhook said 500: token=abc"))
	r := e.send(t, `{"user_id":"user-1","title":"t"}`)
	require.Equal(t, http.StatusBadGateway, r.Status, "%s", r.Body)
	r.Problem(t)
	assert.NotContains(t, string(r.Body), "token=abc", "the channel's error is not shown")
	l, _ := e.list(t, "user-1")
	assert.Empty(t, l.Items, "an undelivered message is not listed")
}

func TestListNewestFirst(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.h.OnDue(context.Background(), dueEvent(t, due("task-1"))))
	e.clock.Advance(time.Minute)
	r := e.send(t, `{"user_id":"user-1","title":"second"}`)
	require.Equal(t, http.StatusAccepted, r.Status)
	e.clock.Advance(time.Minute)
	require.NoError(t, e.h.OnDue(context.Background(), dueEvent(t, due("task-2"))))
	// Another user's notification is never listed.
	require.Equal(t, http.StatusAccepted, e.send(t, `{"user_id":"user-2","title":"not yours"}`).Status)

	l, r := e.list(t, "user-1")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Len(t, l.Items, 3)
	assert.Equal(t, "task-2", l.Items[0].TaskID)
	assert.Equal(t, "second", l.Items[1].Title)
	assert.Equal(t, "task-1", l.Items[2].TaskID)
	for i := 1; i < len(l.Items); i++ {
		assert.True(t, l.Items[i-1].SentAt.After(*l.Items[i].SentAt), "newest first")
	}
	var raw struct {
		Items []map[string]json.RawMessage `json:"items"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &raw))
	assert.JSONEq(t, `"2026-03-01T12:02:03Z"`, string(raw.Items[0]["sent_at"]))

	l, _ = e.list(t, "user-2")
	require.Len(t, l.Items, 1)
	assert.Equal(t, "not yours", l.Items[0].Title)
}

func TestListEmptyAndInvalid(t *testing.T) {
	e := newEnv(t)
	_, r := e.list(t, "nobody")
	require.Equal(t, http.StatusOK, r.Status)
	assert.JSONEq(t, `{"items":[]}`, string(r.Body))

	_, r = e.list(t, "bad%20user")
	assert.Equal(t, []string{"user_id"}, r.Fields(t))
}

func TestRecordsFailure(t *testing.T) {
	e := newEnv(t)
	e.state.Fail = func(fakes.StateOp, string) error { return errors.New("state store down") }
	err := e.h.OnDue(context.Background(), dueEvent(t, due("task-1")))
	require.Error(t, err)
	assert.False(t, fn.IsPermanent(err))
	assert.Zero(t, e.channel.Attempts(), "nothing sent without a record")

	r := e.send(t, `{"user_id":"user-1","title":"t"}`)
	assert.Equal(t, http.StatusBadGateway, r.Status)
	assert.Zero(t, e.channel.Attempts())

	_, r = e.list(t, "user-1")
	assert.Equal(t, http.StatusInternalServerError, r.Status)
	assert.NotContains(t, string(r.Body), "state store down")
}
