package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

const source = "complete-task"

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
	var done task.Task
	var next *task.Task
	again := false
	err = state.RetryOnConflict(ctx, taskstore.Reapply, taskstore.ErrConflict, func() error {
		cur, v, err := h.Tasks.Get(ctx, userID, taskID)
		if err != nil {
			return err
		}
		if again = cur.Completed; again {
			done = cur
			return nil
		}
		done, next = cur.Complete(h.Now())
		return h.Tasks.Complete(ctx, done, v, next)
	})
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	if again {
		// Completing twice is not an error and changes nothing, but it
		// announces the completion again: the first request may have
		// stored it and failed to publish. The events are the same ones
		// (same ids), so consumers act on them once.
		h.announce(ctx, w, done, h.storedNext(ctx, done))
		return
	}
	if next != nil {
		h.Log.InfoContext(ctx, "next occurrence created", "task_id", done.ID, "next_id", next.ID)
	}
	h.announce(ctx, w, done, next)
}

// announce publishes the completion of done and the creation of next (if
// any), then answers with done.
func (h *Handler) announce(ctx context.Context, w http.ResponseWriter, done task.Task, next *task.Task) {
	if err := taskapi.Publish(ctx, h.Events, source, task.EventCompleted, done); err != nil {
		taskapi.WriteNotPublished(ctx, h.Log, w, err)
		return
	}
	if next != nil {
		if err := taskapi.Publish(ctx, h.Events, source, task.EventCreated, *next); err != nil {
			taskapi.WriteNotPublished(ctx, h.Log, w, err)
			return
		}
	}
	taskapi.WriteJSON(w, http.StatusOK, done)
}

// storedNext is the next occurrence that completing done created, as it
// was stored then, while it is unchanged since (once changed, its own
// events have told its story).
func (h *Handler) storedNext(ctx context.Context, done task.Task) *task.Task {
	if done.CompletedAt == nil {
		return nil
	}
	n, ok := done.NextOccurrence(*done.CompletedAt)
	if !ok {
		return nil
	}
	stored, _, err := h.Tasks.Get(ctx, done.UserID, n.ID)
	if err != nil || !stored.UpdatedAt.Equal(stored.CreatedAt) {
		return nil
	}
	return &stored
}
