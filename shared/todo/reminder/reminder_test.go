package reminder_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

func TestJobName(t *testing.T) {
	t.Parallel()
	name := reminder.JobName("0195e3c4-8f0a-7b3e-9c1d-2a4b6c8d0e1f")
	assert.Equal(t, "reminder-0195e3c4-8f0a-7b3e-9c1d-2a4b6c8d0e1f", name)
	id, ok := reminder.TaskID(name)
	assert.True(t, ok)
	assert.Equal(t, "0195e3c4-8f0a-7b3e-9c1d-2a4b6c8d0e1f", id)

	for _, bad := range []string{"", "reminder-", "task-1", "overdue-task-1"} {
		_, ok := reminder.TaskID(bad)
		assert.False(t, ok, bad)
	}
}

func TestID(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 9, 0, 0, 500, time.UTC)
	id := reminder.ID("task-1", at)
	assert.Equal(t, "task-1@2026-03-01T09:00:00.0000005Z", id)
	assert.Equal(t, id, reminder.ID("task-1", at.In(time.FixedZone("x", -7*3600))), "the same instant in another zone")
	assert.NotEqual(t, id, reminder.ID("task-1", at.Add(time.Nanosecond)), "a moved reminder is a new one")
	assert.NotEqual(t, id, reminder.ID("task-2", at))
	// Ids may contain '@'; the instant after the last one keeps ids apart.
	assert.NotEqual(t, reminder.ID("a@b", at), reminder.ID("a", at))
}

func TestFor(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("x", 2*3600)
	due := time.Date(2026, 3, 31, 12, 0, 0, 0, zone)
	remind := time.Date(2026, 3, 31, 11, 0, 0, 0, zone)
	tk := task.Task{ID: "task-1", UserID: "user-1", Title: "Pay rent", DueAt: &due, RemindAt: &remind}

	d, ok := reminder.For(tk)
	require.True(t, ok)
	b, err := json.Marshal(d)
	require.NoError(t, err)
	assert.JSONEq(t, `{"task_id":"task-1","user_id":"user-1","title":"Pay rent",
		"due_at":"2026-03-31T10:00:00Z","remind_at":"2026-03-31T09:00:00Z"}`, string(b))
	assert.Equal(t, reminder.ID("task-1", remind), d.ID())

	noDue := tk
	noDue.DueAt = nil
	d, ok = reminder.For(noDue)
	require.True(t, ok)
	assert.Nil(t, d.DueAt)

	noRemind := tk
	noRemind.RemindAt = nil
	_, ok = reminder.For(noRemind)
	assert.False(t, ok)

	done := tk
	done.Completed = true
	_, ok = reminder.For(done)
	assert.False(t, ok, "a completed task needs no reminder")
}

func TestDueMarshalsUTC(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("x", -3*3600)
	due := time.Date(2026, 1, 1, 9, 0, 0, 0, zone)
	b, err := json.Marshal(reminder.Due{TaskID: "t", UserID: "u", Title: "x", DueAt: &due, RemindAt: due})
	require.NoError(t, err)
	assert.JSONEq(t, `{"task_id":"t","user_id":"u","title":"x","due_at":"2026-01-01T12:00:00Z","remind_at":"2026-01-01T12:00:00Z"}`, string(b))
	assert.Equal(t, zone, due.Location())
}
