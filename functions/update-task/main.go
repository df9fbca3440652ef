// Command update-task applies a JSON merge patch to a task and publishes
// com.todo.task.updated.v1. Trigger: HTTP (PATCH
// /users/{user_id}/tasks/{task_id}), directly or through Dapr invocation.
package main

import (
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func main() {
	fn.Main("update-task", func(f *fn.Function) error {
		serve(f, &Handler{Tasks: taskstore.NewDapr(f.State()), Events: f.Publisher(), Log: f.Logger(), Now: time.Now})
		return nil
	})
}

// serve declares what update-task serves; its tests serve the same.
func serve(f *fn.Function, h *Handler) {
	f.MapErrors(taskapi.Problem)
	f.Handle("PATCH /users/{user_id}/tasks/{task_id}", h.Update)
}
