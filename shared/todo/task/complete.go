package task

import "time"

// Complete marks t completed at now. For a recurring task it also returns
// the next occurrence (see NextOccurrence). Completing a completed task
// changes nothing and returns no next occurrence, so a retried request is
// harmless.
func (t Task) Complete(now time.Time) (done Task, next *Task) {
	if t.Completed {
		return t, nil
	}
	now = now.UTC()
	done = t.clone()
	done.Completed = true
	done.CompletedAt = &now
	done.UpdatedAt = now
	if n, ok := t.NextOccurrence(now); ok {
		next = &n
	}
	return done, next
}

// NextOccurrence returns the task that follows t in its series, created
// at now: the same title, description, priority, tags and recurrence, due
// one interval after t, reminded as long before its due date as t was, and
// not completed. Its id is NextID(t.ID, due), so it is the same task
// however often it is derived. ok is false when t does not recur or the
// next due date would fall after MaxTime.
//
// The due date advances once from t's due date, not from now: a task
// completed late still gets the next date of its series, and the result
// (and so its id) does not depend on when it was computed.
func (t Task) NextOccurrence(now time.Time) (next Task, ok bool) {
	if t.Recurrence == nil || t.DueAt == nil || t.Recurrence.Interval < 1 || t.Recurrence.Interval > MaxInterval {
		return Task{}, false
	}
	due, ok := advance(t.DueAt.UTC(), *t.Recurrence)
	if !ok || !due.Before(MaxTime) {
		return Task{}, false
	}
	now = now.UTC()
	next = Task{
		ID:          NextID(t.ID, due),
		UserID:      t.UserID,
		Title:       t.Title,
		Description: t.Description,
		Priority:    t.Priority,
		DueAt:       &due,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	src := t.clone()
	next.Tags = src.Tags
	next.Recurrence = src.Recurrence
	if t.RemindAt != nil {
		// Shift by whole seconds and nanoseconds rather than a Duration,
		// which overflows past 292 years.
		due0, rem := t.DueAt.UTC(), t.RemindAt.UTC()
		sec := due.Unix() - (due0.Unix() - rem.Unix())
		nsec := int64(due.Nanosecond()) - int64(due0.Nanosecond()-rem.Nanosecond())
		r := time.Unix(sec, nsec).UTC()
		next.RemindAt = &r
	}
	return next, true
}

// advance moves due forward by one recurrence interval, in UTC. Months
// clamp to the last day of the target month: a monthly task due on 31
// January is next due on the 28th (or 29th) of February. ok is false for
// an unknown frequency.
func advance(due time.Time, r Recurrence) (time.Time, bool) {
	switch r.Frequency {
	case Daily:
		return due.AddDate(0, 0, r.Interval), true
	case Weekly:
		return due.AddDate(0, 0, 7*r.Interval), true
	case Monthly:
		y, m, d := due.Date()
		first := time.Date(y, m+time.Month(r.Interval), 1, 0, 0, 0, 0, time.UTC)
		last := first.AddDate(0, 1, -1).Day()
		h, mi, s := due.Clock()
		return time.Date(first.Year(), first.Month(), min(d, last), h, mi, s, due.Nanosecond(), time.UTC), true
	}
	return time.Time{}, false
}
