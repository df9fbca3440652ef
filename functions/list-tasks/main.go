// Command list-tasks returns one task, or a user's tasks filtered,
// searched, sorted and paged. Trigger: HTTP (GET /users/{user_id}/tasks and
// GET /users/{user_id}/tasks/{task_id}).
package main

import (
	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func main() {
	fn.Main("list-tasks", func(f *fn.Function) error {
		h := &Handler{Tasks: taskstore.NewDapr(f.State()), Log: f.Logger()}
		f.HTTP(h.Routes())
		return nil
	})
}
