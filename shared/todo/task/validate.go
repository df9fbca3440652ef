package task

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
)

// Limits of a task's fields.
const (
	MaxTitle       = 200  // runes, after trimming spaces
	MaxDescription = 1000 // runes
	MaxTags        = 10
	MaxTag         = 30 // runes
	MaxInterval    = 365
)

// Times must fall in [MinTime, MaxTime): it keeps every date a plain
// four-digit RFC 3339 year, even after a recurring task advances, and
// rejects typos such as year 20260.
var (
	MinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// fieldOrder is the order field errors are reported in: the order of the
// fields in a task, whichever check found them.
var fieldOrder = []string{"title", "description", "priority", "tags", "due_at", "remind_at", "recurrence"}

// Validate reports every rule t breaks as a 400 problem, or nil. It checks
// what clients can set; NewFromCreate and ApplyPatch already call it.
func (t Task) Validate() error {
	return sorted(validate(t, nil)).Err()
}

// validate checks t, skipping cross-field checks of fields in bad, which
// already have an error of their own.
func validate(t Task, bad map[string]bool) problem.Fields {
	var fe problem.Fields
	checkText(&fe, "title", t.Title, 1, MaxTitle, false)
	checkText(&fe, "description", t.Description, 0, MaxDescription, true)
	if !t.Priority.valid() {
		fe.Add("priority", "must be one of high, medium, low")
	}
	if !bad["tags"] {
		checkTags(&fe, t.Tags)
	}
	checkTime(&fe, "due_at", t.DueAt, bad)
	checkTime(&fe, "remind_at", t.RemindAt, bad)
	if t.DueAt != nil && t.RemindAt != nil && !bad["due_at"] && !bad["remind_at"] && t.RemindAt.After(*t.DueAt) {
		fe.Add("remind_at", "must not be after due_at")
	}
	if r := t.Recurrence; r != nil && !bad["recurrence"] {
		if !r.Frequency.valid() {
			fe.Add("recurrence.frequency", "must be one of daily, weekly, monthly")
		}
		if r.Interval < 1 || r.Interval > MaxInterval {
			fe.Add("recurrence.interval", "must be between 1 and %d", MaxInterval)
		}
		if t.DueAt == nil && !bad["due_at"] {
			fe.Add("recurrence", "requires due_at")
		}
	}
	return fe
}

func checkText(fe *problem.Fields, field, s string, minRunes, maxRunes int, multiline bool) {
	if !utf8.ValidString(s) {
		fe.Add(field, "must be valid UTF-8")
		return
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0 && minRunes > 0:
		fe.Add(field, "is required")
		return
	case n < minRunes || n > maxRunes:
		fe.Add(field, "must be %d to %d characters", minRunes, maxRunes)
		return
	}
	if err := checkControl(s, multiline); err != nil {
		fe.Add(field, "%v", err)
	}
}

// checkControl rejects control characters, which no title or tag needs and
// which can hide text or break logs and terminals; descriptions may keep
// line breaks and tabs.
func checkControl(s string, multiline bool) error {
	for _, r := range s {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return errors.New("must not contain control characters")
		}
	}
	return nil
}

func checkTags(fe *problem.Fields, tags []string) {
	if len(tags) > MaxTags {
		fe.Add("tags", "must have at most %d tags", MaxTags)
		return
	}
	seen := make(map[string]bool, len(tags))
	for i, tag := range tags {
		field := fmt.Sprintf("tags[%d]", i)
		switch {
		case !utf8.ValidString(tag):
			fe.Add(field, "must be valid UTF-8")
		case tag == "" || utf8.RuneCountInString(tag) > MaxTag:
			fe.Add(field, "must be 1 to %d characters", MaxTag)
		case tag != normalizeTag(tag):
			fe.Add(field, "must be lowercase without surrounding spaces")
		case checkControl(tag, false) != nil:
			fe.Add(field, "must not contain control characters")
		case seen[tag]:
			fe.Add("tags", "must not repeat a tag (%q)", tag)
		}
		seen[tag] = true
	}
}

func checkTime(fe *problem.Fields, field string, t *time.Time, bad map[string]bool) {
	if t == nil || bad[field] {
		return
	}
	if t.Before(MinTime) || !t.Before(MaxTime) {
		fe.Add(field, "must be in the years 1970 to 2999")
	}
}

// normalizeTag is how tags are stored: trimmed and lowercase, so "Work"
// and "work " are one tag.
func normalizeTag(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

func normalizeTags(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := make([]string, len(tags))
	for i, t := range tags {
		// Invalid UTF-8 is left for validate to reject: lowercasing would
		// quietly turn it into U+FFFD.
		if utf8.ValidString(t) {
			t = normalizeTag(t)
		}
		out[i] = t
	}
	return out
}

// parseTime parses an RFC 3339 time that carries an offset, returning it
// in UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("must be an RFC 3339 date-time with an offset, such as 2026-01-02T10:00:00Z")
	}
	return t.UTC(), nil
}

// sorted orders field errors by fieldOrder, keeping the order within a
// field, so a client sees them in a stable order whichever check ran first.
func sorted(fe problem.Fields) problem.Fields {
	pos := func(field string) int {
		top, _, _ := strings.Cut(field, ".")
		top, _, _ = strings.Cut(top, "[")
		if i := slices.Index(fieldOrder, top); i >= 0 {
			return i
		}
		return len(fieldOrder)
	}
	slices.SortStableFunc(fe, func(a, b problem.FieldError) int {
		return cmp.Compare(pos(a.Field), pos(b.Field))
	})
	return fe
}
