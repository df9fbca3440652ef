package main

import (
	"context"
	"net/http"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

// Handler reads tasks.
type Handler struct {
	Tasks taskstore.Store
}

// Page is one page of a listing; NextCursor is null on the last page.
type Page struct {
	Items      []task.Task `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

// Get serves GET /users/{user_id}/tasks/{task_id}.
func (h *Handler) Get(w http.ResponseWriter, r *http.Request) error {
	userID, taskID, err := taskapi.IDs(r)
	if err != nil {
		return err
	}
	t, _, err := h.Tasks.Get(r.Context(), userID, taskID)
	if err != nil {
		return err
	}
	return fn.JSON(w, http.StatusOK, t)
}

// List serves GET /users/{user_id}/tasks.
func (h *Handler) List(w http.ResponseWriter, r *http.Request) error {
	userID, _, err := taskapi.IDs(r)
	if err != nil {
		return err
	}
	q, err := task.ParseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	items, next, err := h.page(r.Context(), userID, q)
	if err != nil {
		return err
	}
	page := Page{Items: items}
	if next != "" {
		page.NextCursor = &next
	}
	return fn.JSON(w, http.StatusOK, page)
}

// page reads what q's page needs. A creation-order listing reads the
// user's index from the cursor on, about limit tasks when unfiltered and
// at most task.MaxScan when filtered; other orders read every task of the
// user, which taskstore.MaxTasks bounds.
func (h *Handler) page(ctx context.Context, userID string, q task.Query) ([]task.Task, string, error) {
	desc, ok := q.CreationOrder()
	if !ok {
		all, err := h.Tasks.List(ctx, userID)
		if err != nil {
			return nil, "", err
		}
		return q.Apply(all)
	}
	from, err := q.StartAfter()
	if err != nil {
		return nil, "", err
	}
	limit := q.Limit
	if limit == 0 {
		limit = task.DefaultLimit
	}
	n := limit // tasks per read
	if q.Filtered() {
		n = task.MaxLimit
	}
	var scanned []task.Task
	for {
		got, more, err := h.Tasks.Scan(ctx, userID, from, desc, n)
		if err != nil {
			return nil, "", err
		}
		scanned = append(scanned, got...)
		if !more || len(got) == 0 || !q.Filtered() || len(scanned) >= task.MaxScan || q.Count(scanned) >= limit {
			return q.Page(scanned, more)
		}
		last := task.PositionOf(got[len(got)-1])
		from = &last
	}
}
