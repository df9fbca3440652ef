// Command fire-reminder owns the reminder jobs. Triggers: topic
// todo.tasks.events (a task's reminder is scheduled, moved or cancelled
// as the task changes), Dapr jobs reminder-<task id> (publish
// com.todo.reminder.due.v1 on todo.reminders.events), HTTP POST /reconcile
// (invoked by sweep-reminders), and /events/wake (a Knative PingSource that
// wakes it from zero so the scheduler can deliver held jobs).
package main

import (
	"context"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func main() {
	fn.Main("fire-reminder", func(f *fn.Function) error {
		// No runtime dedupe: the handler syncs from the stored task and
		// marks what it fired, so a repeated event changes nothing, and a
		// record per event would cost two sidecar calls for each.
		serve(f, &Handler{
			Tasks:  taskstore.NewDapr(f.State()),
			Jobs:   DaprJobs{Client: f.Dapr()},
			Fired:  state.Records{Store: f.DedupeState(), TTL: firedTTL},
			Events: f.Publisher(),
			Log:    f.Logger(),
			Now:    time.Now,
		})
		return nil
	})
}

// serve declares what fire-reminder serves; its tests serve the same.
func serve(f *fn.Function, h *Handler) {
	f.MapErrors(taskapi.Problem)
	f.Subscribe(fn.Subscription{Topic: task.Topic}, h.OnTaskEvent)
	f.Job(reminder.JobName(""), h.OnJob)
	f.Handle("POST /reconcile", h.Reconcile)
	// Waking is all it is for: held jobs reach a running sidecar.
	f.Event("/events/wake", func(context.Context, cloudevents.Event) error { return nil })
}
