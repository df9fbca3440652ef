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
	"github.com/todo-chatbot/functions/shared/todo/notify"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

func main() {
	fn.Main("send-notification", func(f *fn.Function) error {
		var c config
		if err := fn.ReadEnv(&c); err != nil {
			return err
		}
		// No runtime dedupe: the delivery record, claimed before sending and
		// marked sent after, already makes a repeated event send nothing.
		serve(f, &Handler{
			Records: notify.StateRecords{Store: f.State()},
			Channel: notify.Webhook{
				Client:  f.Dapr(),
				Binding: c.Binding,
				// A rotated token is picked up within a minute; reading it on
				// every delivery cost a sidecar call each.
				Secrets:     f.Secrets().CachedFor(time.Minute),
				SecretName:  c.Secret,
				SecretField: "token",
			},
			Log: f.Logger(),
			Now: time.Now,
		})
		return nil
	})
}

// config is what send-notification reads from the environment besides the
// runtime's settings.
type config struct {
	Binding string `env:"NOTIFY_BINDING,default=notify-webhook"` // the HTTP output binding
	Secret  string `env:"NOTIFY_SECRET,default=notify-webhook"`  // the secret holding its token
}

// serve declares what send-notification serves; its tests serve the same.
func serve(f *fn.Function, h *Handler) {
	f.Subscribe(fn.Subscription{Topic: reminder.Topic}, h.OnDue)
	f.Handle("POST /notifications", h.Send)
	f.Handle("GET /users/{user_id}/notifications", h.List)
}
