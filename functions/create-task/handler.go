package main

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/idempotency"
	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/request"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

const source = "create-task"

// Handler creates tasks.
type Handler struct {
	Tasks  taskstore.Store
	Keys   idempotency.Keys
	Events events.Publisher
	Log    *slog.Logger
	Now    func() time.Time
}

// Routes serves POST /users/{user_id}/tasks.
func (h *Handler) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /users/{user_id}/tasks", h.create)
	return mux
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	userID, _, err := taskapi.IDs(r)
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	key, err := idempotency.FromRequest(r)
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	var in task.CreateInput
	if err := request.DecodeJSON(r, &in); err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	t, err := task.NewFromCreate(userID, in, task.NewID(), h.Now())
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}

	rec := idempotency.Record{ResourceID: t.ID, Fingerprint: idempotency.Fingerprint(in)}
	keyName := source + "/" + userID + "/" + key
	if key != "" {
		held, claimed, err := h.Keys.Claim(ctx, keyName, rec)
		if err != nil {
			taskapi.WriteError(ctx, h.Log, w, err)
			return
		}
		if !claimed {
			if held.Fingerprint != rec.Fingerprint {
				problem.Write(w, idempotency.ErrMismatch)
				return
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
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	if !rec.Published {
		if err := taskapi.Publish(ctx, h.Events, source, task.EventCreated, t); err != nil {
			h.Log.ErrorContext(ctx, "task stored but its event was not published", "task_id", t.ID, "error", err)
			problem.Write(w, problem.New(http.StatusServiceUnavailable, "the task was stored but its event could not be published; retry with the same Idempotency-Key"))
			return
		}
		if key != "" {
			if err := h.Keys.Done(ctx, keyName, rec); err != nil {
				h.Log.WarnContext(ctx, "could not mark idempotency key done", "error", err)
			}
		}
	}
	h.Log.InfoContext(ctx, "task created", "task_id", t.ID, "user_id", userID)
	w.Header().Set("Location", "/users/"+userID+"/tasks/"+t.ID)
	taskapi.WriteJSON(w, http.StatusCreated, t)
}
