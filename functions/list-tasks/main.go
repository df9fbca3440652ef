// Command list-tasks returns one task, or a user's tasks filtered,
// searched, sorted and paged. Trigger: HTTP (GET /users/{user_id}/tasks and
// GET /users/{user_id}/tasks/{task_id}).
package main

import (
	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func main() {
	fn.Main("list-tasks", func(f *fn.Function) error {
		serve(f, &Handler{Tasks: taskstore.NewDapr(f.State())})
		return nil
	})
}

// serve declares what list-tasks serves; its tests serve the same.
func serve(f *fn.Function, h *Handler) {
	f.MapErrors(taskapi.Problem)
	f.Handle("GET /users/{user_id}/tasks", h.List)
	f.Handle("GET /users/{user_id}/tasks/{task_id}", h.Get)
}
