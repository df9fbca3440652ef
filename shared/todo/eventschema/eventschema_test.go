package eventschema_test

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/todo/eventschema"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

var now = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)

func ptr[T any](v T) *T { return &v }

// fullTask sets every field, so the schemas see each one.
func fullTask(t *testing.T) task.Task {
	t.Helper()
	tk, err := task.NewFromCreate("user-1", task.CreateInput{
		Title:       "  Pay rent ",
		Description: "Transfer to landlord\nbefore noon",
		Priority:    task.PriorityHigh,
		Tags:        []string{"Home", "money"},
		DueAt:       ptr("2026-03-31T12:00:00+02:00"),
		RemindAt:    ptr("2026-03-30T12:00:00Z"),
		Recurrence:  &task.RecurrenceInput{Frequency: task.Monthly},
	}, task.NewID(), now)
	require.NoError(t, err)
	return tk
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// edit decodes data, lets change edit it, and encodes it again.
func edit(t *testing.T, data []byte, change func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	change(m)
	return marshal(t, m)
}

func TestTypes(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{
		reminder.EventDue,
		task.EventCompleted,
		task.EventCreated,
		task.EventDeleted,
		task.EventOverdue,
		task.EventUpdated,
	}, eventschema.Types())
	for _, typ := range eventschema.Types() {
		b, err := eventschema.Schema(typ)
		require.NoError(t, err)
		assert.True(t, json.Valid(b), typ)
	}
	_, err := eventschema.Schema("task.v1")
	assert.ErrorIs(t, err, eventschema.ErrUnknownType)
}

func TestValidTaskEvents(t *testing.T) {
	t.Parallel()
	created := fullTask(t)
	minimal, err := task.NewFromCreate("u@example.com", task.CreateInput{Title: "x"}, task.NewID(), now)
	require.NoError(t, err)
	done, next := created.Complete(now.Add(time.Hour))
	require.NotNil(t, next)
	minDone, _ := minimal.Complete(now)

	for _, tc := range []struct {
		typ  string
		task task.Task
	}{
		{task.EventCreated, created},
		{task.EventCreated, minimal},
		{task.EventCreated, *next},
		{task.EventUpdated, created},
		{task.EventUpdated, done},
		{task.EventCompleted, done},
		{task.EventCompleted, minDone},
		{task.EventDeleted, created},
		{task.EventDeleted, done},
		{task.EventOverdue, created},
	} {
		data := marshal(t, tc.task)
		assert.NoError(t, eventschema.Validate(tc.typ, data), "%s %s", tc.typ, data)
	}
}

func TestInvalidTaskEvents(t *testing.T) {
	t.Parallel()
	good := marshal(t, fullTask(t))
	done, _ := fullTask(t).Complete(now)
	for _, tc := range []struct {
		name   string
		typ    string
		data   []byte
		change func(m map[string]any)
	}{
		{name: "missing id", typ: task.EventCreated, change: func(m map[string]any) { delete(m, "id") }},
		{name: "missing tags", typ: task.EventUpdated, change: func(m map[string]any) { delete(m, "tags") }},
		{name: "missing completed_at", typ: task.EventDeleted, change: func(m map[string]any) { delete(m, "completed_at") }},
		{name: "extra field", typ: task.EventCreated, change: func(m map[string]any) { m["owner"] = "x" }},
		{name: "id with slash", typ: task.EventCreated, change: func(m map[string]any) { m["id"] = "a/b" }},
		{name: "id with dot dot", typ: task.EventCreated, change: func(m map[string]any) { m["id"] = "a..b" }},
		{name: "empty title", typ: task.EventCreated, change: func(m map[string]any) { m["title"] = "" }},
		{name: "blank title", typ: task.EventCreated, change: func(m map[string]any) { m["title"] = "   " }},
		{name: "unknown priority", typ: task.EventCreated, change: func(m map[string]any) { m["priority"] = "urgent" }},
		{name: "uppercase tag", typ: task.EventCreated, change: func(m map[string]any) { m["tags"] = []string{"Home"} }},
		{name: "repeated tag", typ: task.EventCreated, change: func(m map[string]any) { m["tags"] = []string{"a", "a"} }},
		{name: "null tags", typ: task.EventCreated, change: func(m map[string]any) { m["tags"] = nil }},
		{name: "time with offset", typ: task.EventCreated, change: func(m map[string]any) { m["due_at"] = "2026-03-31T12:00:00+02:00" }},
		{name: "time without offset", typ: task.EventCreated, change: func(m map[string]any) { m["due_at"] = "2026-03-31T12:00:00" }},
		{name: "not a time", typ: task.EventCreated, change: func(m map[string]any) { m["created_at"] = "yesterday" }},
		{name: "interval 0", typ: task.EventCreated, change: func(m map[string]any) { m["recurrence"] = map[string]any{"frequency": "daily", "interval": 0} }},
		{name: "yearly", typ: task.EventCreated, change: func(m map[string]any) { m["recurrence"] = map[string]any{"frequency": "yearly", "interval": 1} }},
		{name: "recurrence without due_at", typ: task.EventUpdated, change: func(m map[string]any) { m["due_at"] = nil }},
		{name: "completed without completed_at", typ: task.EventUpdated, change: func(m map[string]any) { m["completed"] = true }},
		{name: "completed_at while pending", typ: task.EventUpdated, change: func(m map[string]any) { m["completed_at"] = "2026-03-01T00:00:00Z" }},
		{name: "created completed", typ: task.EventCreated, data: marshal(t, done)},
		{name: "completed event of a pending task", typ: task.EventCompleted, data: good},
		{name: "overdue without due_at", typ: task.EventOverdue, change: func(m map[string]any) { m["due_at"] = nil; m["recurrence"] = nil }},
		{name: "trailing data", typ: task.EventCreated, data: append(append([]byte{}, good...), []byte(" {}")...)},
		{name: "not JSON", typ: task.EventCreated, data: []byte("{")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if tc.change != nil {
				data = edit(t, good, tc.change)
			}
			assert.Error(t, eventschema.Validate(tc.typ, data))
		})
	}
}

func TestReminderDue(t *testing.T) {
	t.Parallel()
	withDue, ok := reminder.For(fullTask(t))
	require.True(t, ok)
	require.NoError(t, eventschema.Validate(reminder.EventDue, marshal(t, withDue)))

	noDue := withDue
	noDue.DueAt = nil
	require.NoError(t, eventschema.Validate(reminder.EventDue, marshal(t, noDue)))

	good := marshal(t, withDue)
	for _, field := range []string{"task_id", "user_id", "title", "due_at", "remind_at"} {
		t.Run("missing "+field, func(t *testing.T) {
			assert.Error(t, eventschema.Validate(reminder.EventDue, edit(t, good, func(m map[string]any) { delete(m, field) })))
		})
	}
	for name, change := range map[string]func(m map[string]any){
		"extra field":    func(m map[string]any) { m["id"] = "x" },
		"null remind_at": func(m map[string]any) { m["remind_at"] = nil },
		"local time":     func(m map[string]any) { m["remind_at"] = "2026-03-30T12:00:00" },
		"bad task id":    func(m map[string]any) { m["task_id"] = ".hidden" },
		"numeric title":  func(m map[string]any) { m["title"] = 5 },
	} {
		t.Run(name, func(t *testing.T) {
			assert.Error(t, eventschema.Validate(reminder.EventDue, edit(t, good, change)))
		})
	}
}

func TestUnknownType(t *testing.T) {
	t.Parallel()
	err := eventschema.Validate("com.todo.notification.sent.v1", []byte(`{}`))
	assert.True(t, errors.Is(err, eventschema.ErrUnknownType))
}

// TestDocumentedExamples keeps the examples in docs/events valid: each
// JSON block there is a CloudEvent whose data must match its type's schema.
func TestDocumentedExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../../docs/events/README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1)
	require.Len(t, blocks, 3)
	for _, b := range blocks {
		var e struct {
			Type         string          `json:"type"`
			Subject      string          `json:"subject"`
			PartitionKey string          `json:"partitionkey"`
			Data         json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(b[1], &e))
		assert.Equal(t, e.Subject, e.PartitionKey, e.Type)
		assert.NoError(t, eventschema.Validate(e.Type, e.Data), e.Type)
	}
}
