package fakes_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/notify"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func event(t *testing.T, id string) cloudevents.Event {
	t.Helper()
	tk := task.Task{ID: id, UserID: "u", Title: "t", Priority: task.PriorityLow, CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)}
	e, err := taskapi.Event(task.EventCreated, tk)
	require.NoError(t, err)
	e.SetSource("test")
	return e
}

func TestPublisher(t *testing.T) {
	ctx := context.Background()
	p := &fakes.Publisher{}
	require.NoError(t, p.Publish(ctx, "topic-a", event(t, "t1")))

	boom := errors.New("boom")
	p.FailNext(boom)
	p.FailNext(nil)
	assert.ErrorIs(t, p.Publish(ctx, "topic-a", event(t, "t2")), boom)
	assert.ErrorIs(t, p.Publish(ctx, "topic-a", event(t, "t2")), fakes.ErrInjected)
	require.NoError(t, p.Publish(ctx, "topic-b", event(t, "t2")))

	p.Fail = func(_ string, e cloudevents.Event) error {
		if e.Subject() == "t3" {
			return boom
		}
		return nil
	}
	assert.ErrorIs(t, p.Publish(ctx, "topic-a", event(t, "t3")), boom)
	p.Fail = nil

	p.FailAll(boom)
	assert.Error(t, p.Publish(ctx, "topic-a", event(t, "t4")))
	p.FailAll(nil)

	assert.Error(t, p.Publish(ctx, "topic-a", cloudevents.NewEvent()), "an invalid event is refused")

	pubs := p.Published()
	require.Len(t, pubs, 2, "failed publishes are not recorded")
	assert.Equal(t, "topic-a", pubs[0].Topic)
	assert.Equal(t, "t1", pubs[0].Event.Subject())
	assert.Equal(t, "topic-b", pubs[1].Topic)
	assert.Len(t, p.Events(), 2)
	assert.Equal(t, 7, p.Attempts())

	// What callers get back is a copy.
	evs := p.Events()
	evs[0].SetSubject("changed")
	assert.Equal(t, "t1", p.Events()[0].Subject())

	p.Reset()
	assert.Empty(t, p.Events())
	assert.Zero(t, p.Attempts())
}

func TestClock(t *testing.T) {
	start := fakes.Time("2026-03-01T10:00:00Z")
	c := fakes.NewClock(start)
	assert.Equal(t, start, c.Now())
	assert.Equal(t, start, c.Now(), "it does not move by itself")
	assert.Equal(t, start.Add(time.Minute), c.Advance(time.Minute))
	c.Set(start)
	assert.Equal(t, start, c.Now())
}

func TestChannel(t *testing.T) {
	c := &fakes.Channel{}
	assert.Equal(t, "fake", c.Name())
	c.FailNext(nil)
	n := notify.Notification{ID: "n1"}
	assert.ErrorIs(t, c.Deliver(context.Background(), n), fakes.ErrInjected)
	require.NoError(t, c.Deliver(context.Background(), n))
	assert.Equal(t, []notify.Notification{n}, c.Delivered())
	assert.Equal(t, 2, c.Attempts())
	assert.Equal(t, "sms", (&fakes.Channel{ChannelName: "sms"}).Name())
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	s := fakes.NewStore(nil)
	tk := task.Task{ID: "t1", UserID: "u1", Title: "t"}
	require.NoError(t, s.Create(ctx, tk))
	_, v, err := s.Get(ctx, "u1", "t1")
	require.NoError(t, err)

	s.FailNext(fakes.OpUpdate, taskstore.ErrConflict)
	assert.ErrorIs(t, s.Update(ctx, tk, v), taskstore.ErrConflict)
	require.NoError(t, s.Update(ctx, tk, v), "only the next call fails")
	assert.Equal(t, 2, s.Calls(fakes.OpUpdate))

	var seen []string
	s.Before = func(op fakes.Op, userID, taskID string) error {
		seen = append(seen, string(op)+" "+userID+"/"+taskID)
		if op == fakes.OpList {
			return fakes.ErrInjected
		}
		return nil
	}
	_, err = s.List(ctx, "u1")
	assert.ErrorIs(t, err, fakes.ErrInjected)
	got, more, err := s.Scan(ctx, "u1", nil, false, 5)
	require.NoError(t, err)
	assert.False(t, more)
	require.Len(t, got, 1)
	assert.Equal(t, "t1", got[0].ID)
	_, v, err = s.Get(ctx, "u1", "t1")
	require.NoError(t, err)
	require.NoError(t, s.Complete(ctx, tk, v, nil))
	_, v, _ = s.Get(ctx, "u1", "t1")
	require.NoError(t, s.Delete(ctx, "u1", "t1", v))
	assert.Equal(t, []string{"List u1/", "Scan u1/", "Get u1/t1", "Complete u1/t1", "Get u1/t1", "Delete u1/t1"}, seen)
}

func TestDo(t *testing.T) {
	var gotCT, gotKey, gotBody string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotCT, gotKey = r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key")
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		problem.Write(w, problem.Invalid(problem.FieldError{Field: "title", Detail: "is required"}))
	})
	r := fakes.Do(t, h, http.MethodPost, "/x", map[string]string{"a": "b"}, "Idempotency-Key", "k")
	assert.Equal(t, "application/json", gotCT)
	assert.Equal(t, "k", gotKey)
	assert.JSONEq(t, `{"a":"b"}`, gotBody)
	assert.Equal(t, []string{"title"}, r.Fields(t))

	fakes.Do(t, h, http.MethodPost, "/x", "raw", "Content-Type", "text/plain")
	assert.Equal(t, "text/plain", gotCT)
	assert.Equal(t, "raw", gotBody)

	fakes.Do(t, h, http.MethodGet, "/x", nil)
	assert.Empty(t, gotCT, "no body, no content type")
}

func TestCheckTaskEvent(t *testing.T) {
	p := &fakes.Publisher{}
	tk := task.Task{ID: "t1", UserID: "u", Title: "t", Priority: task.PriorityLow, Tags: []string{"a"}}
	require.NoError(t, taskapi.Publish(context.Background(), p, task.EventUpdated, tk))
	fakes.CheckTaskEvent(t, p.Published()[0], task.EventUpdated, tk)
	assert.Equal(t, tk, fakes.DecodeTask(t, p.Events()[0].Data()))
}

func TestState(t *testing.T) {
	ctx := context.Background()
	clock := fakes.NewClock(fakes.Time("2026-03-01T10:00:00Z"))
	f := fakes.NewState(clock)
	st := state.New(f, "s")
	require.NoError(t, st.Apply(ctx, state.Put("a", 1, "").WithTTL(time.Minute)))
	require.NoError(t, st.Apply(ctx, state.Put("b", 2, "")))
	assert.Equal(t, []string{"a", "b"}, f.Keys())
	ttl, ok := f.TTL("a")
	assert.True(t, ok)
	assert.Equal(t, time.Minute, ttl)
	_, ok = f.TTL("b")
	assert.False(t, ok, "no TTL")

	var v int
	_, err := st.Get(ctx, "a", &v)
	require.NoError(t, err)
	assert.Equal(t, 1, f.Reads())

	clock.Advance(time.Minute)
	_, err = st.Get(ctx, "a", &v)
	assert.ErrorIs(t, err, state.ErrNotFound, "expired on the clock")
	assert.Equal(t, []string{"b"}, f.Keys())

	f.Fail = func(op fakes.StateOp, key string) error {
		if op == fakes.StateSave && key == "b" {
			return fakes.ErrInjected
		}
		return nil
	}
	assert.ErrorIs(t, st.Apply(ctx, state.Put("b", 3, "")), fakes.ErrInjected)
	require.NoError(t, st.Apply(ctx, state.Put("c", 3, "")), "only what Fail names fails")
	_, err = st.Get(ctx, "b", &v)
	require.NoError(t, err)
	assert.Equal(t, 2, v, "a failed write changes nothing")
}
