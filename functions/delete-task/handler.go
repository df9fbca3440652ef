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

const source = "delete-task"

// Handler deletes tasks.
type Handler struct {
	Tasks   taskstore.Store
	Pending Announcements
	Events  events.Publisher
	Log     *slog.Logger
	Now     func() time.Time
}

// Announcements keeps a deletion's event from before the task is deleted
// until the event is published: a deleted task can no longer be read, so
// a retry after a failed publish finds here what to announce.
type Announcements interface {
	Hold(ctx context.Context, gone task.Task) error
	// Held returns the held event's task, ok false when there is none.
	Held(ctx context.Context, userID, taskID string) (gone task.Task, ok bool, err error)
	Release(ctx context.Context, userID, taskID string) error
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
		if err := h.Pending.Hold(ctx, gone); err != nil {
			return err
		}
		return h.Tasks.Delete(ctx, userID, taskID, v)
	})
	if errors.Is(err, taskstore.ErrNotFound) {
		h.announceHeld(ctx, w, userID, taskID)
		return
	}
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	h.announce(ctx, w, gone)
}

// announceHeld answers a delete of a task that is not there: 204 after
// publishing the event an earlier attempt held and could not publish,
// else 404.
func (h *Handler) announceHeld(ctx context.Context, w http.ResponseWriter, userID, taskID string) {
	gone, ok, err := h.Pending.Held(ctx, userID, taskID)
	if err == nil && !ok {
		err = taskstore.ErrNotFound
	}
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	h.announce(ctx, w, gone)
}

func (h *Handler) announce(ctx context.Context, w http.ResponseWriter, gone task.Task) {
	if err := taskapi.Publish(ctx, h.Events, source, task.EventDeleted, gone); err != nil {
		taskapi.WriteNotPublished(ctx, h.Log, w, err)
		return
	}
	if err := h.Pending.Release(ctx, gone.UserID, gone.ID); err != nil {
		// Harmless: a later delete of it publishes the same event again.
		h.Log.WarnContext(ctx, "announced deletion still held", "task_id", gone.ID, "error", err)
	}
	w.WriteHeader(http.StatusNoContent)
}

// heldFor is how long a deletion's event is held at most: longer than any
// caller keeps retrying.
const heldFor = 24 * time.Hour

// StateAnnouncements holds deletion events in a Dapr state store.
type StateAnnouncements struct{ Store *state.Store }

func heldKey(userID, taskID string) string { return "deleted/" + userID + "/" + taskID }

func (s StateAnnouncements) Hold(ctx context.Context, gone task.Task) error {
	return s.Store.Apply(ctx, state.Put(heldKey(gone.UserID, gone.ID), gone, "").WithTTL(heldFor))
}

func (s StateAnnouncements) Held(ctx context.Context, userID, taskID string) (task.Task, bool, error) {
	var gone task.Task
	_, err := s.Store.Get(ctx, heldKey(userID, taskID), &gone)
	if errors.Is(err, state.ErrNotFound) {
		return gone, false, nil
	}
	return gone, err == nil, err
}

func (s StateAnnouncements) Release(ctx context.Context, userID, taskID string) error {
	return s.Store.Apply(ctx, state.Delete(heldKey(userID, taskID), ""))
}
