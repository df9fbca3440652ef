package main

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/todo-chatbot/functions/shared/events"
	"github.com/todo-chatbot/functions/shared/task"
	"github.com/todo-chatbot/functions/shared/taskapi"
	"github.com/todo-chatbot/functions/shared/taskstore"
)

const source = "delete-task"

const maxAttempts = 5

// Handler deletes tasks.
type Handler struct {
	Tasks  taskstore.Store
	Events events.Publisher
	Log    *slog.Logger
	Now    func() time.Time
}

// Routes serves DELETE /users/{user_id}/tasks/{task_id}.
func (h *Handler) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("DELETE /users/{user_id}/tasks/{task_id}", h.delete)
	return mux
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	userID, taskID, err := taskapi.IDs(r)
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	for attempt := 1; ; attempt++ {
		cur, v, err := h.Tasks.Get(ctx, userID, taskID)
		if err != nil {
			taskapi.WriteError(ctx, h.Log, w, err)
			return
		}
		err = h.Tasks.Delete(ctx, userID, taskID, v)
		if errors.Is(err, taskstore.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			taskapi.WriteError(ctx, h.Log, w, err)
			return
		}
		// The event carries the task as it was, stamped with the deletion
		// time so its id differs from the last update's.
		cur.UpdatedAt = h.Now().UTC()
		if err := taskapi.Publish(ctx, h.Events, source, task.EventDeleted, cur); err != nil {
			taskapi.WriteNotPublished(ctx, h.Log, w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
}
