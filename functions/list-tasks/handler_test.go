package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

var t0 = fakes.Time("2026-03-01T09:00:00Z")

type env struct {
	store  *fakes.Store
	routes http.Handler
}

func newEnv(t *testing.T) *env {
	e := &env{store: fakes.NewStore(nil)}
	h := &Handler{Tasks: e.store}
	f := fakes.Function(t, "list-tasks")
	serve(f, h)
	e.routes = f
	return e
}

func (e *env) add(t *testing.T, tk task.Task) {
	t.Helper()
	if tk.Priority == "" {
		tk.Priority = task.PriorityMedium
	}
	if tk.UpdatedAt.IsZero() {
		tk.UpdatedAt = tk.CreatedAt
	}
	require.NoError(t, tk.Validate())
	require.NoError(t, e.store.Inner.Create(context.Background(), tk))
}

// seed stores four tasks of user-1 (created a, b, c, d in that order) and
// one of user-2 that shares a title with a.
func (e *env) seed(t *testing.T) {
	t.Helper()
	due := func(s string) *time.Time { return fakes.Ptr(fakes.Time(s)) }
	e.add(t, task.Task{ID: "a", UserID: "user-1", Title: "Buy milk", Priority: task.PriorityLow, Tags: []string{"home"},
		DueAt: due("2026-03-03T09:00:00Z"), CreatedAt: t0})
	e.add(t, task.Task{ID: "b", UserID: "user-1", Title: "alpha report", Description: "quarterly Numbers", Priority: task.PriorityHigh,
		Tags: []string{"work"}, DueAt: due("2026-03-02T09:00:00Z"), CreatedAt: t0.Add(time.Minute)})
	e.add(t, task.Task{ID: "c", UserID: "user-1", Title: "Call Bob", Tags: []string{"work", "phone"},
		Completed: true, CompletedAt: due("2026-03-01T12:00:00Z"), CreatedAt: t0.Add(2 * time.Minute)})
	e.add(t, task.Task{ID: "d", UserID: "user-1", Title: "zebra", Priority: task.PriorityHigh,
		DueAt: due("2026-03-10T09:00:00Z"), CreatedAt: t0.Add(3 * time.Minute)})
	e.add(t, task.Task{ID: "e", UserID: "user-2", Title: "Buy milk", Tags: []string{"home", "work"},
		DueAt: due("2026-03-02T10:00:00Z"), CreatedAt: t0.Add(-time.Hour)})
}

type page struct {
	Items      []task.Task `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

func (e *env) list(t *testing.T, user, query string) (page, fakes.Response) {
	t.Helper()
	target := "/users/" + user + "/tasks"
	if query != "" {
		target += "?" + query
	}
	r := fakes.Do(t, e.routes, http.MethodGet, target, nil)
	var p page
	if r.Status == http.StatusOK {
		r.JSON(t, &p)
	}
	return p, r
}

func ids(p page) []string {
	out := make([]string, len(p.Items))
	for i, tk := range p.Items {
		out[i] = tk.ID
	}
	return out
}

func TestGet(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	r := fakes.Do(t, e.routes, http.MethodGet, "/users/user-1/tasks/b", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	stored, _, err := e.store.Inner.Get(context.Background(), "user-1", "b")
	require.NoError(t, err)
	want, err := json.Marshal(stored)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(r.Body))
	assert.Equal(t, stored, fakes.DecodeTask(t, r.Body))
}

func TestGetNotFound(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	for _, target := range []string{
		"/users/user-2/tasks/a", // another user's task
		"/users/user-1/tasks/e", // ... seen from the other side
		"/users/user-1/tasks/zz",
		"/users/nobody/tasks/a",
	} {
		r := fakes.Do(t, e.routes, http.MethodGet, target, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, target)
		assert.Equal(t, "no such task", r.Problem(t).Detail, target)
		assert.NotContains(t, string(r.Body), "Buy milk", "nothing of the task leaks")
	}
}

func TestGetBadIDs(t *testing.T) {
	e := newEnv(t)
	assert.Equal(t, []string{"task_id"}, fakes.Do(t, e.routes, http.MethodGet, "/users/user-1/tasks/a%20b", nil).Fields(t))
	assert.Equal(t, []string{"user_id"}, fakes.Do(t, e.routes, http.MethodGet, "/users/u%3Cscript%3E/tasks/a", nil).Fields(t))
	assert.Equal(t, 0, e.store.Calls(fakes.OpGet))
}

func TestList(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	p, r := e.list(t, "user-1", "")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, []string{"a", "b", "c", "d"}, ids(p), "by creation by default")
	assert.Nil(t, p.NextCursor)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.Body, &raw))
	assert.Len(t, raw, 2)
	assert.JSONEq(t, "null", string(raw["next_cursor"]), "next_cursor is null on the last page")
	stored, _, err := e.store.Inner.Get(context.Background(), "user-1", "a")
	require.NoError(t, err)
	assert.Equal(t, stored, p.Items[0], "items are whole tasks")
}

func TestListEmpty(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	for _, q := range []string{"", "tag=nothing"} {
		_, r := e.list(t, "nobody", q)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.JSONEq(t, `{"items":[],"next_cursor":null}`, string(r.Body))
	}
}

func TestListIsPerUser(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	p, _ := e.list(t, "user-2", "")
	assert.Equal(t, []string{"e"}, ids(p))
	p, _ = e.list(t, "user-1", "q=buy")
	assert.Equal(t, []string{"a"}, ids(p), "another user's matching task is not listed")
}

func TestListFiltersAndSorts(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"status=all", []string{"a", "b", "c", "d"}},
		{"status=pending", []string{"a", "b", "d"}},
		{"status=completed", []string{"c"}},
		{"priority=high", []string{"b", "d"}},
		{"priority=medium", []string{"c"}},
		{"tag=work", []string{"b", "c"}},
		{"tag=%20WORK%20", []string{"b", "c"}},
		{"q=NUMBERS", []string{"b"}},
		{"q=b", []string{"a", "b", "c", "d"}},
		{"q=bob", []string{"c"}},
		{"due_before=2026-03-03T09:00:00Z", []string{"b"}},
		{"due_after=2026-03-02T09:00:00Z", []string{"a", "d"}},
		{"due_after=2026-03-02T15:00:00%2B05:00", []string{"a", "d"}},    // 10:00Z
		{"due_after=2026-03-02T13:00:00+05:00", []string{"a", "b", "d"}}, // 08:00Z; an unencoded '+' arrives as a space
		{"due_before=2026-03-05T00:00:00Z&due_after=2026-03-02T10:00:00Z", []string{"a"}},
		{"status=pending&priority=high&tag=work", []string{"b"}},
		{"sort=created_at", []string{"a", "b", "c", "d"}},
		{"sort=-created_at", []string{"d", "c", "b", "a"}},
		{"sort=due_at", []string{"b", "a", "d", "c"}},
		{"sort=-due_at", []string{"d", "a", "b", "c"}},
		{"sort=priority", []string{"b", "d", "c", "a"}},
		{"sort=-priority", []string{"a", "c", "b", "d"}},
		{"sort=title", []string{"b", "a", "c", "d"}},
		{"sort=-title", []string{"d", "c", "a", "b"}},
		{"status=&priority=", []string{"a", "b", "c", "d"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			p, r := e.list(t, "user-1", tc.query)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			assert.Equal(t, tc.want, ids(p))
		})
	}
}

func TestListPages(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	p, r := e.list(t, "user-1", "limit=3")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, []string{"a", "b", "c"}, ids(p))
	require.NotNil(t, p.NextCursor)

	p2, r := e.list(t, "user-1", "limit=3&cursor="+url.QueryEscape(*p.NextCursor))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, []string{"d"}, ids(p2))
	assert.Nil(t, p2.NextCursor)

	// The cursor belongs to its query.
	_, r = e.list(t, "user-1", "status=pending&limit=3&cursor="+url.QueryEscape(*p.NextCursor))
	assert.Equal(t, []string{"cursor"}, r.Fields(t))
	_, r = e.list(t, "user-1", "cursor=not-a-cursor")
	assert.Equal(t, []string{"cursor"}, r.Fields(t))
}

func TestListWalksEveryPage(t *testing.T) {
	e := newEnv(t)
	const n = 237
	for i := range n {
		e.add(t, task.Task{ID: fmt.Sprintf("t%03d", i), UserID: "user-1", Title: fmt.Sprintf("task %d", (i*7)%n),
			Priority: []task.Priority{task.PriorityHigh, task.PriorityMedium, task.PriorityLow}[i%3], CreatedAt: t0.Add(time.Duration(i%5) * time.Second)})
	}
	for _, sort := range []string{"created_at", "-created_at", "title", "-priority", "due_at"} {
		t.Run(sort, func(t *testing.T) {
			seen := map[string]bool{}
			cursor, pages := "", 0
			for {
				q := "limit=50&sort=" + sort
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				p, r := e.list(t, "user-1", q)
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
				pages++
				for _, tk := range p.Items {
					assert.False(t, seen[tk.ID], "%s listed twice", tk.ID)
					seen[tk.ID] = true
				}
				if p.NextCursor == nil {
					break
				}
				assert.Len(t, p.Items, 50)
				cursor = *p.NextCursor
			}
			assert.Len(t, seen, n, "every task listed once")
			assert.Equal(t, 5, pages)
		})
	}
}

func TestListDefaultLimit(t *testing.T) {
	e := newEnv(t)
	for i := range task.DefaultLimit + 1 {
		e.add(t, task.Task{ID: fmt.Sprintf("t%03d", i), UserID: "user-1", Title: "t", CreatedAt: t0})
	}
	p, _ := e.list(t, "user-1", "")
	assert.Len(t, p.Items, task.DefaultLimit)
	assert.NotNil(t, p.NextCursor)
}

func TestListBadQuery(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	for _, tc := range []struct {
		query  string
		fields []string
	}{
		{"status=done", []string{"status"}},
		{"priority=urgent", []string{"priority"}},
		{"sort=colour", []string{"sort"}},
		{"sort=due", []string{"sort"}},
		{"limit=0", []string{"limit"}},
		{"limit=201", []string{"limit"}},
		{"limit=ten", []string{"limit"}},
		{"due_before=tomorrow", []string{"due_before"}},
		{"due_after=2026-03-02", []string{"due_after"}},
		{"tag=" + strings.Repeat("x", task.MaxTag+1), []string{"tag"}},
		{"colour=red", []string{"colour"}},
		{"status=pending&status=completed", []string{"status"}},
		{"status=done&limit=0&colour=red", []string{"colour", "status", "limit"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			_, r := e.list(t, "user-1", tc.query)
			assert.Equal(t, tc.fields, r.Fields(t), "%s", r.Body)
		})
	}
	_, r := e.list(t, "user:1..", "")
	assert.Equal(t, []string{"user_id"}, r.Fields(t))
	assert.Equal(t, 0, e.store.Calls(fakes.OpList)+e.store.Calls(fakes.OpScan), "a bad request reads nothing")
}

func TestListStoreFailure(t *testing.T) {
	for _, tc := range []struct {
		op    fakes.Op
		query string
	}{{fakes.OpScan, ""}, {fakes.OpScan, "status=pending"}, {fakes.OpList, "sort=title"}} {
		e := newEnv(t)
		e.store.FailNext(tc.op, nil)
		_, r := e.list(t, "user-1", tc.query)
		require.Equal(t, http.StatusInternalServerError, r.Status, tc.query)
		r.Problem(t)
	}
}

func TestListInCreationOrderReadsOnlyItsPage(t *testing.T) {
	e := newEnv(t)
	for i := range 300 {
		e.add(t, task.Task{ID: fmt.Sprintf("t%03d", i), UserID: "user-1", Title: "t", CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	var read []string
	e.store.Before = func(op fakes.Op, _, _ string) error {
		read = append(read, string(op))
		return nil
	}
	p, _ := e.list(t, "user-1", "limit=20&sort=-created_at")
	require.Len(t, p.Items, 20)
	assert.Equal(t, "t299", p.Items[0].ID)
	assert.Equal(t, []string{"Scan"}, read, "one read of the index window, never the whole list")
}

func TestListFilterScanIsBoundedAndContinues(t *testing.T) {
	e := newEnv(t)
	for i := range task.MaxScan + 50 {
		e.add(t, task.Task{ID: fmt.Sprintf("t%04d", i), UserID: "user-1", Title: "t", CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	e.add(t, task.Task{ID: "needle", UserID: "user-1", Title: "t", Priority: task.PriorityHigh, CreatedAt: t0.Add(time.Hour)})

	p, r := e.list(t, "user-1", "priority=high&limit=5")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Empty(t, p.Items, "the scan stopped at its bound before the match")
	require.NotNil(t, p.NextCursor, "and says where to continue")

	p, r = e.list(t, "user-1", "priority=high&limit=5&cursor="+url.QueryEscape(*p.NextCursor))
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, []string{"needle"}, ids(p))
	assert.Nil(t, p.NextCursor)
}
