package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

// Handler completes tasks.
type Handler struct {
	Tasks  taskstore.Store
	Events events.Publisher
	Log    *slog.Logger
	Now    func() time.Time
}

// Complete serves POST /users/{user_id}/tasks/{task_id}/complete.
func (h *Handler) Complete(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	userID, taskID, err := taskapi.IDs(r)
	if err != nil {
		return err
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
		return err
	}
	if again {
		// Completing twice is not an error and changes nothing, but it
		// announces the completion again: the first request may have
		// stored it and failed to publish. The events are the same ones
		// (same ids), so consumers act on them once.
		return h.announce(ctx, w, done, h.storedNext(ctx, done))
	}
	if next != nil {
		h.Log.InfoContext(ctx, "next occurrence created", "task_id", done.ID, "next_id", next.ID)
	}
	return h.announce(ctx, w, done, next)
}

// announce publishes the completion of done and the creation of next (if
// any), then answers with done.
func (h *Handler) announce(ctx context.Context, w http.ResponseWriter, done task.Task, next *task.Task) error {
	if err := taskapi.Publish(ctx, h.Events, task.EventCompleted, done); err != nil {
		return err
	}
	if next != nil {
		if err := taskapi.Publish(ctx, h.Events, task.EventCreated, *next); err != nil {
			return err
		}
	}
	return fn.JSON(w, http.StatusOK, done)
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
