package task

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
)

// immutable are the task fields a patch may not name: the server owns
// them, and completing has its own endpoint.
var immutable = map[string]string{
	"id":           "cannot be changed",
	"user_id":      "cannot be changed",
	"created_at":   "cannot be changed",
	"updated_at":   "cannot be changed",
	"completed":    "cannot be changed by a patch; complete the task instead",
	"completed_at": "cannot be changed",
}

// ApplyPatch returns t changed by patch, a JSON merge patch (RFC 7386) of
// the fields a client can set, with updated_at set to now. A null clears
// a field, except title and priority, which cannot be cleared. The result
// must be a valid task; otherwise, or when patch names a field it may not
// change, ApplyPatch returns a 400 problem listing every bad field and t
// is unchanged. A nil patch (a JSON null body) is not an object and is a
// 400 too.
func (t Task) ApplyPatch(patch map[string]json.RawMessage, now time.Time) (Task, error) {
	if patch == nil {
		return t, problem.New(http.StatusBadRequest, "a patch must be a JSON object")
	}
	next := t.clone()
	var fe problem.Fields
	bad := map[string]bool{}
	fail := func(field, format string, args ...any) {
		fe.Add(field, format, args...)
		top, _, _ := strings.Cut(field, ".")
		top, _, _ = strings.Cut(top, "[")
		bad[top] = true
	}
	for _, k := range slices.Sorted(maps.Keys(patch)) {
		raw := patch[k]
		null := isNull(raw)
		switch k {
		case "title":
			if null {
				fail(k, "cannot be cleared")
			} else if s, ok := decodeString(raw); !ok {
				fail(k, "must be a string")
			} else {
				next.Title = strings.TrimSpace(s)
			}
		case "description":
			if null {
				next.Description = ""
			} else if s, ok := decodeString(raw); !ok {
				fail(k, "must be a string or null")
			} else {
				next.Description = s
			}
		case "priority":
			if null {
				fail(k, "cannot be cleared")
			} else if s, ok := decodeString(raw); !ok {
				fail(k, "must be a string")
			} else {
				next.Priority = Priority(s)
			}
		case "tags":
			if null {
				next.Tags = nil
			} else if tags, ok := decodeTags(raw, fail); ok {
				next.Tags = normalizeTags(tags)
			}
		case "due_at", "remind_at":
			var v *time.Time
			if !null {
				s, ok := decodeString(raw)
				if !ok {
					fail(k, "must be a string or null")
					continue
				}
				p, err := parseTime(s)
				if err != nil {
					fail(k, "%v", err)
					continue
				}
				v = &p
			}
			if k == "due_at" {
				next.DueAt = v
			} else {
				next.RemindAt = v
			}
		case "recurrence":
			if null {
				next.Recurrence = nil
			} else if r, ok := mergeRecurrence(next.Recurrence, raw, fail); ok {
				next.Recurrence = r
			}
		default:
			if detail, ok := immutable[k]; ok {
				fail(k, "%s", detail)
			} else {
				fail(k, "unknown field")
			}
		}
	}
	fe = append(fe, validate(next, bad)...)
	if err := sorted(fe).Err(); err != nil {
		return t, err
	}
	next.UpdatedAt = now.UTC()
	return next, nil
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func decodeString(raw json.RawMessage) (string, bool) {
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func decodeTags(raw json.RawMessage, fail func(string, string, ...any)) ([]string, bool) {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		fail("tags", "must be an array of strings or null")
		return nil, false
	}
	tags := make([]string, len(items))
	ok := true
	for i, item := range items {
		s, isString := decodeString(item)
		if !isString {
			fail(fmt.Sprintf("tags[%d]", i), "must be a string")
			ok = false
		}
		tags[i] = s
	}
	return tags, ok
}

// mergeRecurrence merges a patch object into the current recurrence, as
// RFC 7386 merges nested objects: {"interval":2} keeps the frequency.
// A missing interval means 1, as on create.
func mergeRecurrence(cur *Recurrence, raw json.RawMessage, fail func(string, string, ...any)) (*Recurrence, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || fields == nil {
		fail("recurrence", "must be an object or null")
		return nil, false
	}
	var freq *Frequency
	var interval *int
	if cur != nil {
		freq, interval = &cur.Frequency, &cur.Interval
	}
	ok := true
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		v := fields[k]
		switch k {
		case "frequency":
			if isNull(v) {
				freq = nil
			} else if s, isString := decodeString(v); isString {
				f := Frequency(s)
				freq = &f
			} else {
				fail("recurrence.frequency", "must be a string")
				ok = false
			}
		case "interval":
			var n int
			if isNull(v) {
				interval = nil
			} else if json.Unmarshal(v, &n) == nil {
				interval = &n
			} else {
				fail("recurrence.interval", "must be an integer")
				ok = false
			}
		default:
			fail("recurrence."+k, "unknown field")
			ok = false
		}
	}
	if !ok {
		return nil, false
	}
	if freq == nil {
		fail("recurrence.frequency", "is required")
		return nil, false
	}
	r := &Recurrence{Frequency: *freq, Interval: 1}
	if interval != nil {
		r.Interval = *interval
	}
	return r, true
}
