package main

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/idempotency"
	"github.com/todo-chatbot/functions/shared/runtime/request"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

// keyScope prefixes this function's Idempotency-Keys in the shared store.
// Stored keys outlive deploys, so it never changes.
const keyScope = "create-task"

// Handler creates tasks.
type Handler struct {
	Tasks  taskstore.Store
	Keys   idempotency.Keys
	Events events.Publisher
	Log    *slog.Logger
	Now    func() time.Time
}

// Create serves POST /users/{user_id}/tasks.
func (h *Handler) Create(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	userID, _, err := taskapi.IDs(r)
	if err != nil {
		return err
	}
	key, err := idempotency.FromRequest(r)
	if err != nil {
		return err
	}
	var in task.CreateInput
	if err := request.DecodeJSON(r, &in); err != nil {
		return err
	}
	t, err := task.NewFromCreate(userID, in, task.NewID(), h.Now())
	if err != nil {
		return err
	}

	rec := idempotency.Record{ResourceID: t.ID, Fingerprint: idempotency.Fingerprint(in)}
	keyName := keyScope + "/" + userID + "/" + key
	if key != "" {
		held, claimed, err := h.Keys.Claim(ctx, keyName, rec)
		if err != nil {
			return err
		}
		if !claimed {
			if held.Fingerprint != rec.Fingerprint {
				return idempotency.ErrMismatch
			}
			// A retry: finish what the first attempt started, with its id.
			rec = held
			t.ID = held.ResourceID
		}
	}

	err = h.Tasks.Create(ctx, t)
	if errors.Is(err, taskstore.ErrConflict) && key != "" {
		// The first attempt stored it: answer with what it stored.
		t, _, err = h.Tasks.Get(ctx, userID, t.ID)
	}
	if err != nil {
		return err
	}
	if !rec.Published {
		if err := taskapi.Publish(ctx, h.Events, task.EventCreated, t); err != nil {
			return err
		}
		if key != "" {
			if err := h.Keys.Done(ctx, keyName, rec); err != nil {
				h.Log.WarnContext(ctx, "could not mark idempotency key done", "error", err)
			}
		}
	}
	h.Log.InfoContext(ctx, "task created", "task_id", t.ID, "user_id", userID)
	w.Header().Set("Location", "/users/"+userID+"/tasks/"+t.ID)
	return fn.JSON(w, http.StatusCreated, t)
}
