// Package taskapi is what the task functions' HTTP handlers share: reading
// ids from the path, the problems their errors are answered with, and
// publishing the one event each mutation emits.
package taskapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/request"
	"github.com/todo-chatbot/functions/shared/todo/ids"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

// IDs reads {user_id} and, when the route has it, {task_id}.
func IDs(r *http.Request) (userID, taskID string, err error) {
	if userID, err = request.PathID(r, "user_id"); err != nil {
		return "", "", err
	}
	if r.PathValue("task_id") == "" {
		return userID, "", nil
	}
	taskID, err = request.PathID(r, "task_id")
	return userID, taskID, err
}

// Problem is the task functions' part of the error mapping (an
// fn.ErrorMapper): a missing task (or another user's) is 404, a lost race
// or a full task list 409, a change stored but not announced 503.
func Problem(err error) *problem.Problem {
	switch {
	case errors.Is(err, taskstore.ErrNotFound):
		return problem.New(http.StatusNotFound, "no such task")
	case errors.Is(err, taskstore.ErrFull):
		return problem.New(http.StatusConflict, fmt.Sprintf("the user has %d tasks, the most allowed; delete some first", taskstore.MaxTasks))
	case errors.Is(err, taskstore.ErrConflict):
		return problem.New(http.StatusConflict, "the task changed while this request ran; retry")
	case errors.Is(err, ErrNotPublished):
		// 503, so the caller retries rather than taking it for a bad
		// request or a bug; the retry publishes the same event id.
		return problem.New(http.StatusServiceUnavailable, "the change was stored but its event could not be published; retry the request, with the same Idempotency-Key if it had one")
	}
	return nil
}

// ErrNotPublished is a change that was stored but whose event was not
// published.
var ErrNotPublished = errors.New("change stored but its event was not published")

// Event is the CloudEvent of one change to t. Its id is derived from the
// change (type, task, updated_at), so publishing it again after a retry
// yields the same id and consumers process it once.
func Event(eventType string, t task.Task) (cloudevents.Event, error) {
	e, err := events.New(eventType, t.ID, t)
	if err != nil {
		return e, err
	}
	e.SetID(ids.TaskEvent.Of(eventType, t.UserID, t.ID, t.UpdatedAt.UTC().Format(time.RFC3339Nano)))
	return e, nil
}

// Publish emits the event of one change to t on the task topic; a failure
// is ErrNotPublished.
func Publish(ctx context.Context, pub events.Publisher, eventType string, t task.Task) error {
	e, err := Event(eventType, t)
	if err != nil {
		return err
	}
	if err := pub.Publish(ctx, task.Topic, e); err != nil {
		return fmt.Errorf("%w: %w", ErrNotPublished, err)
	}
	return nil
}
