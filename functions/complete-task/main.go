// Command complete-task marks a task done, creates the next occurrence of
// a recurring task (exactly one, even when retried) and publishes
// com.todo.task.completed.v1 (and .created.v1 for the occurrence).
// Trigger: HTTP (POST /users/{user_id}/tasks/{task_id}/complete).
package main

import (
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func main() {
	fn.Main("complete-task", func(f *fn.Function) error {
		h := &Handler{Tasks: taskstore.NewDapr(f.State()), Events: f.Publisher(), Log: f.Logger(), Now: time.Now}
		f.HTTP(h.Routes())
		return nil
	})
}
