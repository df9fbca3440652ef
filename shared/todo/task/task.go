// Package task is the Task model and its rules: what a valid task is, how
// create and merge-patch requests change one, what completing a recurring
// task produces, and how a list of tasks is filtered, sorted and paged.
// It is pure: callers load and store tasks and publish the events.
package task

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/todo-chatbot/functions/shared/todo/ids"
)

// Topic is the pub/sub topic every task event is published on, keyed by
// task id so one task's events stay in order.
const Topic = "todo.tasks.events"

// CloudEvent types of task events. Each carries the whole task as its data.
const (
	EventCreated   = "com.todo.task.created.v1"
	EventUpdated   = "com.todo.task.updated.v1"
	EventCompleted = "com.todo.task.completed.v1"
	EventDeleted   = "com.todo.task.deleted.v1"
	EventOverdue   = "com.todo.task.overdue.v1"
)

// Priority says how important a task is.
type Priority string

// Priorities, from most to least important.
const (
	PriorityHigh   Priority = "high"
	PriorityMedium Priority = "medium"
	PriorityLow    Priority = "low"
)

func (p Priority) valid() bool {
	return p == PriorityHigh || p == PriorityMedium || p == PriorityLow
}

// rank orders priorities most important first; unknown ones go last.
func (p Priority) rank() int {
	switch p {
	case PriorityHigh:
		return 0
	case PriorityMedium:
		return 1
	case PriorityLow:
		return 2
	}
	return 3
}

// Frequency is the unit a recurring task repeats in.
type Frequency string

// Frequencies.
const (
	Daily   Frequency = "daily"
	Weekly  Frequency = "weekly"
	Monthly Frequency = "monthly"
)

func (f Frequency) valid() bool {
	return f == Daily || f == Weekly || f == Monthly
}

// Recurrence makes a task come back every Interval Frequency units after
// its due date once it is completed.
type Recurrence struct {
	Frequency Frequency `json:"frequency"`
	Interval  int       `json:"interval"`
}

// Task is one to-do item of one user. Times are UTC; nil ones are unset
// and marshal as null.
type Task struct {
	ID          string      `json:"id"`
	UserID      string      `json:"user_id"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Completed   bool        `json:"completed"`
	Priority    Priority    `json:"priority"`
	Tags        []string    `json:"tags"`
	DueAt       *time.Time  `json:"due_at"`
	RemindAt    *time.Time  `json:"remind_at"`
	Recurrence  *Recurrence `json:"recurrence"`
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
	CompletedAt *time.Time  `json:"completed_at"`
}

// MarshalJSON writes every time in UTC and tags as an array even when
// there are none, so the output always matches the published schema.
func (t Task) MarshalJSON() ([]byte, error) {
	type plain Task // drops this method, so Marshal does not recurse
	c := t.clone()
	if c.Tags == nil {
		c.Tags = []string{}
	}
	c.DueAt = utcPtr(c.DueAt)
	c.RemindAt = utcPtr(c.RemindAt)
	c.CompletedAt = utcPtr(c.CompletedAt)
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	return json.Marshal(plain(c))
}

// clone returns a copy sharing no slices or pointers with t, so changing
// the copy never changes a task a caller still holds.
func (t Task) clone() Task {
	c := t
	c.Tags = slices.Clone(t.Tags)
	c.DueAt = copyPtr(t.DueAt)
	c.RemindAt = copyPtr(t.RemindAt)
	c.CompletedAt = copyPtr(t.CompletedAt)
	c.Recurrence = copyPtr(t.Recurrence)
	return c
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func utcPtr(p *time.Time) *time.Time {
	if p == nil {
		return nil
	}
	u := p.UTC()
	return &u
}

// NewID returns a new task id: a UUIDv7, so ids sort roughly by creation.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// NextID returns the id of the occurrence of parentID's series due at due.
// It is a UUIDv5 of both, so completing the same task twice (a retried
// request or a redelivered event) names the same next task, and storing it
// again overwrites rather than duplicates it.
func NextID(parentID string, due time.Time) string {
	return ids.Occurrence.Of(parentID, due.UTC().Format(time.RFC3339Nano))
}
