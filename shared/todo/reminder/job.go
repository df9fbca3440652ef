package reminder

import (
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/todo-chatbot/functions/shared/runtime/events"
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

var dueNamespace = uuid.MustParse("7d4c7b9e-3a43-4c8e-9a5e-3f1f1d2b6c11")

// Event is the reminder.due CloudEvent of d. Its id is derived from the
// reminder's identity, so a reminder fired twice (job retry, sweep) is one
// event to consumers.
func (d Due) Event() (cloudevents.Event, error) {
	e, err := events.New(EventDue, d.TaskID, d)
	if err != nil {
		return e, err
	}
	e.SetID(uuid.NewSHA1(dueNamespace, []byte(d.ID())).String())
	return e, nil
}
