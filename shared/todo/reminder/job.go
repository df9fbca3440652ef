package reminder

import (
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/todo/ids"
)

// Job is the data of a reminder job: enough to tell, when it fires,
// whether the task still wants this very reminder.
type Job struct {
	UserID   string    `json:"user_id"`
	TaskID   string    `json:"task_id"`
	RemindAt time.Time `json:"remind_at"`
	// TraceParent and TraceState carry the W3C trace context of the change
	// that scheduled the job, which the job continues when it fires.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
}

// Reconcile asks fire-reminder to check the reminders of some of one
// user's tasks: schedule what is missing, fire what is due and never fired.
type Reconcile struct {
	UserID  string   `json:"user_id"`
	TaskIDs []string `json:"task_ids"`
}

// ReconcileResult says what a reconcile did.
type ReconcileResult struct {
	Checked     int `json:"checked"`
	Scheduled   int `json:"scheduled"`
	Fired       int `json:"fired"`
	Cancelled   int `json:"cancelled"`
	AlreadyDone int `json:"already_done"`
}

// Event is the reminder.due CloudEvent of d. Its id is derived from the
// reminder's identity, so a reminder fired twice (job retry, sweep) is one
// event to consumers.
func (d Due) Event() (cloudevents.Event, error) {
	e, err := events.New(EventDue, d.TaskID, d)
	if err != nil {
		return e, err
	}
	e.SetID(ids.ReminderDue.Of(d.ID()))
	return e, nil
}
