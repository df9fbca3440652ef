// Command sweep-reminders is the periodic safety net of reminders. Trigger:
// the reminder-sweep Dapr cron binding (and a Knative PingSource on
// /events/reminder-sweep). Each run asks fire-reminder, through Dapr
// service invocation, to reconcile the reminders due since the previous
// run (re-schedule a missing job, fire a due one that never fired) and
// publishes com.todo.task.overdue.v1 once for each task past its due time.
// It reads the task store's agenda for those minutes only, never every
// user's tasks.
package main

import (
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func main() {
	fn.Main("sweep-reminders", func(f *fn.Function) error {
		h := &Handler{
			Tasks:      taskstore.NewDapr(f.State()),
			Reconciler: Invoker{Client: f.Dapr(), AppID: fn.Env("FIRE_REMINDER_APP_ID", "fire-reminder")},
			Marks:      state.Records{Store: f.DedupeState(), TTL: overdueMarked},
			Progress:   StateProgress{Store: f.State()},
			Events:     f.Publisher(),
			Log:        f.Logger(),
			Now:        time.Now,
		}
		f.Cron(fn.Env("SWEEP_BINDING", "reminder-sweep"), h.Sweep)
		return nil
	})
}
