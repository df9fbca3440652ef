package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/request"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

// Handler updates tasks.
type Handler struct {
	Tasks  taskstore.Store
	Events events.Publisher
	Log    *slog.Logger
	Now    func() time.Time
}

// Update serves PATCH /users/{user_id}/tasks/{task_id}.
func (h *Handler) Update(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	userID, taskID, err := taskapi.IDs(r)
	if err != nil {
		return err
	}
	var patch map[string]json.RawMessage
	if err := request.DecodeJSON(r, &patch, request.AcceptMergePatch()); err != nil {
		return err
	}
	// Another writer may change the task between our read and our write:
	// the patch is then re-applied to the fresh task.
	var updated task.Task
	err = state.RetryOnConflict(ctx, taskstore.Reapply, taskstore.ErrConflict, func() error {
		cur, v, err := h.Tasks.Get(ctx, userID, taskID)
		if err != nil {
			return err
		}
		if updated, err = cur.ApplyPatch(patch, h.Now()); err != nil {
			return err
		}
		return h.Tasks.Update(ctx, updated, v)
	})
	if err != nil {
		return err
	}
	if err := taskapi.Publish(ctx, h.Events, task.EventUpdated, updated); err != nil {
		return err
	}
	return fn.JSON(w, http.StatusOK, updated)
}
