// Command send-notification delivers notifications through the
// notify-webhook output binding, with credentials from the secret store,
// and keeps a delivery record of each. Triggers: topic
// todo.reminders.events (each due reminder, delivered once however often
// it arrives), HTTP POST /notifications (the Chat API invokes it through
// Dapr) and GET /users/{user_id}/notifications.
package main

import (
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/notify"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

func main() {
	fn.Main("send-notification", func(f *fn.Function) error {
		f.Dedupe(state.Records{Store: f.DedupeState(), TTL: 24 * time.Hour})
		h := &Handler{
			Records: notify.StateRecords{Store: f.State()},
			Channel: notify.Webhook{
				Client:      f.Dapr(),
				Binding:     fn.Env("NOTIFY_BINDING", "notify-webhook"),
				Secrets:     f.Secrets(),
				SecretName:  fn.Env("NOTIFY_SECRET", "notify-webhook"),
				SecretField: "token",
			},
			Log: f.Logger(),
			Now: time.Now,
		}
		f.Subscribe(fn.Subscription{Topic: reminder.Topic}, h.OnDue)
		f.HTTP(h.Routes())
		return nil
	})
}
