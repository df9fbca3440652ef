// Command delete-task deletes a task and publishes com.todo.task.deleted.v1.
// Trigger: HTTP (DELETE /users/{user_id}/tasks/{task_id}).
package main

import (
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func main() {
	fn.Main("delete-task", func(f *fn.Function) error {
		serve(f, &Handler{
			Tasks:   taskstore.NewDapr(f.State()),
			Pending: state.Records{Store: f.DedupeState(), TTL: heldFor},
			Events:  f.Publisher(),
			Log:     f.Logger(),
			Now:     time.Now,
		})
		return nil
	})
}

// serve declares what delete-task serves; its tests serve the same.
func serve(f *fn.Function, h *Handler) {
	f.MapErrors(taskapi.Problem)
	f.Handle("DELETE /users/{user_id}/tasks/{task_id}", h.Delete)
}
