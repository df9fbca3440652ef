// Package reminder names the scheduled jobs that remind users of tasks and
// the event they fire.
package reminder

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/todo-chatbot/functions/shared/todo/task"
)

// Topic is the pub/sub topic reminder events are published on, keyed by
// task id.
const Topic = "todo.reminders.events"

// EventDue is the CloudEvent type of a reminder that has come due; its
// data is a Due.
const EventDue = "com.todo.reminder.due.v1"

const jobPrefix = "reminder-"

// Due is the data of an EventDue event. DueAt is null for a task that has
// a reminder but no due date.
type Due struct {
	TaskID   string     `json:"task_id"`
	UserID   string     `json:"user_id"`
	Title    string     `json:"title"`
	DueAt    *time.Time `json:"due_at"`
	RemindAt time.Time  `json:"remind_at"`
}

// MarshalJSON writes times in UTC, as the event schema requires, however
// the Due was built.
func (d Due) MarshalJSON() ([]byte, error) {
	type plain Due // drops this method, so Marshal does not recurse
	p := plain(d)
	p.RemindAt = p.RemindAt.UTC()
	if p.DueAt != nil {
		due := p.DueAt.UTC()
		p.DueAt = &due
	}
	return json.Marshal(p)
}

// For returns the reminder of t, and false when there is none to send: t
// has no remind_at or is already completed.
func For(t task.Task) (Due, bool) {
	if t.RemindAt == nil || t.Completed {
		return Due{}, false
	}
	d := Due{TaskID: t.ID, UserID: t.UserID, Title: t.Title, RemindAt: t.RemindAt.UTC()}
	if t.DueAt != nil {
		due := t.DueAt.UTC()
		d.DueAt = &due
	}
	return d, true
}

// ID is the identity of one reminder, the key to dedupe it on: the task
// and the instant it reminds at. Moving remind_at makes a new reminder;
// firing the same one twice does not.
func (d Due) ID() string {
	return ID(d.TaskID, d.RemindAt)
}

// JobName is the name of the scheduled job that fires taskID's reminder.
// A task has at most one, so rescheduling replaces it. taskID must be a
// valid id (request.ValidID), which keeps the name safe in a job API path.
func JobName(taskID string) string {
	return jobPrefix + taskID
}

// TaskID returns the task id in a job name made by JobName.
func TaskID(jobName string) (string, bool) {
	id, ok := strings.CutPrefix(jobName, jobPrefix)
	return id, ok && id != ""
}

// ID is the identity of the reminder of taskID at remindAt: the task id
// and the UTC instant, joined by '@'. Task ids may contain '@', but the
// instant never does, so the last '@' splits it unambiguously.
func ID(taskID string, remindAt time.Time) string {
	return taskID + "@" + remindAt.UTC().Format(time.RFC3339Nano)
}
