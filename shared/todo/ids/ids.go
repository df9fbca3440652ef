// Package ids derives deterministic ids: a UUIDv5 of what a thing is, so
// that a retried request or a redelivered event names the same task, event
// or notification as the first attempt did, and storing or publishing it
// again repeats rather than duplicates it.
package ids

import (
	"strings"

	"github.com/google/uuid"
)

// Space is the UUIDv5 namespace of one kind of id: the same name in two
// spaces gives two ids. A space's UUID never changes, or every id derived
// in it would.
type Space struct{ ns uuid.UUID }

// The spaces, one per kind of derived id.
var (
	// Occurrence names the next occurrence of a recurring task.
	Occurrence = space("547764cf-d210-4491-b39f-cce83a493059")
	// TaskEvent names the event of one change to a task.
	TaskEvent = space("1b671a64-40d5-491e-99b0-da01ff1f9341")
	// ReminderDue names the reminder.due event of one reminder.
	ReminderDue = space("7d4c7b9e-3a43-4c8e-9a5e-3f1f1d2b6c11")
	// Notification names the notification of one reminder.
	Notification = space("c6f0f0a2-5c51-4a55-8f3e-4b8f0f6d2a90")
)

func space(ns string) Space { return Space{ns: uuid.MustParse(ns)} }

// Of returns the id of the thing that parts identify, joined by NUL (which
// no part contains), so that ("ab", "c") and ("a", "bc") differ.
func (s Space) Of(parts ...string) string {
	return uuid.NewSHA1(s.ns, []byte(strings.Join(parts, "\x00"))).String()
}
