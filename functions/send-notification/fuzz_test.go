package main

import (
	"context"
	"net/http"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/request"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

// FuzzOnDue hands arbitrary reminder.due data to the topic handler: it is
// delivered (once, however often it arrives) or dropped as Permanent,
// never retried, and what is delivered names a valid user and task.
func FuzzOnDue(f *testing.F) {
	for _, s := range []string{
		`{"task_id":"task-1","user_id":"user-1","title":"Call mom","due_at":"2026-03-01T18:00:00Z","remind_at":"2026-03-01T12:00:00Z"}`,
		`{"task_id":"task-1","user_id":"user-1","title":"","due_at":null,"remind_at":"2026-03-01T12:00:00+05:00"}`,
		`{"task_id":"../x","user_id":"user-1","remind_at":"2026-03-01T12:00:00Z"}`,
		`{"task_id":"task-1","user_id":"a b","remind_at":"2026-03-01T12:00:00Z"}`,
		`{"task_id":"task-1","user_id":"user-1","remind_at":"2026-03-01T12:00:00"}`,
		`{"task_id":"task-1","user_id":"user-1"}`,
		`{"task_id":1}`, `[]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(s), reminder.EventDue)
	}
	f.Add([]byte(`{"task_id":"task-1","user_id":"user-1","remind_at":"2026-03-01T12:00:00Z"}`), "com.todo.reminder.due.v2")
	f.Fuzz(func(t *testing.T, data []byte, eventType string) {
		e := newEnv(t)
		ev := cloudevents.NewEvent()
		ev.SetID("fuzz-1")
		ev.SetSource("fire-reminder")
		ev.SetType(eventType)
		if err := ev.SetData(cloudevents.ApplicationJSON, data); err != nil {
			t.Skip() // not an event a broker could carry
		}
		for range 2 {
			if err := e.h.OnDue(context.Background(), ev); err != nil && !fn.IsPermanent(err) {
				t.Fatalf("data %q: retryable error %v", data, err)
			}
		}
		got := e.channel.Delivered()
		if len(got) > 1 {
			t.Fatalf("data %q delivered %d times", data, len(got))
		}
		for _, n := range got {
			if request.ValidID(n.UserID) != nil || request.ValidID(n.TaskID) != nil || n.RemindAt == nil {
				t.Fatalf("data %q delivered %+v", data, n)
			}
		}
	})
}

// FuzzSendNotification posts arbitrary bodies to POST /notifications:
// 202 with the notification, or a 4xx problem that delivered nothing.
func FuzzSendNotification(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"user-1","title":"Hello","body":"text"}`,
		`{"user_id":"user-1","title":"   "}`,
		`{"user_id":"../user","title":"x"}`,
		`{"user_id":"user 1","title":"x"}`,
		`{"user_id":"user-1","title":"x","admin":true}`,
		`{"user_id":"user-1","title":"x","title":"y"}`,
		"{\"user_id\":\"user-1\",\"title\":\"\xff\"}",
		`{"user_id":"user-1","title":"\u0000"}`,
		`[]`, `null`, ``,
	} {
		f.Add(s, "application/json")
	}
	f.Add(`{"user_id":"user-1","title":"x"}`, "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		e := newEnv(t)
		r := e.send(t, body, "Content-Type", contentType)
		switch {
		case r.Status == http.StatusAccepted:
			if len(e.channel.Delivered()) != 1 {
				t.Fatalf("202 for %q but %d deliveries", body, len(e.channel.Delivered()))
			}
		case r.Status >= 400 && r.Status < 500:
			if r.Header.Get("Content-Type") != problem.ContentType {
				t.Fatalf("%d for %q is not a problem", r.Status, body)
			}
			if len(e.channel.Delivered()) != 0 {
				t.Fatalf("refused %q but delivered it", body)
			}
		default:
			t.Fatalf("status %d for %q: %s", r.Status, body, r.Body)
		}
	})
}
