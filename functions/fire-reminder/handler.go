package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/logging"
	"github.com/todo-chatbot/functions/shared/runtime/metrics"
	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/request"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

// maxEarly bounds how long a job that fired before its instant waits for
// it; the scheduler fires on time, so this only absorbs clock rounding.
const maxEarly = 5 * time.Second

// Jobs schedules, reads and cancels one job per task.
type Jobs interface {
	Schedule(ctx context.Context, name string, j reminder.Job, at time.Time) error
	Cancel(ctx context.Context, name string) error
	Get(ctx context.Context, name string) (reminder.Job, error) // ErrNoJob
}

// Handler keeps each task's reminder job in step with the task.
type Handler struct {
	Tasks  taskstore.Store
	Jobs   Jobs
	Fired  state.Records // reminders already sent, under firedKey
	Events events.Publisher
	Log    *slog.Logger
	Now    func() time.Time
}

// OnTaskEvent reschedules the reminder of the task the event is about. It
// reads the task's current state rather than trusting the event, so a
// replayed or reordered event cannot revive a reminder the task dropped.
func (h *Handler) OnTaskEvent(ctx context.Context, e cloudevents.Event) error {
	switch e.Type() {
	case task.EventCreated, task.EventUpdated, task.EventCompleted, task.EventDeleted:
	default:
		return nil // other task events change no reminder
	}
	var t task.Task
	if err := fn.DecodeData(e, &t); err != nil {
		return err
	}
	if request.ValidID(t.ID) != nil || request.ValidID(t.UserID) != nil {
		return fn.Permanent(fmt.Errorf("event %s names an invalid task or user id", e.ID()))
	}
	if e.Type() == task.EventCreated && t.RemindAt == nil {
		// A new task without a reminder has no job to move or cancel: most
		// tasks are like that, and each would otherwise cost a read of the
		// store and a call to the scheduler. A reminder added later comes
		// with its own task.updated.
		return nil
	}
	_, err := h.sync(ctx, t.UserID, t.ID)
	return err
}

// outcome of syncing one task's reminder.
type outcome int

const (
	none outcome = iota
	scheduled
	fired
	cancelled
	alreadyDone
)

// sync makes the task's job match the task: no job when it wants no
// reminder, a job at remind_at when that is ahead, and the reminder fired
// now when it is due and was never sent.
func (h *Handler) sync(ctx context.Context, userID, taskID string) (outcome, error) {
	name := reminder.JobName(taskID)
	t, _, err := h.Tasks.Get(ctx, userID, taskID)
	if errors.Is(err, taskstore.ErrNotFound) {
		// A job is named by task id alone: cancel it only when it is this
		// user's, so naming another user's task cancels nothing.
		if cur, err := h.Jobs.Get(ctx, name); err == nil && cur.UserID != userID {
			return none, nil
		}
		return cancelled, h.Jobs.Cancel(ctx, name)
	}
	if err != nil {
		return none, err
	}
	due, ok := reminder.For(t)
	if !ok {
		return cancelled, h.Jobs.Cancel(ctx, name)
	}
	tc := logging.TraceContext(ctx)
	job := reminder.Job{UserID: userID, TaskID: taskID, RemindAt: due.RemindAt, TraceParent: tc["traceparent"], TraceState: tc["tracestate"]}
	if due.RemindAt.After(h.Now()) {
		// Not due yet, so not fired yet (a reminder never fires before its
		// time): no fired mark to read. Should clocks disagree, the job's
		// own check of the mark still sends nothing twice.
		if cur, err := h.Jobs.Get(ctx, name); err == nil && cur.RemindAt.Equal(job.RemindAt) {
			return none, nil
		}
		if err := h.Jobs.Schedule(ctx, name, job, due.RemindAt); err != nil {
			return none, err
		}
		h.Log.InfoContext(ctx, "reminder scheduled", "task_id", taskID, "remind_at", due.RemindAt)
		return scheduled, nil
	}
	done, err := h.Fired.Marked(ctx, firedKey(due.ID()))
	if err != nil {
		return none, err
	}
	if done {
		return alreadyDone, nil
	}
	return fired, h.fire(ctx, due)
}

// OnJob fires a reminder job, if its task still wants that reminder.
func (h *Handler) OnJob(ctx context.Context, name string, data []byte) error {
	var j reminder.Job
	if err := json.Unmarshal(data, &j); err != nil {
		return fn.Permanent(fmt.Errorf("job %s data: %w", name, err))
	}
	t, _, err := h.Tasks.Get(ctx, j.UserID, j.TaskID)
	if errors.Is(err, taskstore.ErrNotFound) {
		h.Log.InfoContext(ctx, "reminder skipped: task deleted", "task_id", j.TaskID)
		return nil
	}
	if err != nil {
		return err
	}
	due, ok := reminder.For(t)
	if !ok || !due.RemindAt.Equal(j.RemindAt) {
		h.Log.InfoContext(ctx, "reminder skipped: task no longer wants it", "task_id", j.TaskID, "job_remind_at", j.RemindAt)
		return nil
	}
	// A job delivered again (the scheduler retries one whose answer was
	// lost) or after a sweep already fired its reminder sends nothing more.
	if done, err := h.Fired.Marked(ctx, firedKey(due.ID())); err != nil || done {
		return err
	}
	if early := due.RemindAt.Sub(h.Now()); early > 0 {
		// Never remind before the instant asked for.
		if early > maxEarly {
			return fmt.Errorf("job %s fired %s early", name, early)
		}
		select {
		case <-time.After(early):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return h.fire(ctx, due)
}

func (h *Handler) fire(ctx context.Context, due reminder.Due) error {
	e, err := due.Event()
	if err != nil {
		return err
	}
	if err := h.Events.Publish(ctx, reminder.Topic, e); err != nil {
		return err
	}
	if _, err := h.Fired.Mark(ctx, firedKey(due.ID())); err != nil {
		// Sent but not recorded: a later sweep may fire it again, and
		// send-notification drops that duplicate.
		h.Log.WarnContext(ctx, "could not record fired reminder", "reminder", due.ID(), "error", err)
	}
	metrics.Late("fired", due.RemindAt, h.Now())
	h.Log.InfoContext(ctx, "reminder due", "task_id", due.TaskID, "remind_at", due.RemindAt, "late_ms", h.Now().Sub(due.RemindAt).Milliseconds())
	return nil
}

// Reconcile serves POST /reconcile, which sweep-reminders invokes through
// Dapr.
func (h *Handler) Reconcile(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var in reminder.Reconcile
	if err := request.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := request.ValidID(in.UserID); err != nil {
		return invalid("user_id", err)
	}
	// Every id is checked before any is acted on: a rejected request
	// fires and schedules nothing.
	for i, id := range in.TaskIDs {
		if err := request.ValidID(id); err != nil {
			return invalid(fmt.Sprintf("task_ids[%d]", i), err)
		}
	}
	var res reminder.ReconcileResult
	for _, id := range in.TaskIDs {
		out, err := h.sync(ctx, in.UserID, id)
		if err != nil {
			return err
		}
		res.Checked++
		switch out {
		case scheduled:
			res.Scheduled++
		case fired:
			res.Fired++
		case cancelled:
			res.Cancelled++
		case alreadyDone:
			res.AlreadyDone++
		}
	}
	return fn.JSON(w, http.StatusOK, res)
}

func invalid(field string, err error) error {
	return problem.Invalid(problem.FieldError{Field: field, Detail: err.Error()})
}
