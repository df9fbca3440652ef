package ids_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/todo/ids"
	"github.com/todo-chatbot/functions/shared/todo/notify"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
)

// TestKnownIDs pins ids that stored data and published events already
// carry: a changed namespace or name would make a retried step name a new
// task, event or notification instead of the one it made the first time.
func TestKnownIDs(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	assert.Equal(t, "b2a1f83c-ab00-526a-a920-c768979de806", task.NextID("task-1", at), "next occurrence")

	tk := task.Task{ID: "task-1", UserID: "user-1", Title: "t", Priority: task.PriorityLow, CreatedAt: at, UpdatedAt: at}
	e, err := taskapi.Event(task.EventCreated, tk)
	require.NoError(t, err)
	assert.Equal(t, "591e5334-218b-5d87-b02f-c16d96e1fb8f", e.ID(), "task event")

	d := reminder.Due{TaskID: "task-1", UserID: "user-1", Title: "t", RemindAt: at}
	de, err := d.Event()
	require.NoError(t, err)
	assert.Equal(t, "cd36175b-0b58-5201-95fc-57c40be453b6", de.ID(), "reminder.due event")

	assert.Equal(t, "84d5da1b-3915-52be-9e97-6ba7b3f6882b", notify.FromDue(d, "webhook").ID, "reminder notification")
}

func TestOf(t *testing.T) {
	assert.Equal(t, ids.TaskEvent.Of("a", "b"), ids.TaskEvent.Of("a", "b"), "the same parts, the same id")
	assert.NotEqual(t, ids.TaskEvent.Of("ab", "c"), ids.TaskEvent.Of("a", "bc"), "parts are kept apart")
	assert.NotEqual(t, ids.TaskEvent.Of("a"), ids.Notification.Of("a"), "the same name in two spaces")
}
