package task_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/todo/task"
)

var later = now.Add(time.Hour)

// base is a task with every field set.
func base() task.Task {
	return task.Task{
		ID: "task-1", UserID: "user-1", Title: "Pay rent", Description: "before noon",
		Priority: task.PriorityHigh, Tags: []string{"home", "money"},
		DueAt: at("2026-03-31T10:00:00Z"), RemindAt: at("2026-03-31T09:00:00Z"),
		Recurrence: &task.Recurrence{Frequency: task.Monthly, Interval: 1},
		CreatedAt:  now, UpdatedAt: now,
	}
}

func parsePatch(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(s), &m))
	return m
}

func TestApplyPatch(t *testing.T) {
	t.Parallel()
	plain := base()
	plain.Recurrence, plain.DueAt, plain.RemindAt = nil, nil, nil

	for _, tc := range []struct {
		name  string
		from  task.Task // zero: base()
		patch string
		want  func(t *task.Task) // changes expected beyond updated_at
		bad   []string
	}{
		{name: "empty patch", patch: `{}`, want: func(*task.Task) {}},
		{name: "title", patch: `{"title":"  Pay the rent  "}`, want: func(t *task.Task) { t.Title = "Pay the rent" }},
		{name: "title cleared", patch: `{"title":null}`, bad: []string{"title"}},
		{name: "title empty", patch: `{"title":"  "}`, bad: []string{"title"}},
		{name: "title not a string", patch: `{"title":5}`, bad: []string{"title"}},
		{name: "description", patch: `{"description":"by noon"}`, want: func(t *task.Task) { t.Description = "by noon" }},
		{name: "description cleared", patch: `{"description":null}`, want: func(t *task.Task) { t.Description = "" }},
		{name: "description not a string", patch: `{"description":["x"]}`, bad: []string{"description"}},
		{name: "priority", patch: `{"priority":"low"}`, want: func(t *task.Task) { t.Priority = task.PriorityLow }},
		{name: "priority cleared", patch: `{"priority":null}`, bad: []string{"priority"}},
		{name: "priority unknown", patch: `{"priority":"urgent"}`, bad: []string{"priority"}},
		{name: "tags replaced and normalised", patch: `{"tags":["Work"," urgent"]}`, want: func(t *task.Task) { t.Tags = []string{"work", "urgent"} }},
		{name: "tags cleared", patch: `{"tags":null}`, want: func(t *task.Task) { t.Tags = nil }},
		{name: "tags emptied", patch: `{"tags":[]}`, want: func(t *task.Task) { t.Tags = nil }},
		{name: "tags not an array", patch: `{"tags":"home"}`, bad: []string{"tags"}},
		{name: "tag not a string", patch: `{"tags":["a",1,"b",null]}`, bad: []string{"tags[1]", "tags[3]"}},
		{name: "tags repeated", patch: `{"tags":["a","A"]}`, bad: []string{"tags"}},
		{name: "tag too long", patch: `{"tags":["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}`, bad: []string{"tags[0]"}},
		{name: "due moved, in UTC", patch: `{"due_at":"2026-04-01T12:00:00+02:00"}`, want: func(t *task.Task) { t.DueAt = at("2026-04-01T10:00:00Z") }},
		{name: "due without offset", patch: `{"due_at":"2026-04-01T12:00:00"}`, bad: []string{"due_at"}},
		{name: "due not a string", patch: `{"due_at":1774000000}`, bad: []string{"due_at"}},
		{name: "due moved before the reminder", patch: `{"due_at":"2026-03-31T08:00:00Z"}`, bad: []string{"remind_at"}},
		{name: "reminder moved after due", patch: `{"remind_at":"2026-03-31T10:00:01Z"}`, bad: []string{"remind_at"}},
		{name: "reminder moved to due", patch: `{"remind_at":"2026-03-31T10:00:00Z"}`, want: func(t *task.Task) { t.RemindAt = at("2026-03-31T10:00:00Z") }},
		{name: "reminder cleared", patch: `{"remind_at":null}`, want: func(t *task.Task) { t.RemindAt = nil }},
		{name: "due and reminder moved together", patch: `{"due_at":"2026-05-01T10:00:00Z","remind_at":"2026-04-30T10:00:00Z"}`, want: func(t *task.Task) {
			t.DueAt, t.RemindAt = at("2026-05-01T10:00:00Z"), at("2026-04-30T10:00:00Z")
		}},
		{name: "due cleared on a recurring task", patch: `{"due_at":null}`, bad: []string{"recurrence"}},
		{name: "due and recurrence cleared", patch: `{"due_at":null,"recurrence":null}`, want: func(t *task.Task) { t.DueAt, t.Recurrence = nil, nil }},
		{name: "recurrence interval merged", patch: `{"recurrence":{"interval":3}}`, want: func(t *task.Task) { t.Recurrence = &task.Recurrence{Frequency: task.Monthly, Interval: 3} }},
		{name: "recurrence frequency merged", patch: `{"recurrence":{"frequency":"weekly"}}`, want: func(t *task.Task) { t.Recurrence = &task.Recurrence{Frequency: task.Weekly, Interval: 1} }},
		{name: "recurrence interval removed means 1", from: func() task.Task { b := base(); b.Recurrence.Interval = 4; return b }(), patch: `{"recurrence":{"interval":null}}`, want: func(t *task.Task) { t.Recurrence.Interval = 1 }},
		{name: "recurrence frequency removed", patch: `{"recurrence":{"frequency":null}}`, bad: []string{"recurrence.frequency"}},
		{name: "recurrence unknown field", patch: `{"recurrence":{"every":2}}`, bad: []string{"recurrence.every"}},
		{name: "recurrence not an object", patch: `{"recurrence":"daily"}`, bad: []string{"recurrence"}},
		{name: "recurrence interval not an integer", patch: `{"recurrence":{"interval":1.5}}`, bad: []string{"recurrence.interval"}},
		{name: "recurrence interval out of range", patch: `{"recurrence":{"interval":366}}`, bad: []string{"recurrence.interval"}},
		{name: "recurrence frequency unknown", patch: `{"recurrence":{"frequency":"yearly"}}`, bad: []string{"recurrence.frequency"}},
		{name: "recurrence added", from: plain, patch: `{"due_at":"2026-04-01T00:00:00Z","recurrence":{"frequency":"daily","interval":2}}`, want: func(t *task.Task) {
			t.DueAt, t.Recurrence = at("2026-04-01T00:00:00Z"), &task.Recurrence{Frequency: task.Daily, Interval: 2}
		}},
		{name: "recurrence added without frequency", from: plain, patch: `{"due_at":"2026-04-01T00:00:00Z","recurrence":{"interval":2}}`, bad: []string{"recurrence.frequency"}},
		{name: "recurrence added without due", from: plain, patch: `{"recurrence":{"frequency":"daily"}}`, bad: []string{"recurrence"}},
		{name: "completed", patch: `{"completed":true}`, bad: []string{"completed"}},
		{name: "completed false", patch: `{"completed":false}`, bad: []string{"completed"}},
		{name: "id", patch: `{"id":"other"}`, bad: []string{"id"}},
		{name: "user_id", patch: `{"user_id":"other"}`, bad: []string{"user_id"}},
		{name: "created_at", patch: `{"created_at":"2026-01-01T00:00:00Z"}`, bad: []string{"created_at"}},
		{name: "updated_at", patch: `{"updated_at":"2026-01-01T00:00:00Z"}`, bad: []string{"updated_at"}},
		{name: "completed_at", patch: `{"completed_at":null}`, bad: []string{"completed_at"}},
		{name: "unknown field", patch: `{"owner":"x"}`, bad: []string{"owner"}},
		{name: "field names are case-sensitive", patch: `{"Title":"x"}`, bad: []string{"Title"}},
		{
			name:  "every error at once, in field order",
			patch: `{"id":"x","title":null,"priority":"urgent","tags":["a","a"],"remind_at":"soon","recurrence":{"interval":0},"zzz":1,"completed":true}`,
			bad:   []string{"title", "priority", "tags", "remind_at", "recurrence.interval", "completed", "id", "zzz"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := tc.from
			if from.ID == "" {
				from = base()
			}
			before := mustJSON(t, from)
			got, err := from.ApplyPatch(parsePatch(t, tc.patch), later)
			assert.Equal(t, before, mustJSON(t, from), "the original must not change")
			if tc.bad != nil {
				assert.Equal(t, tc.bad, fields(t, err))
				assert.Equal(t, before, mustJSON(t, got), "a rejected patch returns the task unchanged")
				return
			}
			require.NoError(t, err)
			want := from
			want.Tags = append([]string(nil), from.Tags...)
			if from.Recurrence != nil {
				r := *from.Recurrence
				want.Recurrence = &r
			}
			tc.want(&want)
			want.UpdatedAt = later
			assert.Equal(t, want, got)
			assert.NoError(t, got.Validate())
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestApplyPatchNil(t *testing.T) {
	t.Parallel()
	_, err := base().ApplyPatch(nil, later)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "JSON object")
}

func TestApplyPatchDoesNotAlias(t *testing.T) {
	t.Parallel()
	from := base()
	got, err := from.ApplyPatch(parsePatch(t, `{"title":"x"}`), later)
	require.NoError(t, err)
	got.Tags[0] = "changed"
	*got.DueAt = time.Time{}
	got.Recurrence.Interval = 9
	assert.Equal(t, base(), from)
}

func TestApplyPatchCompletedTaskStaysCompleted(t *testing.T) {
	t.Parallel()
	done, _ := base().Complete(now)
	got, err := done.ApplyPatch(parsePatch(t, `{"title":"renamed"}`), later)
	require.NoError(t, err)
	assert.True(t, got.Completed)
	assert.Equal(t, done.CompletedAt, got.CompletedAt)
}
