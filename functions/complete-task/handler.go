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

const source = "complete-task"

const maxAttempts = 5

// Handler completes tasks.
type Handler struct {
	Tasks  taskstore.Store
	Events events.Publisher
	Log    *slog.Logger
	Now    func() time.Time
}

// Routes serves POST /users/{user_id}/tasks/{task_id}/complete.
func (h *Handler) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /users/{user_id}/tasks/{task_id}/complete", h.complete)
	return mux
}

func (h *Handler) complete(w http.ResponseWriter, r *http.Request) {
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
		if cur.Completed {
			// Completing twice is not an error, and changes nothing.
			taskapi.WriteJSON(w, http.StatusOK, cur)
			return
		}
		done, next := cur.Complete(h.Now())
		err = h.Tasks.Complete(ctx, done, v, next)
		if errors.Is(err, taskstore.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			taskapi.WriteError(ctx, h.Log, w, err)
			return
		}
		if err := taskapi.Publish(ctx, h.Events, source, task.EventCompleted, done); err != nil {
			taskapi.WriteError(ctx, h.Log, w, err)
			return
		}
		if next != nil {
			if err := taskapi.Publish(ctx, h.Events, source, task.EventCreated, *next); err != nil {
				taskapi.WriteError(ctx, h.Log, w, err)
				return
			}
			h.Log.InfoContext(ctx, "next occurrence created", "task_id", done.ID, "next_id", next.ID)
		}
		taskapi.WriteJSON(w, http.StatusOK, done)
		return
	}
}
