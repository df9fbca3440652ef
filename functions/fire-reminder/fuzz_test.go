package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/todo/eventschema"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

// FuzzOnJob hands arbitrary job data to the job trigger. Whatever it
// holds, the job is fired (when it names user-1's task-1 at its instant),
// skipped, or dropped as Permanent: never retried, never a panic, and a
// published reminder always matches its schema and the task's owner.
func FuzzOnJob(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"user-1","task_id":"task-1","remind_at":"2026-03-01T12:00:00Z"}`,
		`{"user_id":"user-1","task_id":"task-1","remind_at":"2026-03-01T14:00:00+02:00"}`,
		`{"user_id":"user-2","task_id":"task-1","remind_at":"2026-03-01T12:00:00Z"}`,
		`{"user_id":"user-1","task_id":"../task-1","remind_at":"2026-03-01T12:00:00Z"}`,
		`{"user_id":"user-1","task_id":"task-1","remind_at":"2026-03-01T12:00:00"}`,
		`{"user_id":"user-1","task_id":"task-1"}`,
		`{"user_id":1}`, `[]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEnv(t)
		e.seed(t, "task-1", remindAt)
		e.clock.Set(remindAt.Add(time.Minute)) // no job waits for its instant
		err := e.h.OnJob(context.Background(), "reminder-task-1", data)
		if err != nil && !fn.IsPermanent(err) {
			t.Fatalf("job data %q: retryable error %v", data, err)
		}
		for _, ev := range e.pub.Events() {
			if err := eventschema.Validate(ev.Type(), ev.Data()); err != nil {
				t.Fatalf("published %s off its schema: %v", ev.Data(), err)
			}
			var d reminder.Due
			if err := json.Unmarshal(ev.Data(), &d); err != nil || d.UserID != "user-1" || d.TaskID != "task-1" || !d.RemindAt.Equal(remindAt) {
				t.Fatalf("job data %q fired %s", data, ev.Data())
			}
		}
	})
}

// FuzzReconcile posts arbitrary bodies to POST /reconcile: 200 with a
// consistent count, or a 4xx problem that fired and scheduled nothing.
func FuzzReconcile(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"user-1","task_ids":["task-1","due","gone"]}`,
		`{"user_id":"user-2","task_ids":["task-1"]}`,
		`{"user_id":"user-1","task_ids":["..%2Fx","a b","a/b"]}`,
		`{"user_id":"user-1","task_ids":[]}`,
		`{"user_id":"user-1","task_ids":null}`,
		`{"user_id":"user-1","task_ids":["due"],"extra":1}`,
		`{"user_id":"user-1","user_id":"user-2","task_ids":["due"]}`,
		`{"user_id":"\u0000","task_ids":[1]}`,
		"{\"user_id\":\"\xff\"}",
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	} {
		f.Add(s, "application/json")
	}
	f.Add(`{"user_id":"user-1","task_ids":["due"]}`, "text/plain")
	f.Add(`{"user_id":"user-1","task_ids":["due"]}`, "application/json; charset=latin1")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		e := newEnv(t)
		e.seed(t, "task-1", remindAt)
		e.seed(t, "due", now.Add(-time.Minute))
		job := reminder.Job{UserID: "user-1", TaskID: "task-1", RemindAt: remindAt}
		if err := e.jobs.Schedule(context.Background(), "reminder-task-1", job, remindAt); err != nil {
			t.Fatal(err)
		}
		untouched := func() bool {
			j, ok := e.jobs.get("reminder-task-1")
			return ok && j.Job == job && len(e.pub.Events()) == 0
		}
		r := e.reconcile(t, body, "Content-Type", contentType)
		switch {
		case r.Status == http.StatusOK:
			var res reminder.ReconcileResult
			var in reminder.Reconcile
			if json.Unmarshal(r.Body, &res) != nil || json.Unmarshal([]byte(body), &in) != nil {
				t.Fatalf("200 for %q: %s", body, r.Body)
			}
			if res.Checked != len(in.TaskIDs) || res.Scheduled+res.Fired+res.Cancelled+res.AlreadyDone > res.Checked {
				t.Fatalf("inconsistent result %+v for %q", res, body)
			}
			if in.UserID != "user-1" && !untouched() {
				t.Fatalf("%q touched user-1's reminders", body)
			}
		case r.Status >= 400 && r.Status < 500:
			if r.Header.Get("Content-Type") != problem.ContentType {
				t.Fatalf("%d for %q is not a problem", r.Status, body)
			}
			if !untouched() || e.jobs.schedules+e.jobs.cancels != 1 {
				t.Fatalf("refused %q but acted on it", body)
			}
		default:
			t.Fatalf("status %d for %q: %s", r.Status, body, r.Body)
		}
	})
}
