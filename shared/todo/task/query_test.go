package task_test

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/todo/task"
)

var allSorts = []task.Sort{
	task.SortCreatedAt, task.SortCreatedAtDesc, task.SortDueAt, task.SortDueAtDesc,
	task.SortPriority, task.SortPriorityDesc, task.SortTitle, task.SortTitleDesc,
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want task.Query
		bad  []string
	}{
		{raw: "", want: task.Query{}},
		{raw: "status=pending&priority=high&tag=Work&q=Milk&sort=-due_at&limit=10", want: task.Query{
			Status: task.StatusPending, Priority: task.PriorityHigh, Tag: "work", Search: "Milk", Sort: task.SortDueAtDesc, Limit: 10,
		}},
		{raw: "status=completed", want: task.Query{Status: task.StatusCompleted}},
		{raw: "status=all", want: task.Query{Status: task.StatusAll}},
		{raw: "status=&priority=&sort=", want: task.Query{}},
		{raw: "due_before=2026-01-02T10:00:00%2B02:00&due_after=2026-01-01T00:00:00Z", want: task.Query{
			DueBefore: at("2026-01-02T08:00:00Z"), DueAfter: at("2026-01-01T00:00:00Z"),
		}},
		{raw: "due_before=2026-01-02T10:00:00+02:00", want: task.Query{DueBefore: at("2026-01-02T08:00:00Z")}},
		{raw: "limit=1", want: task.Query{Limit: 1}},
		{raw: "limit=200", want: task.Query{Limit: 200}},
		{raw: "sort=priority", want: task.Query{Sort: task.SortPriority}},

		{raw: "status=done", bad: []string{"status"}},
		{raw: "status=Pending", bad: []string{"status"}},
		{raw: "priority=urgent", bad: []string{"priority"}},
		{raw: "tag=" + strings.Repeat("a", 31), bad: []string{"tag"}},
		{raw: "tag=%20%20", bad: []string{"tag"}},
		{raw: "q=" + strings.Repeat("a", 201), bad: []string{"q"}},
		{raw: "q=%FF", bad: []string{"q"}},
		{raw: "due_before=2026-01-02T10:00:00", bad: []string{"due_before"}},
		{raw: "due_after=tomorrow", bad: []string{"due_after"}},
		{raw: "sort=due", bad: []string{"sort"}},
		{raw: "sort=--due_at", bad: []string{"sort"}},
		{raw: "limit=0", bad: []string{"limit"}},
		{raw: "limit=201", bad: []string{"limit"}},
		{raw: "limit=ten", bad: []string{"limit"}},
		{raw: "limit=1.5", bad: []string{"limit"}},
		{raw: "cursor=abc", bad: []string{"cursor"}},
		{raw: "cursor=%21%21", bad: []string{"cursor"}},
		{raw: "cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"q":"x","a":{"id":"a"}}`)), bad: []string{"cursor"}},
		{raw: "status=pending&status=all", bad: []string{"status"}},
		{raw: "page=2", bad: []string{"page"}},
		{raw: "status=x&limit=0&zzz=1&aaa=1", bad: []string{"aaa", "zzz", "status", "limit"}},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			v, err := url.ParseQuery(tc.raw)
			require.NoError(t, err)
			got, err := task.ParseQuery(v)
			if tc.bad != nil {
				assert.Equal(t, tc.bad, fields(t, err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// page returns the cursor of the first page of raw over tasks.
func firstCursor(t *testing.T, raw string, tasks []task.Task) string {
	t.Helper()
	v, _ := url.ParseQuery(raw)
	q, err := task.ParseQuery(v)
	require.NoError(t, err)
	_, next, err := q.Apply(tasks)
	require.NoError(t, err)
	require.NotEmpty(t, next)
	return next
}

func TestCursorBelongsToItsQuery(t *testing.T) {
	t.Parallel()
	tasks := seed(50)
	next := firstCursor(t, "sort=title&limit=5&tag=work", tasks)
	for raw, ok := range map[string]bool{
		"sort=title&limit=5&tag=work":        true,
		"sort=title&limit=20&tag=Work":       true, // page size may change; tags are case-insensitive
		"sort=-title&limit=5&tag=work":       false,
		"sort=title&limit=5":                 false,
		"sort=title&limit=5&tag=work&q=a":    false,
		"sort=title&tag=work&status=all":     true, // all is the default
		"sort=title&tag=work&status=pending": false,
	} {
		t.Run(raw, func(t *testing.T) {
			v, _ := url.ParseQuery(raw)
			v.Set("cursor", next)
			_, err := task.ParseQuery(v)
			if ok {
				assert.NoError(t, err)
			} else {
				assert.Equal(t, []string{"cursor"}, fields(t, err))
			}
		})
	}
}

func TestApplyRejectsInvalidQueries(t *testing.T) {
	t.Parallel()
	for name, q := range map[string]task.Query{
		"status":   {Status: "done"},
		"priority": {Priority: "urgent"},
		"sort":     {Sort: "due"},
		"limit":    {Limit: 500},
		"cursor":   {Cursor: "zzz"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := q.Apply(seed(3))
			assert.Equal(t, []string{name}, fields(t, err))
		})
	}
}

func TestApplyOrders(t *testing.T) {
	t.Parallel()
	mk := func(id, title string, p task.Priority, due *time.Time, created string) task.Task {
		return task.Task{ID: id, UserID: "u", Title: title, Priority: p, DueAt: due, CreatedAt: *at(created)}
	}
	tasks := []task.Task{
		mk("e", "banana", task.PriorityLow, nil, "2026-01-03T00:00:00Z"),
		mk("d", "Apple", task.PriorityHigh, at("2026-02-01T00:00:00Z"), "2026-01-01T00:00:00Z"),
		mk("c", "cherry", task.PriorityMedium, at("2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z"),
		mk("b", "apple", task.PriorityHigh, nil, "2026-01-01T00:00:00Z"),
		mk("a", "Banana", task.PriorityLow, at("2026-02-01T00:00:00Z"), "2026-01-02T00:00:00Z"),
	}
	for _, tc := range []struct {
		sort task.Sort
		want string
	}{
		{"", "bdace"},
		{task.SortCreatedAt, "bdace"},
		{task.SortCreatedAtDesc, "eacbd"},
		{task.SortDueAt, "cadbe"},
		{task.SortDueAtDesc, "adcbe"}, // no due date last either way
		{task.SortPriority, "bdcae"},
		{task.SortPriorityDesc, "aecbd"},
		{task.SortTitle, "bdaec"}, // case-insensitive, ties by id
		{task.SortTitleDesc, "caebd"},
	} {
		t.Run(string(tc.sort), func(t *testing.T) {
			items, next, err := task.Query{Sort: tc.sort}.Apply(tasks)
			require.NoError(t, err)
			assert.Empty(t, next)
			assert.Equal(t, tc.want, ids(items))
		})
	}
}

func ids(items []task.Task) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it.ID)
	}
	return b.String()
}

func TestApplyFilters(t *testing.T) {
	t.Parallel()
	tasks := []task.Task{
		{ID: "a", Title: "Buy MILK", Priority: task.PriorityHigh, Tags: []string{"home"}, DueAt: at("2026-01-01T00:00:00Z")},
		{ID: "b", Title: "Call", Description: "about the milkshake", Completed: true, Priority: task.PriorityLow, DueAt: at("2026-01-02T00:00:00Z")},
		{ID: "c", Title: "Write", Priority: task.PriorityMedium, Tags: []string{"work", "home"}},
	}
	for _, tc := range []struct {
		name string
		q    task.Query
		want string
	}{
		{"all by default", task.Query{}, "abc"},
		{"pending", task.Query{Status: task.StatusPending}, "ac"},
		{"completed", task.Query{Status: task.StatusCompleted}, "b"},
		{"priority", task.Query{Priority: task.PriorityMedium}, "c"},
		{"tag", task.Query{Tag: "home"}, "ac"},
		{"search ignores case", task.Query{Search: "milk"}, "ab"},
		{"search in description", task.Query{Search: "SHAKE"}, "b"},
		{"due before is exclusive", task.Query{DueBefore: at("2026-01-02T00:00:00Z")}, "a"},
		{"due after is exclusive", task.Query{DueAfter: at("2026-01-01T00:00:00Z")}, "b"},
		{"due range excludes undated", task.Query{DueAfter: at("2000-01-01T00:00:00Z"), DueBefore: at("2100-01-01T00:00:00Z")}, "ab"},
		{"combined", task.Query{Status: task.StatusPending, Tag: "home", Search: "write"}, "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, _, err := tc.q.Apply(tasks)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ids(items))
		})
	}
}

// TestCursorSurvivesChanges checks that a cursor marks a position, not an
// offset: tasks added or removed before it neither repeat nor skip others.
func TestCursorSurvivesChanges(t *testing.T) {
	t.Parallel()
	tasks := seed(30)
	q := task.Query{Sort: task.SortTitle, Limit: 10}
	first, next, err := q.Apply(tasks)
	require.NoError(t, err)

	// Remove two tasks already seen and add one that sorts before the cursor.
	changed := append([]task.Task{}, tasks...)
	changed = removeID(changed, first[0].ID)
	changed = removeID(changed, first[5].ID)
	changed = append(changed, task.Task{ID: "new", Title: "\x01 first", Priority: task.PriorityLow})

	rest, _, err := task.Query{Sort: task.SortTitle, Limit: 100, Cursor: next}.Apply(changed)
	require.NoError(t, err)
	all, _, err := task.Query{Sort: task.SortTitle, Limit: 100}.Apply(tasks)
	require.NoError(t, err)
	assert.Equal(t, ids(all[10:]), ids(rest))
}

func removeID(tasks []task.Task, id string) []task.Task {
	out := tasks[:0]
	for _, t := range tasks {
		if t.ID != id {
			out = append(out, t)
		}
	}
	return out
}

var words = []string{"milk", "Rent", "call", "MOM", "report", "gym", "dentist", "Taxes", "email", "plan", "über", "café"}

// seed makes n varied tasks: shared titles, due dates and creation times
// (so ties are common), some without due dates, all priorities and
// statuses, and overlapping tags.
func seed(n int) []task.Task {
	r := rand.New(rand.NewPCG(1, uint64(n))) //nolint:gosec // n is a test's positive size
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prios := []task.Priority{task.PriorityLow, task.PriorityMedium, task.PriorityHigh}
	tagPool := []string{"home", "work", "errand", "health", "money"}
	out := make([]task.Task, n)
	for i := range out {
		t := task.Task{
			ID:        fmt.Sprintf("%08x-%d", r.Uint32(), i),
			UserID:    "user-1",
			Title:     words[r.IntN(len(words))] + " " + words[r.IntN(len(words))],
			Priority:  prios[r.IntN(3)],
			CreatedAt: base.Add(time.Duration(r.IntN(200)) * time.Hour),
			Completed: r.IntN(3) == 0,
		}
		if r.IntN(4) == 0 {
			t.Description = "remember the " + strings.ToUpper(words[r.IntN(len(words))])
		}
		for _, tag := range tagPool {
			if r.IntN(3) == 0 {
				t.Tags = append(t.Tags, tag)
			}
		}
		if r.IntN(10) < 7 {
			due := base.Add(time.Duration(r.IntN(60)) * 24 * time.Hour)
			t.DueAt = &due
		}
		t.UpdatedAt = t.CreatedAt
		out[i] = t
	}
	return out
}

// reference is a deliberately plain implementation of filter and sort.
func reference(tasks []task.Task, q task.Query) []task.Task {
	var out []task.Task
	for _, t := range tasks {
		if q.Status == task.StatusPending && t.Completed || q.Status == task.StatusCompleted && !t.Completed {
			continue
		}
		if q.Priority != "" && t.Priority != q.Priority {
			continue
		}
		if q.Tag != "" {
			found := false
			for _, tag := range t.Tags {
				found = found || tag == q.Tag
			}
			if !found {
				continue
			}
		}
		if q.Search != "" {
			needle := strings.ToLower(q.Search)
			if !strings.Contains(strings.ToLower(t.Title), needle) && !strings.Contains(strings.ToLower(t.Description), needle) {
				continue
			}
		}
		if q.DueBefore != nil && (t.DueAt == nil || t.DueAt.UnixNano() >= q.DueBefore.UnixNano()) {
			continue
		}
		if q.DueAfter != nil && (t.DueAt == nil || t.DueAt.UnixNano() <= q.DueAfter.UnixNano()) {
			continue
		}
		out = append(out, t)
	}
	rank := map[task.Priority]int{task.PriorityHigh: 1, task.PriorityMedium: 2, task.PriorityLow: 3}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		var primary int // <0: a first, >0: b first, 0: tie
		switch q.Sort {
		case task.SortCreatedAt, "":
			primary = int(a.CreatedAt.Sub(b.CreatedAt))
		case task.SortCreatedAtDesc:
			primary = int(b.CreatedAt.Sub(a.CreatedAt))
		case task.SortDueAt, task.SortDueAtDesc:
			switch {
			case a.DueAt == nil && b.DueAt == nil:
			case a.DueAt == nil:
				return false
			case b.DueAt == nil:
				return true
			case q.Sort == task.SortDueAt:
				primary = int(a.DueAt.Sub(*b.DueAt))
			default:
				primary = int(b.DueAt.Sub(*a.DueAt))
			}
		case task.SortPriority:
			primary = rank[a.Priority] - rank[b.Priority]
		case task.SortPriorityDesc:
			primary = rank[b.Priority] - rank[a.Priority]
		case task.SortTitle:
			primary = strings.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title))
		case task.SortTitleDesc:
			primary = strings.Compare(strings.ToLower(b.Title), strings.ToLower(a.Title))
		}
		if primary != 0 {
			return primary < 0
		}
		return a.ID < b.ID
	})
	return out
}

// collect pages through q with cursors, failing on any repeated task.
func collect(t *testing.T, q task.Query, tasks []task.Task) []task.Task {
	t.Helper()
	var all []task.Task
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		require.Less(t, pages, len(tasks)+2, "paging does not end")
		items, next, err := q.Apply(tasks)
		require.NoError(t, err)
		limit := q.Limit
		if limit == 0 {
			limit = task.DefaultLimit
		}
		require.LessOrEqual(t, len(items), limit)
		for _, it := range items {
			require.False(t, seen[it.ID], "task %s returned twice", it.ID)
			seen[it.ID] = true
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		require.Len(t, items, limit, "only the last page may be short")
		// The cursor goes through the query string, as a client sends it.
		v := url.Values{"cursor": {next}, "limit": {fmt.Sprint(limit)}}
		if q.Sort != "" {
			v.Set("sort", string(q.Sort))
		}
		if q.Status != "" {
			v.Set("status", string(q.Status))
		}
		if q.Priority != "" {
			v.Set("priority", string(q.Priority))
		}
		if q.Tag != "" {
			v.Set("tag", q.Tag)
		}
		if q.Search != "" {
			v.Set("q", q.Search)
		}
		if q.DueBefore != nil {
			v.Set("due_before", q.DueBefore.Format(time.RFC3339Nano))
		}
		if q.DueAfter != nil {
			v.Set("due_after", q.DueAfter.Format(time.RFC3339Nano))
		}
		parsed, err := task.ParseQuery(v)
		require.NoError(t, err)
		q = parsed
	}
}

func TestApplyMatchesReferenceOn1000Tasks(t *testing.T) {
	t.Parallel()
	tasks := seed(1000)
	r := rand.New(rand.NewPCG(7, 7))
	r.Shuffle(len(tasks), func(i, j int) { tasks[i], tasks[j] = tasks[j], tasks[i] })

	filters := map[string]task.Query{
		"none":            {},
		"pending":         {Status: task.StatusPending},
		"completed":       {Status: task.StatusCompleted},
		"all":             {Status: task.StatusAll},
		"high":            {Priority: task.PriorityHigh},
		"low pending":     {Priority: task.PriorityLow, Status: task.StatusPending},
		"tag":             {Tag: "work"},
		"tag nobody has":  {Tag: "nope"},
		"search title":    {Search: "RENT"},
		"search accented": {Search: "ÜBER"},
		"search in both":  {Search: "mom"},
		"search phrase":   {Search: "milk gym"},
		"due before":      {DueBefore: at("2026-01-20T00:00:00Z")},
		"due after":       {DueAfter: at("2026-02-10T00:00:00Z")},
		"due window":      {DueAfter: at("2026-01-10T00:00:00Z"), DueBefore: at("2026-01-25T00:00:00Z")},
		"everything":      {Status: task.StatusPending, Priority: task.PriorityMedium, Tag: "home", Search: "e", DueBefore: at("2026-03-01T00:00:00Z")},
	}
	for name, filter := range filters {
		for _, s := range append(allSorts, "") {
			t.Run(fmt.Sprintf("%s/%s", name, s), func(t *testing.T) {
				q := filter
				q.Sort = s
				want := reference(tasks, q)
				if name == "none" || name == "all" {
					require.Len(t, want, len(tasks))
				}
				if name != "tag nobody has" {
					require.NotEmpty(t, want, "the seed must exercise this filter")
				}
				for _, limit := range []int{0, 37, task.MaxLimit} {
					q.Limit = limit
					got := collect(t, q, tasks)
					require.Equal(t, ids(want), ids(got), "limit %d", limit)
				}
			})
		}
	}
}

func TestApplyPagesOneByOne(t *testing.T) {
	t.Parallel()
	tasks := seed(120)
	for _, s := range allSorts {
		got := collect(t, task.Query{Sort: s, Limit: 1}, tasks)
		assert.Equal(t, ids(reference(tasks, task.Query{Sort: s})), ids(got), s)
	}
}

func TestApplyEmpty(t *testing.T) {
	t.Parallel()
	items, next, err := task.Query{}.Apply(nil)
	require.NoError(t, err)
	assert.Empty(t, items)
	assert.NotNil(t, items, "an empty page marshals as []")
	assert.Empty(t, next)
}
