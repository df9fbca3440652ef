package task_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

var now = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	t = t.UTC()
	return &t
}

// fields returns the fields a 400 problem names, in order.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var p *problem.Problem
	require.True(t, errors.As(err, &p), "want a problem, got %v", err)
	require.Equal(t, 400, p.Status)
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Field
	}
	return out
}

func TestNewFromCreate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		in    task.CreateInput
		check func(t *testing.T, got task.Task) // for valid input
		bad   []string                          // fields named, for invalid input
	}{
		{
			name: "minimal gets defaults",
			in:   task.CreateInput{Title: "Buy milk"},
			check: func(t *testing.T, got task.Task) {
				assert.Equal(t, task.Task{
					ID: "task-1", UserID: "user-1", Title: "Buy milk", Priority: task.PriorityMedium,
					CreatedAt: now, UpdatedAt: now,
				}, got)
			},
		},
		{
			name: "everything set",
			in: task.CreateInput{
				Title: "Pay rent", Description: "line 1\nline 2\tend", Priority: task.PriorityHigh,
				Tags: []string{"home", "money"}, DueAt: ptr("2026-03-31T12:00:00+02:00"),
				RemindAt: ptr("2026-03-31T09:00:00Z"), Recurrence: &task.RecurrenceInput{Frequency: task.Monthly, Interval: ptr(2)},
			},
			check: func(t *testing.T, got task.Task) {
				assert.Equal(t, "line 1\nline 2\tend", got.Description)
				assert.Equal(t, task.PriorityHigh, got.Priority)
				assert.Equal(t, []string{"home", "money"}, got.Tags)
				assert.Equal(t, at("2026-03-31T10:00:00Z"), got.DueAt, "stored in UTC")
				assert.Equal(t, time.UTC, got.DueAt.Location())
				assert.Equal(t, at("2026-03-31T09:00:00Z"), got.RemindAt)
				assert.Equal(t, &task.Recurrence{Frequency: task.Monthly, Interval: 2}, got.Recurrence)
			},
		},
		{name: "title trimmed", in: task.CreateInput{Title: "  \t Buy milk \n"}, check: func(t *testing.T, got task.Task) { assert.Equal(t, "Buy milk", got.Title) }},
		{name: "title of 200 runes", in: task.CreateInput{Title: strings.Repeat("é", 200)}, check: func(t *testing.T, got task.Task) {}},
		{name: "title missing", in: task.CreateInput{}, bad: []string{"title"}},
		{name: "title only spaces", in: task.CreateInput{Title: "   "}, bad: []string{"title"}},
		{name: "title of 201 runes", in: task.CreateInput{Title: strings.Repeat("é", 201)}, bad: []string{"title"}},
		{name: "title with a control character", in: task.CreateInput{Title: "a\x07b"}, bad: []string{"title"}},
		{name: "title with a line break", in: task.CreateInput{Title: "a\nb"}, bad: []string{"title"}},
		{name: "title not UTF-8", in: task.CreateInput{Title: "a\xffb"}, bad: []string{"title"}},

		{name: "description of 1000 runes", in: task.CreateInput{Title: "t", Description: strings.Repeat("ü", 1000)}, check: func(t *testing.T, got task.Task) {}},
		{name: "description of 1001 runes", in: task.CreateInput{Title: "t", Description: strings.Repeat("ü", 1001)}, bad: []string{"description"}},
		{name: "description with NUL", in: task.CreateInput{Title: "t", Description: "a\x00"}, bad: []string{"description"}},

		{name: "priority low", in: task.CreateInput{Title: "t", Priority: task.PriorityLow}, check: func(t *testing.T, got task.Task) { assert.Equal(t, task.PriorityLow, got.Priority) }},
		{name: "priority unknown", in: task.CreateInput{Title: "t", Priority: "urgent"}, bad: []string{"priority"}},
		{name: "priority is case-sensitive", in: task.CreateInput{Title: "t", Priority: "HIGH"}, bad: []string{"priority"}},

		{name: "tags lowercased and trimmed", in: task.CreateInput{Title: "t", Tags: []string{" Work ", "ÜBER"}}, check: func(t *testing.T, got task.Task) { assert.Equal(t, []string{"work", "über"}, got.Tags) }},
		{name: "ten tags", in: task.CreateInput{Title: "t", Tags: strings.Split("a b c d e f g h i j", " ")}, check: func(t *testing.T, got task.Task) { assert.Len(t, got.Tags, 10) }},
		{name: "empty tag list", in: task.CreateInput{Title: "t", Tags: []string{}}, check: func(t *testing.T, got task.Task) { assert.Empty(t, got.Tags) }},
		{name: "eleven tags", in: task.CreateInput{Title: "t", Tags: strings.Split("a b c d e f g h i j k", " ")}, bad: []string{"tags"}},
		{name: "empty tag", in: task.CreateInput{Title: "t", Tags: []string{"a", ""}}, bad: []string{"tags[1]"}},
		{name: "blank tag", in: task.CreateInput{Title: "t", Tags: []string{"  "}}, bad: []string{"tags[0]"}},
		{name: "tag of 30 runes", in: task.CreateInput{Title: "t", Tags: []string{strings.Repeat("ß", 30)}}, check: func(t *testing.T, got task.Task) {}},
		{name: "tag of 31 runes", in: task.CreateInput{Title: "t", Tags: []string{"a", strings.Repeat("ß", 31)}}, bad: []string{"tags[1]"}},
		{name: "tag with a control character", in: task.CreateInput{Title: "t", Tags: []string{"a\tb"}}, bad: []string{"tags[0]"}},
		{name: "tag not UTF-8", in: task.CreateInput{Title: "t", Tags: []string{"\xff"}}, bad: []string{"tags[0]"}},
		{name: "duplicate tag", in: task.CreateInput{Title: "t", Tags: []string{"a", "b", "a"}}, bad: []string{"tags"}},
		{name: "duplicate after lowercasing", in: task.CreateInput{Title: "t", Tags: []string{"Work", "work"}}, bad: []string{"tags"}},

		{name: "due with fraction", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02T10:00:00.5-05:00")}, check: func(t *testing.T, got task.Task) { assert.Equal(t, at("2026-01-02T15:00:00.5Z"), got.DueAt) }},
		{name: "due without offset", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02T10:00:00")}, bad: []string{"due_at"}},
		{name: "due date only", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02")}, bad: []string{"due_at"}},
		{name: "due empty", in: task.CreateInput{Title: "t", DueAt: ptr("")}, bad: []string{"due_at"}},
		{name: "due with a space", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02 10:00:00Z")}, bad: []string{"due_at"}},
		{name: "due before 1970", in: task.CreateInput{Title: "t", DueAt: ptr("1969-12-31T23:59:59Z")}, bad: []string{"due_at"}},
		{name: "due in 3000", in: task.CreateInput{Title: "t", DueAt: ptr("3000-01-01T00:00:00Z")}, bad: []string{"due_at"}},
		{name: "due late 2999", in: task.CreateInput{Title: "t", DueAt: ptr("2999-12-31T23:59:59Z")}, check: func(t *testing.T, got task.Task) {}},
		{name: "remind without offset", in: task.CreateInput{Title: "t", RemindAt: ptr("2026-01-02T10:00:00")}, bad: []string{"remind_at"}},

		{name: "remind without due", in: task.CreateInput{Title: "t", RemindAt: ptr("2026-01-02T10:00:00Z")}, check: func(t *testing.T, got task.Task) { assert.Nil(t, got.DueAt) }},
		{name: "remind at due", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02T10:00:00Z"), RemindAt: ptr("2026-01-02T12:00:00+02:00")}, check: func(t *testing.T, got task.Task) {}},
		{name: "remind after due", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02T10:00:00Z"), RemindAt: ptr("2026-01-02T10:00:01Z")}, bad: []string{"remind_at"}},
		{name: "remind after due by offset", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02T10:00:00+02:00"), RemindAt: ptr("2026-01-02T09:00:00Z")}, bad: []string{"remind_at"}},
		{name: "bad due is not also a remind error", in: task.CreateInput{Title: "t", DueAt: ptr("soon"), RemindAt: ptr("2026-01-02T09:00:00Z")}, bad: []string{"due_at"}},

		{name: "recurrence interval defaults to 1", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02T10:00:00Z"), Recurrence: &task.RecurrenceInput{Frequency: task.Weekly}}, check: func(t *testing.T, got task.Task) {
			assert.Equal(t, &task.Recurrence{Frequency: task.Weekly, Interval: 1}, got.Recurrence)
		}},
		{name: "recurrence interval 365", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02T10:00:00Z"), Recurrence: &task.RecurrenceInput{Frequency: task.Daily, Interval: ptr(365)}}, check: func(t *testing.T, got task.Task) {}},
		{name: "recurrence without due", in: task.CreateInput{Title: "t", Recurrence: &task.RecurrenceInput{Frequency: task.Daily}}, bad: []string{"recurrence"}},
		{name: "recurrence with a bad due", in: task.CreateInput{Title: "t", DueAt: ptr("x"), Recurrence: &task.RecurrenceInput{Frequency: task.Daily}}, bad: []string{"due_at"}},
		{name: "recurrence frequency unknown", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02T10:00:00Z"), Recurrence: &task.RecurrenceInput{Frequency: "yearly"}}, bad: []string{"recurrence.frequency"}},
		{name: "recurrence frequency missing", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02T10:00:00Z"), Recurrence: &task.RecurrenceInput{}}, bad: []string{"recurrence.frequency"}},
		{name: "recurrence interval 0", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02T10:00:00Z"), Recurrence: &task.RecurrenceInput{Frequency: task.Daily, Interval: ptr(0)}}, bad: []string{"recurrence.interval"}},
		{name: "recurrence interval 366", in: task.CreateInput{Title: "t", DueAt: ptr("2026-01-02T10:00:00Z"), Recurrence: &task.RecurrenceInput{Frequency: task.Daily, Interval: ptr(366)}}, bad: []string{"recurrence.interval"}},

		{
			name: "every error at once, in field order",
			in: task.CreateInput{
				Priority: "urgent", Tags: []string{"a", "A"}, DueAt: ptr("tomorrow"), RemindAt: ptr("2026-01-02T10:00"),
				Description: strings.Repeat("x", 1001), Recurrence: &task.RecurrenceInput{Frequency: "hourly", Interval: ptr(-1)},
			},
			bad: []string{"title", "description", "priority", "tags", "due_at", "remind_at", "recurrence.frequency", "recurrence.interval"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := task.NewFromCreate("user-1", tc.in, "task-1", now)
			if tc.bad != nil {
				assert.Equal(t, tc.bad, fields(t, err))
				assert.Zero(t, got)
				return
			}
			require.NoError(t, err)
			assert.NoError(t, got.Validate())
			tc.check(t, got)
		})
	}
}

func TestNewFromCreateIDs(t *testing.T) {
	t.Parallel()
	for name, ids := range map[string][2]string{
		"empty user":  {"", "task-1"},
		"bad user":    {"a/b", "task-1"},
		"empty id":    {"user-1", ""},
		"dot-dot id":  {"user-1", "a..b"},
		"too long id": {"user-1", strings.Repeat("a", 129)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := task.NewFromCreate(ids[0], task.CreateInput{Title: "t"}, ids[1], now)
			require.Error(t, err)
			var p *problem.Problem
			assert.False(t, errors.As(err, &p), "server-side ids are not the client's fault")
		})
	}
}

func TestNewFromCreateNowInUTC(t *testing.T) {
	t.Parallel()
	local := now.In(time.FixedZone("x", 3600))
	got, err := task.NewFromCreate("user-1", task.CreateInput{Title: "t"}, "task-1", local)
	require.NoError(t, err)
	assert.Equal(t, time.UTC, got.CreatedAt.Location())
	assert.True(t, got.CreatedAt.Equal(now))
}

// TestCreateInputFromJSON checks the JSON names of the create body.
func TestCreateInputFromJSON(t *testing.T) {
	t.Parallel()
	var in task.CreateInput
	require.NoError(t, json.Unmarshal([]byte(`{"title":"t","description":"d","priority":"low","tags":["x"],
		"due_at":"2026-01-02T10:00:00Z","remind_at":null,"recurrence":{"frequency":"daily","interval":3}}`), &in))
	assert.Equal(t, task.CreateInput{
		Title: "t", Description: "d", Priority: task.PriorityLow, Tags: []string{"x"},
		DueAt: ptr("2026-01-02T10:00:00Z"), Recurrence: &task.RecurrenceInput{Frequency: task.Daily, Interval: ptr(3)},
	}, in)
}

func TestMarshalJSON(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("plus2", 2*3600)
	due := time.Date(2026, 1, 2, 12, 0, 0, 500, zone)
	tk := task.Task{
		ID: "t1", UserID: "u1", Title: "x", Priority: task.PriorityLow,
		DueAt: &due, CreatedAt: now.In(zone), UpdatedAt: now,
	}
	b, err := json.Marshal(tk)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"t1","user_id":"u1","title":"x","description":"","completed":false,"priority":"low",
		"tags":[],"due_at":"2026-01-02T10:00:00.0000005Z","remind_at":null,"recurrence":null,
		"created_at":"2026-03-01T09:30:00Z","updated_at":"2026-03-01T09:30:00Z","completed_at":null}`, string(b))
	assert.Equal(t, zone, tk.DueAt.Location(), "marshalling must not change the task")

	var back task.Task
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, back.DueAt.Equal(due))
	assert.Empty(t, back.Tags)
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := task.NewID()
		require.Len(t, id, 36)
		require.Equal(t, byte('7'), id[14], "UUIDv7")
		require.False(t, seen[id])
		seen[id] = true
	}
}
