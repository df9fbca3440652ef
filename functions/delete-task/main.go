// Command delete-task deletes a task and publishes com.todo.task.deleted.v1.
// Trigger: HTTP (DELETE /users/{user_id}/tasks/{task_id}).
package main

import (
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func main() {
	fn.Main("delete-task", func(f *fn.Function) error {
		h := &Handler{
			Tasks:   taskstore.NewDapr(f.State()),
			Pending: state.Records{Store: f.DedupeState(), TTL: heldFor},
			Events:  f.Publisher(),
			Log:     f.Logger(),
			Now:     time.Now,
		}
		f.HTTP(h.Routes())
		return nil
	})
}
