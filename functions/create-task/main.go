// Command create-task validates and stores a new task and publishes
// com.todo.task.created.v1. Trigger: HTTP (POST /users/{user_id}/tasks),
// directly or through Dapr service invocation.
package main

import (
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/idempotency"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func main() {
	fn.Main("create-task", func(f *fn.Function) error {
		serve(f, &Handler{
			Tasks:  taskstore.NewDapr(f.State()),
			Keys:   idempotency.NewKeys(f.DedupeState()),
			Events: f.Publisher(),
			Log:    f.Logger(),
			Now:    time.Now,
		})
		return nil
	})
}

// serve declares what create-task serves; its tests serve the same.
func serve(f *fn.Function, h *Handler) {
	f.MapErrors(taskapi.Problem)
	f.Handle("POST /users/{user_id}/tasks", h.Create)
}
