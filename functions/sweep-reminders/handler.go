package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/todo-chatbot/functions/shared/events"
	"github.com/todo-chatbot/functions/shared/metrics"
	"github.com/todo-chatbot/functions/shared/reminder"
	"github.com/todo-chatbot/functions/shared/state"
	"github.com/todo-chatbot/functions/shared/task"
	"github.com/todo-chatbot/functions/shared/taskapi"
	"github.com/todo-chatbot/functions/shared/taskstore"
)

const source = "sweep-reminders"

// Reminders further in the past than this are left alone: they were
// handled (or the user no longer cares), and records of them may have
// expired. The same bounds which tasks are announced overdue.
const lookback = 24 * time.Hour

// Reconciler reconciles one user's reminders (fire-reminder does).
type Reconciler interface {
	Reconcile(ctx context.Context, req reminder.Reconcile) (reminder.ReconcileResult, error)
}

// Marks remembers which tasks were announced overdue.
type Marks interface {
	// Mark records key and reports whether it was new.
	Mark(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Unmark forgets key, so a later Mark of it is new again.
	Unmark(ctx context.Context, key string) error
}

// Handler runs the sweep.
type Handler struct {
	Tasks      taskstore.Store
	Reconciler Reconciler
	Marks      Marks
	Events     events.Publisher
	Log        *slog.Logger
	Now        func() time.Time
}

// Result counts what one sweep did.
type Result struct {
	Users     int
	Tasks     int
	Overdue   int
	Reconcile reminder.ReconcileResult
}

// record adds one run to the sweep metrics.
func (r Result) record(ok bool) {
	outcome := "ok"
	if !ok {
		outcome = "failed"
	}
	metrics.SweepRuns.WithLabelValues(outcome).Inc()
	for kind, n := range map[string]int{
		"tasks":                 r.Tasks,
		"overdue_announced":     r.Overdue,
		"reminders_rescheduled": r.Reconcile.Scheduled,
		"reminders_fired_late":  r.Reconcile.Fired,
		"reminders_cancelled":   r.Reconcile.Cancelled,
	} {
		metrics.SweepFound.WithLabelValues(kind).Add(float64(n))
	}
}

// Sweep runs once over every user's pending tasks. A failure with one user
// does not stop the others; the sweep reports it and the next run retries.
func (h *Handler) Sweep(ctx context.Context) error {
	start := h.Now()
	users, err := h.Tasks.Users(ctx)
	if err != nil {
		return err
	}
	var res Result
	var errs []error
	for _, u := range users {
		if err := h.sweepUser(ctx, u, start, &res); err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", u, err))
		}
	}
	res.Users = len(users)
	res.record(len(errs) == 0)
	h.Log.InfoContext(ctx, "sweep done", "users", res.Users, "tasks", res.Tasks, "overdue_announced", res.Overdue,
		"reminders_checked", res.Reconcile.Checked, "rescheduled", res.Reconcile.Scheduled, "fired_late", res.Reconcile.Fired,
		"took_ms", h.Now().Sub(start).Milliseconds(), "failures", len(errs))
	return errors.Join(errs...)
}

func (h *Handler) sweepUser(ctx context.Context, userID string, now time.Time, res *Result) error {
	tasks, err := h.Tasks.List(ctx, userID)
	if err != nil {
		return err
	}
	req := reminder.Reconcile{UserID: userID}
	for _, t := range tasks {
		res.Tasks++
		if t.Completed {
			continue
		}
		if t.RemindAt != nil && t.RemindAt.After(now.Add(-lookback)) {
			req.TaskIDs = append(req.TaskIDs, t.ID)
		}
		if t.DueAt != nil && t.DueAt.Before(now) && t.DueAt.After(now.Add(-lookback)) {
			announced, err := h.announceOverdue(ctx, t)
			if err != nil {
				return err
			}
			if announced {
				res.Overdue++
			}
		}
	}
	if len(req.TaskIDs) == 0 {
		return nil
	}
	r, err := h.Reconciler.Reconcile(ctx, req)
	if err != nil {
		return err
	}
	res.Reconcile.Checked += r.Checked
	res.Reconcile.Scheduled += r.Scheduled
	res.Reconcile.Fired += r.Fired
	res.Reconcile.Cancelled += r.Cancelled
	res.Reconcile.AlreadyDone += r.AlreadyDone
	return nil
}

// announceOverdue publishes the task's overdue event the first time the
// sweep sees it overdue at this due time.
func (h *Handler) announceOverdue(ctx context.Context, t task.Task) (bool, error) {
	key := "overdue/" + t.UserID + "/" + t.ID + "/" + t.DueAt.UTC().Format(time.RFC3339Nano)
	first, err := h.Marks.Mark(ctx, key, 2*lookback)
	if err != nil || !first {
		return false, err
	}
	if err := taskapi.Publish(ctx, h.Events, source, task.EventOverdue, t); err != nil {
		// Not announced: release the mark so the next sweep tries again.
		if uerr := h.Marks.Unmark(ctx, key); uerr != nil {
			h.Log.WarnContext(ctx, "overdue event lost: its mark could not be released", "task_id", t.ID, "error", uerr)
		}
		return false, err
	}
	return true, nil
}

// Invoker calls fire-reminder's POST /reconcile through Dapr service
// invocation, which adds retries, mTLS and access control.
type Invoker struct {
	Client dapr.Client
	AppID  string
}

func (i Invoker) Reconcile(ctx context.Context, req reminder.Reconcile) (reminder.ReconcileResult, error) {
	var res reminder.ReconcileResult
	body, err := json.Marshal(req)
	if err != nil {
		return res, err
	}
	out, err := i.Client.InvokeMethodWithContent(ctx, i.AppID, "reconcile", "post", &dapr.DataContent{ContentType: "application/json", Data: body})
	if err != nil {
		return res, fmt.Errorf("invoke %s/reconcile: %w", i.AppID, err)
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("%s/reconcile answer: %w", i.AppID, err)
	}
	return res, nil
}

// StateMarks keeps marks in a state store with a TTL.
type StateMarks struct{ Store *state.Store }

func (s StateMarks) Mark(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	err := s.Store.Apply(ctx, state.Create(key, struct{}{}).WithTTL(ttl))
	if errors.Is(err, state.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

func (s StateMarks) Unmark(ctx context.Context, key string) error {
	return s.Store.Apply(ctx, state.Delete(key, ""))
}
