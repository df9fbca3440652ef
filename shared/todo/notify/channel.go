package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/todo-chatbot/functions/shared/runtime/logging"
	"github.com/todo-chatbot/functions/shared/runtime/secret"
)

// Channel delivers a notification to its user.
type Channel interface {
	Name() string
	Deliver(ctx context.Context, n Notification) error
}

// BindingInvoker is the part of the Dapr client a Webhook uses.
type BindingInvoker interface {
	InvokeOutputBinding(ctx context.Context, in *dapr.InvokeBindingRequest) error
}

// SecretGetter reads one field of one secret.
type SecretGetter interface {
	Get(ctx context.Context, name, key string) (secret.Value, error)
}

// Webhook posts notifications through a Dapr HTTP output binding, with a
// bearer token read from the secret store on each delivery (so a rotated
// token is picked up without a restart) and the notification's id as
// Idempotency-Key: a delivery whose answer was lost is sent again with the
// same id, and the receiver drops it.
type Webhook struct {
	Client      BindingInvoker
	Binding     string // the output binding component, e.g. notify-webhook
	Secrets     SecretGetter
	SecretName  string // e.g. notify-webhook
	SecretField string // e.g. token
}

func (w Webhook) Name() string { return "webhook" }

func (w Webhook) Deliver(ctx context.Context, n Notification) error {
	token, err := w.Secrets.Get(ctx, w.SecretName, w.SecretField)
	if err != nil {
		return fmt.Errorf("webhook credentials: %w", err)
	}
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	// The binding sends its metadata as HTTP headers: the receiver gets the
	// reminder's trace context too.
	headers := map[string]string{
		"Authorization":   "Bearer " + token.Reveal(),
		"Content-Type":    "application/json",
		"Idempotency-Key": n.ID,
	}
	maps.Copy(headers, logging.TraceContext(ctx))
	err = w.Client.InvokeOutputBinding(ctx, &dapr.InvokeBindingRequest{
		Name:      w.Binding,
		Operation: "post",
		Data:      body,
		Metadata:  headers,
	})
	if err != nil {
		return fmt.Errorf("deliver %s through %s: %w", n.ID, w.Binding, err)
	}
	return nil
}
