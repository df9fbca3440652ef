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
		var c config
		if err := fn.ReadEnv(&c); err != nil {
			return err
		}
		serve(f, c.Binding, &Handler{
			Tasks:      taskstore.NewDapr(f.State()),
			Reconciler: Invoker{Client: f.Dapr(), AppID: c.FireReminder},
			Marks:      state.Records{Store: f.DedupeState(), TTL: overdueMarked},
			Progress:   StateProgress{Store: f.State()},
			Events:     f.Publisher(),
			Log:        f.Logger(),
			Now:        time.Now,
		})
		return nil
	})
}

// config is what sweep-reminders reads from the environment besides the
// runtime's settings.
type config struct {
	Binding      string `env:"SWEEP_BINDING,default=reminder-sweep"`       // the cron input binding
	FireReminder string `env:"FIRE_REMINDER_APP_ID,default=fire-reminder"` // the app-id it asks to reconcile
}

// serve declares what sweep-reminders serves.
func serve(f *fn.Function, binding string, h *Handler) {
	f.Cron(binding, h.Sweep)
}
