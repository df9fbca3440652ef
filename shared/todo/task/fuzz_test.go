package task_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/todo/eventschema"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// requireSchema checks that v, as published with eventType, matches the
// event's schema: whatever the rules accept must be publishable.
func requireSchema(t *testing.T, eventType string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, eventschema.Validate(eventType, b), "%s", b)
}

func requireProblem(t *testing.T, err error) {
	t.Helper()
	var p *problem.Problem
	require.True(t, errors.As(err, &p), "want a problem, got %v", err)
	require.Equal(t, 400, p.Status)
	require.NotEmpty(t, p.Errors)
}

func FuzzNewFromCreate(f *testing.F) {
	for _, s := range []string{
		`{"title":"Buy milk"}`,
		`{"title":" Pay rent ","description":"x\ny","priority":"high","tags":["Home","money"],"due_at":"2026-01-31T10:00:00+02:00","remind_at":"2026-01-31T07:00:00Z","recurrence":{"frequency":"monthly","interval":1}}`,
		`{"title":"","priority":"urgent","tags":["a","A"],"due_at":"2026-01-02T10:00:00","recurrence":{"frequency":"yearly","interval":0}}`,
		`{"title":"t","remind_at":"2999-12-31T23:59:59Z"}`,
		`{"title":"t","due_at":"2999-12-31T23:59:59Z","recurrence":{"frequency":"daily","interval":365}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var in task.CreateInput
		if json.Unmarshal([]byte(s), &in) != nil {
			return
		}
		got, err := task.NewFromCreate("user-1", in, "task-1", now)
		if err != nil {
			requireProblem(t, err)
			return
		}
		require.NoError(t, got.Validate())
		requireSchema(t, task.EventCreated, got)
		if d, ok := reminder.For(got); ok {
			requireSchema(t, reminder.EventDue, d)
		}
		done, next := got.Complete(later)
		requireSchema(t, task.EventCompleted, done)
		if next != nil {
			require.NoError(t, next.Validate())
			requireSchema(t, task.EventCreated, *next)
		}
	})
}

func FuzzApplyPatch(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"title":"x","tags":["A"],"due_at":"2026-05-01T00:00:00Z","remind_at":null}`,
		`{"recurrence":{"interval":2}}`,
		`{"recurrence":{"frequency":null}}`,
		`{"due_at":null,"recurrence":null,"description":null}`,
		`{"title":null,"completed":true,"id":"x","tags":[1]}`,
		`{"recurrence":{"interval":1e999}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var patch map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &patch) != nil {
			return
		}
		from := base()
		before := mustJSON(t, from)
		got, err := from.ApplyPatch(patch, later)
		require.Equal(t, before, mustJSON(t, from))
		if err != nil {
			if patch != nil {
				requireProblem(t, err)
			}
			return
		}
		require.NoError(t, got.Validate())
		requireSchema(t, task.EventUpdated, got)
		// A merge patch is idempotent.
		again, err := got.ApplyPatch(patch, later)
		require.NoError(t, err)
		assert.Equal(t, mustJSON(t, got), mustJSON(t, again))
	})
}
