package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/metrics"
	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/request"
	"github.com/todo-chatbot/functions/shared/todo/notify"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

// Handler delivers notifications.
type Handler struct {
	Records notify.Records
	Channel notify.Channel
	Log     *slog.Logger
	Now     func() time.Time
}

// OnDue delivers the notification of a due reminder, once.
func (h *Handler) OnDue(ctx context.Context, e cloudevents.Event) error {
	if e.Type() != reminder.EventDue {
		return nil
	}
	var d reminder.Due
	if err := fn.DecodeData(e, &d); err != nil {
		return err
	}
	if request.ValidID(d.UserID) != nil || request.ValidID(d.TaskID) != nil || d.RemindAt.IsZero() {
		return fn.Permanent(fmt.Errorf("reminder event %s lacks a valid user, task or remind_at", e.ID()))
	}
	n, err := h.deliver(ctx, notify.FromDue(d, h.Channel.Name()))
	if err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "reminder notification handled", "notification_id", n.ID, "task_id", d.TaskID,
		"status", n.Status, "late_ms", n.SentAt.Sub(d.RemindAt).Milliseconds())
	return nil
}

// deliver sends n unless its record says it was sent. Only the holder of
// the record's claim sends; a failed attempt gives the claim up, so the
// retry sends again.
func (h *Handler) deliver(ctx context.Context, n notify.Notification) (notify.Notification, error) {
	held, claimed, err := h.Records.Claim(ctx, n)
	if err != nil {
		return n, err
	}
	if !claimed {
		h.Log.InfoContext(ctx, "duplicate notification skipped", "notification_id", n.ID)
		return held, nil
	}
	if err := h.Channel.Deliver(ctx, n); err != nil {
		metrics.Notifications.WithLabelValues(n.Channel, "failed").Inc()
		if rerr := h.Records.Release(ctx, n); rerr != nil {
			h.Log.WarnContext(ctx, "claim kept after a failed delivery: the retry waits for it to lapse", "notification_id", n.ID, "error", rerr)
		}
		return n, err
	}
	sent := h.Now().UTC()
	n.Status, n.SentAt = notify.StatusSent, &sent
	metrics.Notifications.WithLabelValues(n.Channel, "delivered").Inc()
	if n.RemindAt != nil {
		metrics.Late("delivered", *n.RemindAt, sent)
	}
	if err := h.Records.MarkSent(ctx, n); err != nil {
		return n, err
	}
	return n, nil
}

// Send serves POST /notifications.
func (h *Handler) Send(w http.ResponseWriter, r *http.Request) error {
	var in notify.MessageInput
	if err := request.DecodeJSON(r, &in); err != nil {
		return err
	}
	n, err := notify.Message(in, h.Channel.Name())
	if err != nil {
		return err
	}
	if n, err = h.deliver(r.Context(), n); err != nil {
		return errNotDelivered.WithCause(fmt.Errorf("notification %s: %w", n.ID, err))
	}
	return fn.JSON(w, http.StatusAccepted, n)
}

var errNotDelivered = problem.New(http.StatusBadGateway, "the notification channel did not accept the notification")

// List is the body of GET /users/{user_id}/notifications.
type List struct {
	Items []notify.Notification `json:"items"`
}

// List serves GET /users/{user_id}/notifications.
func (h *Handler) List(w http.ResponseWriter, r *http.Request) error {
	userID, err := request.PathID(r, "user_id")
	if err != nil {
		return err
	}
	items, err := h.Records.List(r.Context(), userID)
	if err != nil {
		return err
	}
	return fn.JSON(w, http.StatusOK, List{Items: items})
}
