// Command complete-task marks a task done, creates the next occurrence of
// a recurring task (exactly one, even when retried) and publishes
// com.todo.task.completed.v1 (and .created.v1 for the occurrence).
// Trigger: HTTP (POST /users/{user_id}/tasks/{task_id}/complete).
package main

import (
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func main() {
	fn.Main("complete-task", func(f *fn.Function) error {
		serve(f, &Handler{Tasks: taskstore.NewDapr(f.State()), Events: f.Publisher(), Log: f.Logger(), Now: time.Now})
		return nil
	})
}

// serve declares what complete-task serves; its tests serve the same.
func serve(f *fn.Function, h *Handler) {
	f.MapErrors(taskapi.Problem)
	f.Handle("POST /users/{user_id}/tasks/{task_id}/complete", h.Complete)
}
