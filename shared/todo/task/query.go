package task

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
)

// Status selects tasks by completion.
type Status string

// Statuses.
const (
	StatusAll       Status = "all"
	StatusPending   Status = "pending"
	StatusCompleted Status = "completed"
)

// Sort is a list order. Every order ends with the task id, so it is total
// and pages never overlap.
type Sort string

// Sort orders. Tasks without a due date come last in both due orders.
// SortPriority lists high before medium before low; SortTitle ignores case.
const (
	SortCreatedAt     Sort = "created_at"
	SortCreatedAtDesc Sort = "-created_at"
	SortDueAt         Sort = "due_at"
	SortDueAtDesc     Sort = "-due_at"
	SortPriority      Sort = "priority"
	SortPriorityDesc  Sort = "-priority"
	SortTitle         Sort = "title"
	SortTitleDesc     Sort = "-title"
)

var sorts = []Sort{SortCreatedAt, SortCreatedAtDesc, SortDueAt, SortDueAtDesc, SortPriority, SortPriorityDesc, SortTitle, SortTitleDesc}

// Limits of a list query.
const (
	DefaultLimit = 50
	MaxLimit     = 200
	MaxSearch    = 200 // runes of q
	// MaxScan bounds the tasks one page of a filtered creation-order
	// listing reads; a page that stops there says where to continue.
	MaxScan   = 1000
	maxCursor = 4096
)

// Query is a list request. Its zero value lists all tasks by creation,
// DefaultLimit at a time.
type Query struct {
	Status    Status     // empty means all
	Priority  Priority   // empty means any
	Tag       string     // a stored (lowercase) tag; empty means any
	Search    string     // case-insensitive substring of title or description
	DueBefore *time.Time // due strictly before
	DueAfter  *time.Time // due strictly after
	Sort      Sort       // empty means created_at
	Limit     int        // 0 means DefaultLimit
	Cursor    string     // from a previous page of the same query
}

var queryParams = []string{"status", "priority", "tag", "q", "due_before", "due_after", "sort", "limit", "cursor"}

// ParseQuery reads a list request's query string. An empty parameter is
// the same as an absent one. Unknown, repeated and invalid parameters are
// a 400 naming each.
func ParseQuery(v url.Values) (Query, error) {
	var fe problem.Fields
	get := func(name string) string {
		vals := v[name]
		if len(vals) > 1 {
			fe.Add(name, "must be given at most once")
		}
		if len(vals) == 0 {
			return ""
		}
		if !utf8.ValidString(vals[0]) {
			fe.Add(name, "must be valid UTF-8")
			return ""
		}
		return vals[0]
	}
	for _, name := range slices.Sorted(maps.Keys(v)) {
		if !slices.Contains(queryParams, name) {
			fe.Add(name, "unknown parameter")
		}
	}
	var q Query
	if s := get("status"); s != "" {
		q.Status = Status(s)
		if q.Status != StatusAll && q.Status != StatusPending && q.Status != StatusCompleted {
			fe.Add("status", "must be one of pending, completed, all")
		}
	}
	if s := get("priority"); s != "" {
		q.Priority = Priority(s)
		if !q.Priority.valid() {
			fe.Add("priority", "must be one of high, medium, low")
		}
	}
	if s := get("tag"); s != "" {
		q.Tag = normalizeTag(s)
		if q.Tag == "" || utf8.RuneCountInString(q.Tag) > MaxTag {
			fe.Add("tag", "must be 1 to %d characters", MaxTag)
		}
	}
	if s := get("q"); s != "" {
		q.Search = s
		if utf8.RuneCountInString(s) > MaxSearch {
			fe.Add("q", "must be at most %d characters", MaxSearch)
		}
	}
	q.DueBefore = queryTime(&fe, "due_before", get("due_before"))
	q.DueAfter = queryTime(&fe, "due_after", get("due_after"))
	if s := get("sort"); s != "" {
		q.Sort = Sort(s)
		if !slices.Contains(sorts, q.Sort) {
			fe.Add("sort", "must be one of %s", joinSorts())
		}
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			fe.Add("limit", "must be an integer from 1 to %d", MaxLimit)
		}
		q.Limit = n
	}
	q.Cursor = get("cursor")
	if err := fe.Err(); err != nil {
		return Query{}, err
	}
	if _, err := q.after(); err != nil {
		return Query{}, err
	}
	return q, nil
}

func joinSorts() string {
	s := make([]string, len(sorts))
	for i, o := range sorts {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

func queryTime(fe *problem.Fields, name, s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := parseTime(s)
	if err != nil && strings.Contains(s, " ") {
		// An unencoded '+' in an offset arrives as a space; a space is
		// never valid in RFC 3339, so this cannot misread a real value.
		t, err = parseTime(strings.ReplaceAll(s, " ", "+"))
	}
	if err != nil {
		fe.Add(name, "%v", err)
		return nil
	}
	return &t
}

func (q Query) withDefaults() Query {
	if q.Status == "" {
		q.Status = StatusAll
	}
	if q.Sort == "" {
		q.Sort = SortCreatedAt
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	return q
}

// fingerprint identifies what a query selects and in which order, but not
// its page size, so a cursor only continues the query that made it.
func (q Query) fingerprint() string {
	q = q.withDefaults()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\x00%s\x00%s\x00%s\x00%s\x00", q.Status, q.Priority, q.Tag, strings.ToLower(q.Search), q.Sort)
	for _, t := range []*time.Time{q.DueBefore, q.DueAfter} {
		if t != nil {
			b.WriteString(t.UTC().Format(time.RFC3339Nano))
		}
		b.WriteByte(0)
	}
	sum := sha256.Sum256(b.Bytes())
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// key is where a task falls in a sort order: the fields the order
// compares, and the id that breaks ties.
type key struct {
	ID    string     `json:"id"`
	Time  *time.Time `json:"t,omitempty"` // due_at or created_at
	Rank  int        `json:"r,omitempty"` // priority rank
	Title string     `json:"s,omitempty"` // lowercase title
}

func keyOf(t Task, s Sort) key {
	k := key{ID: t.ID}
	switch s {
	case SortDueAt, SortDueAtDesc:
		k.Time = utcPtr(t.DueAt)
	case SortCreatedAt, SortCreatedAtDesc:
		c := t.CreatedAt.UTC()
		k.Time = &c
	case SortPriority, SortPriorityDesc:
		k.Rank = t.Priority.rank()
	case SortTitle, SortTitleDesc:
		k.Title = strings.ToLower(t.Title)
	}
	return k
}

func compareKeys(s Sort, a, b key) int {
	c := 0
	switch s {
	case SortDueAt, SortDueAtDesc:
		switch {
		case a.Time == nil && b.Time == nil:
		case a.Time == nil:
			return 1 // no due date: last either way
		case b.Time == nil:
			return -1
		default:
			c = a.Time.Compare(*b.Time)
		}
	case SortCreatedAt, SortCreatedAtDesc:
		if a.Time != nil && b.Time != nil {
			c = a.Time.Compare(*b.Time)
		}
	case SortPriority, SortPriorityDesc:
		c = cmp.Compare(a.Rank, b.Rank)
	case SortTitle, SortTitleDesc:
		c = strings.Compare(a.Title, b.Title)
	}
	if strings.HasPrefix(string(s), "-") {
		c = -c
	}
	if c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// cursor is what a page's next cursor encodes: the position of the page's
// last task, so the next page starts right after it even if tasks were
// added or removed in between, and the query it belongs to.
type cursor struct {
	V     int    `json:"v"`
	Query string `json:"q"`
	After key    `json:"a"`
}

const cursorVersion = 1

func badCursor() error {
	return problem.Invalid(problem.FieldError{Field: "cursor", Detail: "is not a cursor of this query"})
}

// after decodes q.Cursor: the position the page starts after, or nil for
// the first page.
func (q Query) after() (*key, error) {
	if q.Cursor == "" {
		return nil, nil
	}
	if len(q.Cursor) > maxCursor {
		return nil, badCursor()
	}
	raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil {
		return nil, badCursor()
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c cursor
	if dec.Decode(&c) != nil || dec.More() || c.V != cursorVersion || c.Query != q.fingerprint() || c.After.ID == "" {
		return nil, badCursor()
	}
	s := q.withDefaults().Sort
	if (s == SortCreatedAt || s == SortCreatedAtDesc) && c.After.Time == nil {
		return nil, badCursor()
	}
	return &c.After, nil
}

func (q Query) encodeCursor(k key) (string, error) {
	b, err := json.Marshal(cursor{V: cursorVersion, Query: q.fingerprint(), After: k})
	if err != nil {
		return "", fmt.Errorf("task: encoding cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Matches reports whether t passes q's filters.
func (q Query) Matches(t Task) bool {
	q = q.withDefaults()
	switch {
	case q.Status == StatusPending && t.Completed,
		q.Status == StatusCompleted && !t.Completed,
		q.Priority != "" && t.Priority != q.Priority,
		q.Tag != "" && !slices.Contains(t.Tags, q.Tag),
		q.DueBefore != nil && (t.DueAt == nil || !t.DueAt.Before(*q.DueBefore)),
		q.DueAfter != nil && (t.DueAt == nil || !t.DueAt.After(*q.DueAfter)):
		return false
	}
	if q.Search != "" {
		s := strings.ToLower(q.Search)
		return strings.Contains(strings.ToLower(t.Title), s) || strings.Contains(strings.ToLower(t.Description), s)
	}
	return true
}

// Apply returns the page of tasks that q selects, in q's order, and the
// cursor of the next page, empty on the last one. It does not look at
// user ids: tasks must already be the user's own. An invalid query
// (possible only when it was not made by ParseQuery) is a 400.
func (q Query) Apply(tasks []Task) (items []Task, nextCursor string, err error) {
	q = q.withDefaults()
	if err := q.check(); err != nil {
		return nil, "", err
	}
	after, err := q.after()
	if err != nil {
		return nil, "", err
	}
	var sel []Task
	for _, t := range tasks {
		if after == nil || compareKeys(q.Sort, keyOf(t, q.Sort), *after) > 0 {
			sel = append(sel, t)
		}
	}
	slices.SortFunc(sel, func(a, b Task) int { return compareKeys(q.Sort, keyOf(a, q.Sort), keyOf(b, q.Sort)) })
	return q.Page(sel, false)
}

// Page is the page q selects from scanned: tasks in q's order that start
// right after q's cursor, with more saying whether others follow them.
// When the page is not full and more follow, its cursor continues after
// the last task scanned, so a filter that rarely matches costs a bounded
// read per request: such a page may hold fewer than limit tasks, even
// none, and still have a next cursor.
func (q Query) Page(scanned []Task, more bool) (items []Task, nextCursor string, err error) {
	q = q.withDefaults()
	if err := q.check(); err != nil {
		return nil, "", err
	}
	items = []Task{}
	last := -1
	for i, t := range scanned {
		if len(items) == q.Limit {
			more = true
			break
		}
		last = i
		if q.Matches(t) {
			items = append(items, t)
		}
	}
	if more && last >= 0 {
		if nextCursor, err = q.encodeCursor(keyOf(scanned[last], q.Sort)); err != nil {
			return nil, "", err
		}
	}
	return items, nextCursor, nil
}

// Count is how many of tasks pass q's filters.
func (q Query) Count(tasks []Task) int {
	n := 0
	for _, t := range tasks {
		if q.Matches(t) {
			n++
		}
	}
	return n
}

// Position is where a task stands in creation order: the default list
// order, and the order a user's task index keeps.
type Position struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"id"`
}

// PositionOf is t's position in creation order.
func PositionOf(t Task) Position { return Position{CreatedAt: t.CreatedAt.UTC(), ID: t.ID} }

// Compare orders positions as the created_at sort does.
func (p Position) Compare(o Position) int {
	return compareKeys(SortCreatedAt, key{ID: p.ID, Time: &p.CreatedAt}, key{ID: o.ID, Time: &o.CreatedAt})
}

// CreationOrder reports whether q lists in creation order (newest first
// when desc), which a user's index serves without reading other tasks.
func (q Query) CreationOrder() (desc, ok bool) {
	s := q.withDefaults().Sort
	return s == SortCreatedAtDesc, s == SortCreatedAt || s == SortCreatedAtDesc
}

// Filtered reports whether q may leave tasks out.
func (q Query) Filtered() bool {
	q = q.withDefaults()
	return q.Status != StatusAll || q.Priority != "" || q.Tag != "" || q.Search != "" || q.DueBefore != nil || q.DueAfter != nil
}

// StartAfter is the position a creation-order query's page starts after,
// nil on the first page.
func (q Query) StartAfter() (*Position, error) {
	k, err := q.after()
	if err != nil || k == nil {
		return nil, err
	}
	if _, ok := q.CreationOrder(); !ok {
		return nil, badCursor()
	}
	return &Position{CreatedAt: *k.Time, ID: k.ID}, nil
}

// check validates a query built in code; ParseQuery reports the same
// problems against the parameters.
func (q Query) check() error {
	var fe problem.Fields
	if q.Status != StatusAll && q.Status != StatusPending && q.Status != StatusCompleted {
		fe.Add("status", "must be one of pending, completed, all")
	}
	if q.Priority != "" && !q.Priority.valid() {
		fe.Add("priority", "must be one of high, medium, low")
	}
	if !slices.Contains(sorts, q.Sort) {
		fe.Add("sort", "must be one of %s", joinSorts())
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		fe.Add("limit", "must be an integer from 1 to %d", MaxLimit)
	}
	return fe.Err()
}
