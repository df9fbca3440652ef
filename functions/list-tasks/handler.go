package main

import (
	"log/slog"
	"net/http"

	"github.com/todo-chatbot/functions/shared/task"
	"github.com/todo-chatbot/functions/shared/taskapi"
	"github.com/todo-chatbot/functions/shared/taskstore"
)

// Handler reads tasks.
type Handler struct {
	Tasks taskstore.Store
	Log   *slog.Logger
}

// Page is one page of a listing; NextCursor is null on the last page.
type Page struct {
	Items      []task.Task `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

// Routes serves GET /users/{user_id}/tasks and .../tasks/{task_id}.
func (h *Handler) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{user_id}/tasks", h.list)
	mux.HandleFunc("GET /users/{user_id}/tasks/{task_id}", h.get)
	return mux
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	userID, taskID, err := taskapi.IDs(r)
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	t, _, err := h.Tasks.Get(ctx, userID, taskID)
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	taskapi.WriteJSON(w, http.StatusOK, t)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	userID, _, err := taskapi.IDs(r)
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	q, err := task.ParseQuery(r.URL.Query())
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	all, err := h.Tasks.List(ctx, userID)
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	items, next, err := q.Apply(all)
	if err != nil {
		taskapi.WriteError(ctx, h.Log, w, err)
		return
	}
	page := Page{Items: items}
	if page.Items == nil {
		page.Items = []task.Task{}
	}
	if next != "" {
		page.NextCursor = &next
	}
	taskapi.WriteJSON(w, http.StatusOK, page)
}
