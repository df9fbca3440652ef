package task_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/todo/task"
)

func recurring(due string, f task.Frequency, interval int) task.Task {
	t := base()
	t.DueAt = at(due)
	t.RemindAt = nil
	t.Recurrence = &task.Recurrence{Frequency: f, Interval: interval}
	return t
}

func TestCompleteOnce(t *testing.T) {
	t.Parallel()
	from := base()
	from.Recurrence = nil
	done, next := from.Complete(later.In(time.FixedZone("x", -5*3600)))
	assert.Nil(t, next)
	want := base()
	want.Recurrence = nil
	want.Completed = true
	want.CompletedAt = &later
	want.UpdatedAt = later
	assert.Equal(t, want, done)
	assert.Equal(t, time.UTC, done.CompletedAt.Location())
	assert.False(t, from.Completed, "the original must not change")
}

func TestCompleteCompleted(t *testing.T) {
	t.Parallel()
	done, _ := base().Complete(now)
	again, next := done.Complete(later)
	assert.Nil(t, next)
	assert.Equal(t, done, again)
}

func TestCompleteRecurring(t *testing.T) {
	t.Parallel()
	from := base() // monthly, due 31 March 10:00, reminded an hour before
	done, next := from.Complete(later)
	require.NotNil(t, next)
	assert.True(t, done.Completed)

	wantDue := at("2026-04-30T10:00:00Z")
	assert.Equal(t, task.Task{
		ID:          task.NextID(from.ID, *wantDue),
		UserID:      from.UserID,
		Title:       from.Title,
		Description: from.Description,
		Priority:    from.Priority,
		Tags:        from.Tags,
		DueAt:       wantDue,
		RemindAt:    at("2026-04-30T09:00:00Z"),
		Recurrence:  from.Recurrence,
		CreatedAt:   later,
		UpdatedAt:   later,
	}, *next)
	assert.NoError(t, next.Validate())

	next.Tags[0] = "changed"
	next.Recurrence.Interval = 7
	assert.Equal(t, base(), from, "the next occurrence must not share data with its parent")
}

func TestCompleteRetryNamesTheSameOccurrence(t *testing.T) {
	t.Parallel()
	_, first := base().Complete(now)
	_, retry := base().Complete(later)
	require.NotNil(t, first)
	require.NotNil(t, retry)
	assert.Equal(t, first.ID, retry.ID)
	assert.Equal(t, first.DueAt, retry.DueAt)

	n1, ok1 := base().NextOccurrence(now)
	require.True(t, ok1)
	assert.Equal(t, first.ID, n1.ID)
}

func TestNextDue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		due      string
		freq     task.Frequency
		interval int
		want     string
	}{
		{"daily", "2026-01-31T10:00:00Z", task.Daily, 1, "2026-02-01T10:00:00Z"},
		{"every 3 days over a month end", "2026-02-27T23:30:00Z", task.Daily, 3, "2026-03-02T23:30:00Z"},
		{"daily over new year", "2026-12-31T00:00:00Z", task.Daily, 1, "2027-01-01T00:00:00Z"},
		{"daily keeps nanoseconds", "2026-01-01T10:00:00.123456789Z", task.Daily, 1, "2026-01-02T10:00:00.123456789Z"},
		{"weekly", "2026-01-01T08:00:00Z", task.Weekly, 1, "2026-01-08T08:00:00Z"},
		{"every 2 weeks", "2026-12-25T08:00:00Z", task.Weekly, 2, "2027-01-08T08:00:00Z"},
		{"monthly", "2026-01-15T09:00:00Z", task.Monthly, 1, "2026-02-15T09:00:00Z"},
		{"monthly from 31 Jan clamps to 28 Feb", "2026-01-31T09:00:00Z", task.Monthly, 1, "2026-02-28T09:00:00Z"},
		{"monthly from 31 Jan in a leap year", "2028-01-31T09:00:00Z", task.Monthly, 1, "2028-02-29T09:00:00Z"},
		{"monthly from 30 Jan clamps", "2026-01-30T23:59:59Z", task.Monthly, 1, "2026-02-28T23:59:59Z"},
		{"monthly from 31 March clamps to 30 April", "2026-03-31T09:00:00Z", task.Monthly, 1, "2026-04-30T09:00:00Z"},
		{"monthly from 31 Aug clamps to 30 Sep", "2026-08-31T09:00:00Z", task.Monthly, 1, "2026-09-30T09:00:00Z"},
		{"monthly from 28 Feb stays on the 28th", "2026-02-28T09:00:00Z", task.Monthly, 1, "2026-03-28T09:00:00Z"},
		{"monthly over new year", "2026-12-31T09:00:00Z", task.Monthly, 2, "2027-02-28T09:00:00Z"},
		{"every 12 months from 29 Feb", "2028-02-29T09:00:00Z", task.Monthly, 12, "2029-02-28T09:00:00Z"},
		{"every 48 months from 29 Feb", "2028-02-29T09:00:00Z", task.Monthly, 48, "2032-02-29T09:00:00Z"},
		{"every 365 months", "2026-01-31T09:00:00Z", task.Monthly, 365, "2056-06-30T09:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, ok := recurring(tc.due, tc.freq, tc.interval).NextOccurrence(now)
			require.True(t, ok)
			assert.Equal(t, at(tc.want), next.DueAt)
			assert.Equal(t, time.UTC, next.DueAt.Location())
		})
	}
}

func TestNextRemindKeepsItsOffset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, due, remind, wantRemind string
		freq                          task.Frequency
	}{
		{"an hour before", "2026-01-31T10:00:00Z", "2026-01-31T09:00:00Z", "2026-02-28T09:00:00Z", task.Monthly},
		{"at due", "2026-01-31T10:00:00Z", "2026-01-31T10:00:00Z", "2026-02-01T10:00:00Z", task.Daily},
		{"days before, with nanoseconds", "2026-03-10T00:00:00.1Z", "2026-03-07T12:00:00.9Z", "2026-03-14T12:00:00.9Z", task.Weekly},
		{"centuries before", "2990-01-01T00:00:00Z", "1971-01-01T00:00:00Z", "1971-01-02T00:00:00Z", task.Daily},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := recurring(tc.due, tc.freq, 1)
			from.RemindAt = at(tc.remind)
			next, ok := from.NextOccurrence(now)
			require.True(t, ok)
			assert.Equal(t, at(tc.wantRemind), next.RemindAt)
			assert.NoError(t, next.Validate())
		})
	}
}

func TestNoNextOccurrence(t *testing.T) {
	t.Parallel()
	noDue := base()
	noDue.DueAt, noDue.RemindAt = nil, nil // invalid, but must not panic
	badFreq := recurring("2026-01-01T00:00:00Z", "yearly", 1)
	badInterval := recurring("2026-01-01T00:00:00Z", task.Daily, 0)
	hugeInterval := recurring("2026-01-01T00:00:00Z", task.Daily, 1<<40)
	for name, from := range map[string]task.Task{
		"not recurring":     func() task.Task { b := base(); b.Recurrence = nil; return b }(),
		"no due date":       noDue,
		"unknown frequency": badFreq,
		"interval 0":        badInterval,
		"huge interval":     hugeInterval,
		"past year 2999":    recurring("2999-12-15T00:00:00Z", task.Monthly, 1),
	} {
		t.Run(name, func(t *testing.T) {
			_, ok := from.NextOccurrence(now)
			assert.False(t, ok)
			done, next := from.Complete(now)
			assert.Nil(t, next)
			assert.True(t, done.Completed)
		})
	}
}

func TestNextID(t *testing.T) {
	t.Parallel()
	due := *at("2026-02-28T09:00:00Z")
	id := task.NextID("task-1", due)
	assert.Equal(t, id, task.NextID("task-1", due.In(time.FixedZone("x", 3600))), "the same instant in another zone")
	assert.NotEqual(t, id, task.NextID("task-2", due))
	assert.NotEqual(t, id, task.NextID("task-1", due.Add(time.Nanosecond)))
	assert.Equal(t, byte('5'), id[14], "UUIDv5")
}
