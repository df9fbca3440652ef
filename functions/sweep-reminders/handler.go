package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/metrics"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskapi"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

// The window of one run. A run covers the agenda from its previous
// successful run (less overlap, for writes that committed late) to ahead
// of now, so a reminder due before the next run has its job checked in
// time. Reminders and due times further back than lookback are left
// alone: they were handled (or the user no longer cares), and records of
// them may have expired; the first run, or one after a long outage, looks
// back that far.
const (
	lookback = taskstore.AgendaRetention
	overlap  = 5 * time.Minute
	ahead    = 2 * time.Minute
)

// overdueMarked is how long a task's overdue announcement is remembered:
// longer than the lookback window it guards.
const overdueMarked = 2 * lookback

// Reconciler reconciles one user's reminders (fire-reminder does).
type Reconciler interface {
	Reconcile(ctx context.Context, req reminder.Reconcile) (reminder.ReconcileResult, error)
}

// Progress remembers when the last run that did all its work started.
type Progress interface {
	// Last is that time, zero when there was none.
	Last(ctx context.Context) (time.Time, error)
	Save(ctx context.Context, at time.Time) error
}

// Handler runs the sweep.
type Handler struct {
	Tasks      taskstore.Store
	Reconciler Reconciler
	Marks      state.Records // tasks announced overdue, for overdueMarked
	Progress   Progress
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

// window is the span of agenda minutes one run reads, and when it started.
type window struct{ from, now, to time.Time }

// Sweep runs once over the agenda since the previous run. A failure with
// one user does not stop the others; the sweep reports it and, as it does
// not record its progress then, the next run covers the same times again.
func (h *Handler) Sweep(ctx context.Context) (err error) {
	var res Result
	// Every run counts, a failed one too, however early it failed.
	defer func() { res.record(err == nil) }()
	start := h.Now()
	w := window{from: start.Add(-lookback), now: start, to: start.Add(ahead)}
	last, err := h.Progress.Last(ctx)
	if err != nil {
		return err
	}
	if since := last.Add(-overlap); since.After(w.from) {
		w.from = since
	}
	tasks, err := h.Tasks.Agenda(ctx, w.from, w.to)
	if err != nil {
		return err
	}
	byUser := map[string][]task.Task{}
	for _, t := range tasks {
		byUser[t.UserID] = append(byUser[t.UserID], t)
	}
	res = Result{Users: len(byUser), Tasks: len(tasks)}
	var errs []error
	for _, u := range slices.Sorted(maps.Keys(byUser)) {
		if err := h.sweepUser(ctx, u, byUser[u], w, &res); err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", u, err))
		}
	}
	if len(errs) == 0 {
		if err := h.Progress.Save(ctx, start); err != nil {
			errs = append(errs, err)
		}
	}
	h.Log.InfoContext(ctx, "sweep done", "from", w.from, "to", w.to, "users", res.Users, "tasks", res.Tasks, "overdue_announced", res.Overdue,
		"reminders_checked", res.Reconcile.Checked, "rescheduled", res.Reconcile.Scheduled, "fired_late", res.Reconcile.Fired,
		"took_ms", h.Now().Sub(start).Milliseconds(), "failures", len(errs))
	return errors.Join(errs...)
}

// in reports whether at is set and within (from, to).
func in(at *time.Time, from, to time.Time) bool {
	return at != nil && at.After(from) && at.Before(to)
}

func (h *Handler) sweepUser(ctx context.Context, userID string, tasks []task.Task, w window, res *Result) error {
	req := reminder.Reconcile{UserID: userID}
	for _, t := range tasks {
		if t.Completed {
			continue
		}
		// The agenda bounds what a run reads; a time filed late (set in
		// the past) is still within lookback.
		if in(t.RemindAt, w.now.Add(-lookback), w.to) {
			req.TaskIDs = append(req.TaskIDs, t.ID)
		}
		if in(t.DueAt, w.now.Add(-lookback), w.now) {
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
	first, err := h.Marks.Mark(ctx, key)
	if err != nil || !first {
		return false, err
	}
	if err := taskapi.Publish(ctx, h.Events, task.EventOverdue, t); err != nil {
		// Not announced: release the mark so the next sweep tries again.
		if uerr := h.Marks.Delete(ctx, key); uerr != nil {
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

// progressKey holds the start of the last complete run, in the tasks store.
const progressKey = "sweep/progress"

// StateProgress keeps the sweep's progress in a state store. Two replicas
// sweeping at once may overwrite each other's time: the next run then
// covers a little more, which repeats nothing a run does twice.
type StateProgress struct{ Store *state.Store }

func (s StateProgress) Last(ctx context.Context) (time.Time, error) {
	var at time.Time
	_, err := s.Store.Get(ctx, progressKey, &at)
	if errors.Is(err, state.ErrNotFound) {
		return time.Time{}, nil
	}
	return at, err
}

func (s StateProgress) Save(ctx context.Context, at time.Time) error {
	return s.Store.Apply(ctx, state.Put(progressKey, at.UTC(), ""))
}
