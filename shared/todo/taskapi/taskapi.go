// Package taskapi is what the task functions' HTTP handlers share: reading
// ids from the path, answering JSON or problems, and publishing the one
// event each mutation emits.
package taskapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers err as a problem: a missing task (or another user's)
// is 404, a lost race or a full task list 409, a problem keeps its status, anything else is
// logged and answered 500 without detail.
func WriteError(ctx context.Context, log *slog.Logger, w http.ResponseWriter, err error) {
	var p *problem.Problem
	switch {
	case errors.As(err, &p):
	case errors.Is(err, taskstore.ErrNotFound):
		err = problem.New(http.StatusNotFound, "no such task")
	case errors.Is(err, taskstore.ErrFull):
		err = problem.New(http.StatusConflict, fmt.Sprintf("the user has %d tasks, the most allowed; delete some first", taskstore.MaxTasks))
	case errors.Is(err, taskstore.ErrConflict):
		err = problem.New(http.StatusConflict, "the task changed while this request ran; retry")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		err = problem.New(http.StatusServiceUnavailable, "the request was cancelled")
	default:
		log.ErrorContext(ctx, "request failed", "error", err)
	}
	problem.Write(w, err)
}

// WriteNotPublished answers a change that was stored but whose event
// could not be published: 503, so the caller retries rather than taking it
// for a bad request or a bug.
func WriteNotPublished(ctx context.Context, log *slog.Logger, w http.ResponseWriter, err error) {
	log.ErrorContext(ctx, "change stored but its event was not published", "error", err)
	problem.Write(w, problem.New(http.StatusServiceUnavailable, "the change was stored but its event could not be published; retry the request"))
}

// Event is the CloudEvent of one change to t. Its id is derived from the
// change (type, task, updated_at), so publishing it again after a retry
// yields the same id and consumers process it once.
func Event(source, eventType string, t task.Task) (cloudevents.Event, error) {
	e, err := events.New(source, eventType, t.ID, t)
	if err != nil {
		return e, err
	}
	e.SetID(ids.TaskEvent.Of(eventType, t.UserID, t.ID, t.UpdatedAt.UTC().Format(time.RFC3339Nano)))
	return e, nil
}

// Publish emits the event of one change to t on the task topic.
func Publish(ctx context.Context, pub events.Publisher, source, eventType string, t task.Task) error {
	e, err := Event(source, eventType, t)
	if err != nil {
		return err
	}
	return pub.Publish(ctx, task.Topic, e)
}
