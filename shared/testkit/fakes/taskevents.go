package fakes

import (
	"encoding/json"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// CheckTaskEvent checks that p is the event of one change to want: on the
// task topic, of eventType, about want (subject and partition key are its
// id), with the whole task, exactly want, as its JSON data.
func CheckTaskEvent(t testing.TB, p Published, eventType string, want task.Task) {
	t.Helper()
	assert.Equal(t, task.Topic, p.Topic)
	e := p.Event
	assert.NoError(t, e.Validate())
	assert.Equal(t, eventType, e.Type())
	assert.Equal(t, want.ID, e.Subject(), "subject is the task id")
	assert.Equal(t, want.ID, e.Extensions()[events.PartitionKeyExtension], "partition key is the task id")
	assert.Equal(t, cloudevents.ApplicationJSON, e.DataContentType())
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantJSON), string(e.Data()), "the event carries the whole task")
}

// DecodeTask decodes the JSON of a task (a response body or event data).
func DecodeTask(t testing.TB, data []byte) task.Task {
	t.Helper()
	var got task.Task
	require.NoError(t, json.Unmarshal(data, &got), "%s", data)
	return got
}
