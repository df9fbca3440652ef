package task

import (
	"fmt"
	"strings"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/request"
)

// CreateInput is the body of a create request. Times are strings so that
// one without an offset is reported against its own field rather than as
// an undecodable body.
type CreateInput struct {
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Priority    Priority         `json:"priority"` // empty means medium
	Tags        []string         `json:"tags"`
	DueAt       *string          `json:"due_at"`
	RemindAt    *string          `json:"remind_at"`
	Recurrence  *RecurrenceInput `json:"recurrence"`
}

// RecurrenceInput is the recurrence of a create request; a missing
// interval means every single unit.
type RecurrenceInput struct {
	Frequency Frequency `json:"frequency"`
	Interval  *int      `json:"interval"`
}

// NewFromCreate returns the task that in creates for userID, with the
// given id and created at now. Every invalid field is reported in one 400
// problem. An invalid userID or id is the caller's bug and a plain error.
func NewFromCreate(userID string, in CreateInput, id string, now time.Time) (Task, error) {
	if err := request.ValidID(userID); err != nil {
		return Task{}, fmt.Errorf("task: user id %w", err)
	}
	if err := request.ValidID(id); err != nil {
		return Task{}, fmt.Errorf("task: id %w", err)
	}
	now = now.UTC()
	t := Task{
		ID:          id,
		UserID:      userID,
		Title:       strings.TrimSpace(in.Title),
		Description: in.Description,
		Priority:    in.Priority,
		Tags:        normalizeTags(in.Tags),
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if t.Priority == "" {
		t.Priority = PriorityMedium
	}
	var fe problem.Fields
	bad := map[string]bool{}
	t.DueAt = inputTime(&fe, bad, "due_at", in.DueAt)
	t.RemindAt = inputTime(&fe, bad, "remind_at", in.RemindAt)
	if r := in.Recurrence; r != nil {
		t.Recurrence = &Recurrence{Frequency: r.Frequency, Interval: 1}
		if r.Interval != nil {
			t.Recurrence.Interval = *r.Interval
		}
	}
	fe = append(fe, validate(t, bad)...)
	if err := sorted(fe).Err(); err != nil {
		return Task{}, err
	}
	return t, nil
}

func inputTime(fe *problem.Fields, bad map[string]bool, field string, s *string) *time.Time {
	if s == nil {
		return nil
	}
	t, err := parseTime(*s)
	if err != nil {
		fe.Add(field, "%v", err)
		bad[field] = true
		return nil
	}
	return &t
}
