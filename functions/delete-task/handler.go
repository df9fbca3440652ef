package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

// Handler deletes tasks.
type Handler struct {
	Tasks taskstore.Store
	// Pending keeps a deletion's event, under heldKey, from before the task
	// is deleted until the event is published: a deleted task can no longer
	// be read, so a retry after a failed publish finds here what to
	// announce.
	Pending state.Records
	Events  events.Publisher
	Log     *slog.Logger
	Now     func() time.Time
}

// Delete serves DELETE /users/{user_id}/tasks/{task_id}.
func (h *Handler) Delete(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	userID, taskID, err := taskapi.IDs(r)
	if err != nil {
		return err
	}
	var gone task.Task
	err = state.RetryOnConflict(ctx, taskstore.Reapply, taskstore.ErrConflict, func() error {
		cur, v, err := h.Tasks.Get(ctx, userID, taskID)
		if err != nil {
			return err
		}
		// The event carries the task as it was, stamped with the deletion
		// time so its id differs from the last update's.
		gone = cur
		gone.UpdatedAt = h.Now().UTC()
		if err := h.Pending.Put(ctx, heldKey(userID, taskID), gone); err != nil {
			return err
		}
		return h.Tasks.Delete(ctx, userID, taskID, v)
	})
	if errors.Is(err, taskstore.ErrNotFound) {
		return h.announceHeld(ctx, w, userID, taskID)
	}
	if err != nil {
		return err
	}
	return h.announce(ctx, w, gone)
}

// announceHeld answers a delete of a task that is not there: 204 after
// publishing the event an earlier attempt held and could not publish,
// else 404.
func (h *Handler) announceHeld(ctx context.Context, w http.ResponseWriter, userID, taskID string) error {
	var gone task.Task
	ok, err := h.Pending.Get(ctx, heldKey(userID, taskID), &gone)
	if err != nil {
		return err
	}
	if !ok {
		return taskstore.ErrNotFound
	}
	return h.announce(ctx, w, gone)
}

func (h *Handler) announce(ctx context.Context, w http.ResponseWriter, gone task.Task) error {
	if err := taskapi.Publish(ctx, h.Events, task.EventDeleted, gone); err != nil {
		return err
	}
	if err := h.Pending.Delete(ctx, heldKey(gone.UserID, gone.ID)); err != nil {
		// Harmless: a later delete of it publishes the same event again.
		h.Log.WarnContext(ctx, "announced deletion still held", "task_id", gone.ID, "error", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// heldFor is how long a deletion's event is held at most: longer than any
// caller keeps retrying.
const heldFor = 24 * time.Hour

func heldKey(userID, taskID string) string { return "deleted/" + userID + "/" + taskID }
