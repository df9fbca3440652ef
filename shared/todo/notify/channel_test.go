package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/logging"
	"github.com/todo-chatbot/functions/shared/runtime/secret"
	"github.com/todo-chatbot/functions/shared/todo/notify"
)

type bindingCall struct {
	got *dapr.InvokeBindingRequest
	err error
}

func (b *bindingCall) InvokeOutputBinding(_ context.Context, in *dapr.InvokeBindingRequest) error {
	b.got = in
	return b.err
}

type secrets map[string]string

func (s secrets) Get(_ context.Context, name, key string) (secret.Value, error) {
	v, ok := s[name+"/"+key]
	if !ok {
		return secret.Value{}, errors.New("no such secret")
	}
	return secret.NewValue(v), nil
}

const hookToken = "tok-3f9a1c"

func webhook(b *bindingCall) notify.Webhook {
	return notify.Webhook{Client: b, Binding: "notify-webhook", Secrets: secrets{"notify-webhook/token": hookToken}, SecretName: "notify-webhook", SecretField: "token"}
}

func TestWebhookDeliver(t *testing.T) {
	t.Parallel()
	n, err := notify.Message(notify.MessageInput{UserID: "u1", Title: "hello"}, "webhook")
	require.NoError(t, err)
	b := &bindingCall{}
	require.NoError(t, webhook(b).Deliver(context.Background(), n))

	require.NotNil(t, b.got)
	assert.Equal(t, "notify-webhook", b.got.Name)
	assert.Equal(t, "post", b.got.Operation)
	assert.Equal(t, "Bearer "+hookToken, b.got.Metadata["Authorization"])
	assert.Equal(t, n.ID, b.got.Metadata["Idempotency-Key"], "the receiver drops a repeat by its id")
	var sent notify.Notification
	require.NoError(t, json.Unmarshal(b.got.Data, &sent))
	assert.Equal(t, n.ID, sent.ID)
	assert.Equal(t, "hello", sent.Title)
}

func TestWebhookDeliverCarriesTheTrace(t *testing.T) {
	t.Parallel()
	n, err := notify.Message(notify.MessageInput{UserID: "u1", Title: "hello"}, "webhook")
	require.NoError(t, err)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	b := &bindingCall{}
	require.NoError(t, webhook(b).Deliver(logging.WithTraceParent(context.Background(), tp), n))
	assert.Equal(t, tp, b.got.Metadata["traceparent"])

	require.NoError(t, webhook(b).Deliver(context.Background(), n))
	assert.NotContains(t, b.got.Metadata, "traceparent", "no trace, no header: never an empty one")
}

func TestWebhookDeliverErrors(t *testing.T) {
	t.Parallel()
	n, err := notify.Message(notify.MessageInput{UserID: "u1", Title: "hello"}, "webhook")
	require.NoError(t, err)

	b := &bindingCall{err: errors.New("connection refused")}
	err = webhook(b).Deliver(context.Background(), n)
	require.Error(t, err)
	assert.Contains(t, err.Error(), n.ID)
	assert.NotContains(t, err.Error(), hookToken)

	w := webhook(&bindingCall{})
	w.SecretField = "missing"
	err = w.Deliver(context.Background(), n)
	require.ErrorContains(t, err, "webhook credentials")
}
