package task_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// FuzzParseQuery feeds arbitrary query strings to the list route's parser
// and applies what it accepts: every refusal is a 400 problem, and an
// accepted query pages without error or panic.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"status=pending&priority=high&tag=home&q=milk&sort=-due_at&limit=10",
		"due_before=2026-01-02T10:00:00Z&due_after=2026-01-01T10:00:00%2B02:00",
		"due_before=2026-01-02T10:00:00",
		"status=all&status=pending",
		"cursor=abc&limit=0",
		"limit=-1&sort=owner",
		"tag=" + "%FF%FE",
		"q=%00&unknown=1",
		"%zz",
	} {
		f.Add(s)
	}
	tasks := []task.Task{
		{ID: "a", UserID: "u", Title: "Milk", Priority: task.PriorityHigh, Tags: []string{"home"}, CreatedAt: now, UpdatedAt: now},
		{ID: "b", UserID: "u", Title: "Report", Priority: task.PriorityLow, DueAt: &later, CreatedAt: later, UpdatedAt: later},
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return // the router refuses it first
		}
		q, err := task.ParseQuery(v)
		if err != nil {
			requireBadRequest(t, err)
			return
		}
		items, next, err := q.Apply(tasks)
		if err != nil {
			requireBadRequest(t, err) // a forged cursor
			return
		}
		if len(items) > len(tasks) {
			t.Fatalf("%d items from %d tasks", len(items), len(tasks))
		}
		if next != "" {
			q.Cursor = next
			if _, _, err := q.Apply(tasks); err != nil {
				t.Fatalf("the next page's own cursor was refused: %v", err)
			}
		}
	})
}

func requireBadRequest(t *testing.T, err error) {
	t.Helper()
	var p *problem.Problem
	if !errors.As(err, &p) || p.Status != 400 {
		t.Fatalf("refusal is not a 400 problem: %v", err)
	}
}
