package e2e_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/eventschema"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// TestProduct runs the Phase V flows through every function, their
// sidecars, the scheduler and the broker, once on each profile: the same
// binaries on other brokers and stores, only the components differ.
func TestProduct(t *testing.T) {
	for _, profile := range devstack.Profiles {
		t.Run(string(profile), func(t *testing.T) {
			p := devstack.StartProject(t, devstack.ProjectOptions{Profile: profile})
			a := api{t: t, p: p}
			log := p.WatchTopics(t, task.Topic, reminder.Topic)
			warmUp(t, a, p)
			if profile == devstack.Local {
				// First, while nothing else runs.
				t.Run("sidecar calls per operation", func(t *testing.T) { testSidecarCalls(t, api{t: t, p: p}, p) })
			}
			t.Run("reminders", func(t *testing.T) { testReminders(t, api{t: t, p: p}, p, log) })
			t.Run("recurrence", func(t *testing.T) { testRecurrence(t, api{t: t, p: p}, log) })
			t.Run("events", func(t *testing.T) { testEvents(t, api{t: t, p: p}, log) })
			t.Run("one trace", func(t *testing.T) { testTrace(t, api{t: t, p: p}, p) })
			t.Run("tenancy", func(t *testing.T) { testTenancy(t, api{t: t, p: p}) })
			t.Run("invalid input", func(t *testing.T) { testInvalid(t, api{t: t, p: p}, log) })
			t.Run("idempotent create", func(t *testing.T) { testIdempotentCreate(t, api{t: t, p: p}, log) })
			t.Run("listing 1000 tasks", func(t *testing.T) { testListing(t, api{t: t, p: p}) })
			t.Run("secrets stay out of logs", func(t *testing.T) {
				require.NotEmpty(t, p.Webhook.Deliveries(), "notifications were delivered with the secret token")
				assert.Zero(t, p.Webhook.Refused(), "every delivery carried the token from the secret store")
				assert.NotContains(t, p.Logs(), p.Token)
			})
			// Last: it kills and restarts a function.
			t.Run("reminders exactly once through a kill", func(t *testing.T) { testNotifierKill(t, api{t: t, p: p}, p) })
		})
	}
}

// testTrace: the trace the Chat API's call starts runs through
// task.created, the reminder job and reminder.due to the webhook delivery.
func testTrace(t *testing.T, a api, p *devstack.Project) {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	traceID := hex.EncodeToString(id)
	created := a.create(uniqueUser("trace"), map[string]any{"title": "traced", "remind_at": rfc(time.Now().Add(2 * time.Second))},
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	var ds []map[string]any
	require.Eventually(t, func() bool { ds = p.Webhook.DeliveriesFor(created["id"].(string)); return len(ds) == 1 },
		30*time.Second, 100*time.Millisecond, "the reminder never arrived")
	tp, _ := ds[0][devstack.TraceParent].(string)
	assert.Regexp(t, "^00-"+traceID+"-[0-9a-f]{16}-[0-9a-f]{2}$", tp, "the webhook delivery continues the Chat API's trace")
}

// warmUp waits until a reminder makes the whole trip once: a consumer
// group's first delivery takes seconds to form, later ones milliseconds.
func warmUp(t *testing.T, a api, p *devstack.Project) {
	created := a.create(uniqueUser("warmup"), map[string]any{"title": "warm up", "remind_at": rfc(time.Now().Add(time.Second))})
	require.Eventually(t, func() bool { return len(p.Webhook.DeliveriesFor(created["id"].(string))) == 1 },
		60*time.Second, 100*time.Millisecond, "the first reminder never arrived")
}

func testReminders(t *testing.T, a api, p *devstack.Project, log *devstack.TopicLog) {
	user := uniqueUser("rem")
	remindAt := time.Now().Add(5 * time.Second).Truncate(time.Millisecond)
	onTime := a.create(user, map[string]any{"title": "call mom", "remind_at": rfc(remindAt), "due_at": rfc(remindAt.Add(time.Hour))})

	// Moved from +3 s to +7 s: fires only at the new time.
	moved := a.create(user, map[string]any{"title": "moved", "remind_at": rfc(time.Now().Add(3 * time.Second))})
	newAt := time.Now().Add(7 * time.Second).Truncate(time.Second)
	r := a.call("update-task", http.MethodPatch, "/users/"+user+"/tasks/"+moved["id"].(string), map[string]any{"remind_at": rfc(newAt)})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	// Completed and deleted before their reminder: nothing fires.
	completed := a.create(user, map[string]any{"title": "done early", "remind_at": rfc(time.Now().Add(4 * time.Second))})
	deleted := a.create(user, map[string]any{"title": "gone", "remind_at": rfc(time.Now().Add(4 * time.Second))})
	require.Equal(t, http.StatusOK, a.call("complete-task", http.MethodPost, "/users/"+user+"/tasks/"+completed["id"].(string)+"/complete", nil).Status)
	require.Equal(t, http.StatusNoContent, a.call("delete-task", http.MethodDelete, "/users/"+user+"/tasks/"+deleted["id"].(string), nil).Status)

	// Given with +05:00: fires at the same UTC instant.
	offsetAt := time.Now().Add(6 * time.Second).Truncate(time.Second)
	offset := a.create(user, map[string]any{"title": "offset", "remind_at": offsetAt.In(time.FixedZone("", 5*3600)).Format(time.RFC3339)})
	assert.Equal(t, rfc(offsetAt), offset["remind_at"], "stored in UTC")

	time.Sleep(time.Until(newAt.Add(3 * time.Second)))

	checkOnce := func(name string, created map[string]any, at time.Time) {
		ds := p.Webhook.DeliveriesFor(created["id"].(string))
		require.Len(t, ds, 1, "%s: exactly one notification", name)
		got, err := time.Parse(time.RFC3339Nano, ds[0][devstack.ReceivedAt].(string))
		require.NoError(t, err)
		late := got.Sub(at)
		t.Logf("%s: delivered %v after remind_at", name, late)
		assert.GreaterOrEqual(t, late, time.Duration(0), "%s: never before remind_at", name)
		assert.Less(t, late, 2*time.Second, "%s: within 2 s of remind_at", name)
		assert.Equal(t, rfc(at), ds[0]["remind_at"])
	}
	checkOnce("5 s ahead", onTime, remindAt)
	checkOnce("moved", moved, newAt)
	checkOnce("+05:00", offset, offsetAt)
	assert.Empty(t, p.Webhook.DeliveriesFor(completed["id"].(string)), "completed before its reminder")
	assert.Empty(t, p.Webhook.DeliveriesFor(deleted["id"].(string)), "deleted before its reminder")

	// The notification is on record for the user, newest first.
	r = a.call("send-notification", http.MethodGet, "/users/"+user+"/notifications", nil)
	require.Equal(t, http.StatusOK, r.Status)
	var inbox struct{ Items []map[string]any }
	require.NoError(t, json.Unmarshal(r.Body, &inbox))
	require.Len(t, inbox.Items, 3)
	for _, n := range inbox.Items {
		assert.Equal(t, "reminder", n["kind"])
		assert.Equal(t, "webhook", n["channel"])
		assert.NotEmpty(t, n["sent_at"])
	}
	assert.GreaterOrEqual(t, inbox.Items[0]["sent_at"], inbox.Items[2]["sent_at"], "newest first")

	// A redelivered reminder.due delivers nothing twice.
	due := log.About(onTime["id"].(string))[reminder.EventDue]
	require.NotEmpty(t, due)
	a.publish(reminder.Topic, due[0])
	time.Sleep(2 * time.Second)
	assert.Len(t, p.Webhook.DeliveriesFor(onTime["id"].(string)), 1, "a redelivered reminder is not delivered again")
}

func testRecurrence(t *testing.T, a api, log *devstack.TopicLog) {
	user := uniqueUser("rec")
	due := time.Date(2031, 3, 10, 9, 0, 0, 0, time.UTC)
	daily := a.create(user, map[string]any{
		"title": "water plants", "description": "balcony", "priority": "high", "tags": []string{"home", "garden"},
		"due_at": rfc(due), "remind_at": rfc(due.Add(-30 * time.Minute)),
		"recurrence": map[string]any{"frequency": "daily", "interval": 1},
	})
	path := "/users/" + user + "/tasks/" + daily["id"].(string) + "/complete"
	for i := 0; i < 2; i++ { // completing twice is not an error
		r := a.call("complete-task", http.MethodPost, path, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Equal(t, true, r.Object(t)["completed"])
	}
	pending := a.list(user, "status=pending")
	require.Len(t, pending, 1, "exactly one next occurrence")
	next := pending[0]
	assert.Equal(t, rfc(due.AddDate(0, 0, 1)), next["due_at"])
	assert.Equal(t, rfc(due.AddDate(0, 0, 1).Add(-30*time.Minute)), next["remind_at"], "same reminder offset")
	for _, k := range []string{"title", "description", "priority", "tags", "recurrence"} {
		assert.Equal(t, daily[k], next[k], k)
	}

	// A redelivered completion event creates nothing more.
	completedEvents := waitEvents(t, log, daily["id"].(string), task.EventCompleted, 1)
	a.publish(task.Topic, completedEvents[0])
	time.Sleep(2 * time.Second)
	assert.Len(t, a.list(user, "status=all"), 2)

	monthly := a.create(user, map[string]any{"title": "rent", "due_at": "2031-01-31T09:00:00Z",
		"recurrence": map[string]any{"frequency": "monthly", "interval": 1}})
	require.Equal(t, http.StatusOK, a.call("complete-task", http.MethodPost, "/users/"+user+"/tasks/"+monthly["id"].(string)+"/complete", nil).Status)
	var feb []map[string]any
	for _, tk := range a.list(user, "status=pending") {
		if tk["title"] == "rent" {
			feb = append(feb, tk)
		}
	}
	require.Len(t, feb, 1)
	assert.Equal(t, "2031-02-28T09:00:00Z", feb[0]["due_at"], "Jan 31 recurs on the last day of February")
}

// waitEvents waits for n events of a type about a subject.
func waitEvents(t *testing.T, log *devstack.TopicLog, subject, eventType string, n int) []cloudevents.Event {
	t.Helper()
	var got []cloudevents.Event
	require.Eventually(t, func() bool {
		got = log.About(subject)[eventType]
		return len(got) >= n
	}, 20*time.Second, 50*time.Millisecond, "%d %s event(s) for %s", n, eventType, subject)
	return got
}

func testEvents(t *testing.T, a api, log *devstack.TopicLog) {
	user := uniqueUser("ev")
	created := a.create(user, map[string]any{"title": "events", "tags": []string{"a"}})
	id := created["id"].(string)
	base := "/users/" + user + "/tasks/" + id
	updated := a.call("update-task", http.MethodPatch, base, map[string]any{"title": "events 2", "tags": nil}).Object(t)
	completed := a.call("complete-task", http.MethodPost, base+"/complete", nil).Object(t)
	require.Equal(t, http.StatusNoContent, a.call("delete-task", http.MethodDelete, base, nil).Status)

	want := map[string]map[string]any{
		task.EventCreated: created, task.EventUpdated: updated, task.EventCompleted: completed,
	}
	for _, typ := range []string{task.EventCreated, task.EventUpdated, task.EventCompleted, task.EventDeleted} {
		waitEvents(t, log, id, typ, 1)
		time.Sleep(200 * time.Millisecond)
		evs := log.About(id)[typ]
		require.Len(t, evs, 1, "exactly one %s", typ)
		e := evs[0]
		assert.Equal(t, id, e.Subject())
		assert.Equal(t, id, e.Extensions()["partitionkey"], "partition key is the task id")
		assert.NoError(t, eventschema.Validate(typ, e.Data()), "%s matches its published schema", typ)
		var data map[string]any
		require.NoError(t, json.Unmarshal(e.Data(), &data))
		if w, ok := want[typ]; ok {
			assert.Equal(t, w, data, "%s carries the whole task as returned", typ)
		} else {
			assert.Equal(t, id, data["id"])
		}
	}
	for _, e := range log.Events() {
		if e.Type() == reminder.EventDue {
			assert.NoError(t, eventschema.Validate(e.Type(), e.Data()))
		}
	}
}

func testTenancy(t *testing.T, a api) {
	alice, bob := uniqueUser("alice"), uniqueUser("bob")
	mine := a.create(alice, map[string]any{"title": "alice's"})
	id := mine["id"].(string)
	for _, c := range []struct{ fn, method, path string }{
		{"list-tasks", http.MethodGet, "/users/" + bob + "/tasks/" + id},
		{"update-task", http.MethodPatch, "/users/" + bob + "/tasks/" + id},
		{"complete-task", http.MethodPost, "/users/" + bob + "/tasks/" + id + "/complete"},
		{"delete-task", http.MethodDelete, "/users/" + bob + "/tasks/" + id},
	} {
		var body any
		if c.method == http.MethodPatch {
			body = map[string]any{"title": "hijacked"}
		}
		r := a.call(c.fn, c.method, c.path, body)
		assert.Equal(t, http.StatusNotFound, r.Status, "%s %s", c.method, c.path)
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	}
	assert.Empty(t, a.list(bob, "status=all"), "bob sees none of alice's tasks")
	r := a.call("list-tasks", http.MethodGet, "/users/"+alice+"/tasks/"+id, nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, mine, r.Object(t), "alice's task is unchanged")
}

func testInvalid(t *testing.T, a api, log *devstack.TopicLog) {
	user := uniqueUser("bad")
	cases := map[string]struct {
		body  string
		field string
	}{
		"title missing":           {`{}`, "title"},
		"title blank":             {`{"title":"   "}`, "title"},
		"title too long":          {`{"title":"` + strings.Repeat("x", 201) + `"}`, "title"},
		"description too long":    {`{"title":"t","description":"` + strings.Repeat("d", 1001) + `"}`, "description"},
		"priority unknown":        {`{"title":"t","priority":"urgent"}`, "priority"},
		"too many tags":           {`{"title":"t","tags":["a","b","c","d","e","f","g","h","i","j","k"]}`, "tags"},
		"tag too long":            {`{"title":"t","tags":["` + strings.Repeat("t", 31) + `"]}`, "tags"},
		"duplicate tags":          {`{"title":"t","tags":["Home","home"]}`, "tags"},
		"due_at without offset":   {`{"title":"t","due_at":"2031-01-02T10:00:00"}`, "due_at"},
		"remind_at not a time":    {`{"title":"t","remind_at":"tomorrow"}`, "remind_at"},
		"remind_at after due_at":  {`{"title":"t","due_at":"2031-01-02T10:00:00Z","remind_at":"2031-01-02T11:00:00Z"}`, "remind_at"},
		"recurrence without due":  {`{"title":"t","recurrence":{"frequency":"daily","interval":1}}`, "recurrence"},
		"recurrence bad freq":     {`{"title":"t","due_at":"2031-01-02T10:00:00Z","recurrence":{"frequency":"hourly","interval":1}}`, "recurrence.frequency"},
		"recurrence bad interval": {`{"title":"t","due_at":"2031-01-02T10:00:00Z","recurrence":{"frequency":"daily","interval":0}}`, "recurrence.interval"},
		"unknown field":           {`{"title":"t","owner":"mallory"}`, "owner"},
		"wrong type":              {`{"title":42}`, "title"},
	}
	for name, c := range cases {
		r := a.call("create-task", http.MethodPost, "/users/"+user+"/tasks", c.body)
		assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", name, r.Body)
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), name)
		assert.True(t, names(fields(t, r), c.field), "%s names the field %s: %s", name, c.field, r.Body)
	}
	big := `{"title":"t","description":"` + strings.Repeat("x", 1<<20) + `"}`
	assert.Equal(t, http.StatusRequestEntityTooLarge, a.call("create-task", http.MethodPost, "/users/"+user+"/tasks", big).Status)
	r := a.call("create-task", http.MethodPost, "/users/"+user+"/tasks", "title=x", "Content-Type", "application/x-www-form-urlencoded")
	assert.Equal(t, http.StatusUnsupportedMediaType, r.Status)
	r = a.call("create-task", http.MethodPost, "/users/"+user+"/tasks", `{"title":`)
	assert.Equal(t, http.StatusBadRequest, r.Status)

	// An update that would break a rule is refused and changes nothing.
	good := a.create(user, map[string]any{"title": "ok", "due_at": "2031-01-02T10:00:00Z"})
	r = a.call("update-task", http.MethodPatch, "/users/"+user+"/tasks/"+good["id"].(string), `{"remind_at":"2031-01-03T10:00:00Z"}`)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, fields(t, r), "remind_at")

	time.Sleep(500 * time.Millisecond)
	assert.Len(t, a.list(user, "status=all"), 1, "nothing invalid was stored")
	n := 0
	for _, e := range log.Events() {
		var d map[string]any
		if json.Unmarshal(e.Data(), &d) == nil && d["user_id"] == user {
			n++
		}
	}
	assert.Equal(t, 1, n, "only the valid task's event was published")
}

// names reports whether a field error names field or one of its elements
// (tags[3] names tags).
func names(got []string, field string) bool {
	for _, f := range got {
		if f == field || strings.HasPrefix(f, field+"[") {
			return true
		}
	}
	return false
}

func fields(t *testing.T, r fakes.Response) []string {
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &p), "%s", r.Body)
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func testIdempotentCreate(t *testing.T, a api, log *devstack.TopicLog) {
	user := uniqueUser("idem")
	body := map[string]any{"title": "only once"}
	first := a.create(user, body, "Idempotency-Key", "abc-123")
	second := a.create(user, body, "Idempotency-Key", "abc-123")
	assert.Equal(t, first, second, "a retried create returns the first task")
	r := a.call("create-task", http.MethodPost, "/users/"+user+"/tasks", map[string]any{"title": "other"}, "Idempotency-Key", "abc-123")
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status)
	assert.Len(t, a.list(user, "status=all"), 1)
	waitEvents(t, log, first["id"].(string), task.EventCreated, 1)
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, log.About(first["id"].(string))[task.EventCreated], 1, "one event for the retried create")
}

func testListing(t *testing.T, a api) {
	user := uniqueUser("list")
	base := time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)
	prios := []string{"low", "medium", "high"}
	type seed struct {
		title, prio, tag string
		due              time.Time
		done             bool
	}
	var seeds []seed
	for i := 0; i < 1000; i++ {
		s := seed{
			title: fmt.Sprintf("task %04d %s", i, []string{"milk", "Report", "gym", "call"}[i%4]),
			prio:  prios[i%3], tag: []string{"home", "work", "errand", "misc", "x"}[i%5],
			due: base.Add(time.Duration(i*37%1000) * time.Hour), done: i%7 == 0,
		}
		seeds = append(seeds, s)
	}
	ids := make([]string, len(seeds))
	errs := make(chan error, len(seeds))
	sem := make(chan struct{}, 4)
	for i, s := range seeds {
		sem <- struct{}{}
		go func(i int, s seed) {
			defer func() { <-sem }()
			r := a.call("create-task", http.MethodPost, "/users/"+user+"/tasks", map[string]any{
				"title": s.title, "priority": s.prio, "tags": []string{s.tag}, "due_at": rfc(s.due)})
			if r.Status != http.StatusCreated {
				errs <- fmt.Errorf("create %d: %d %s", i, r.Status, r.Body)
				return
			}
			ids[i] = r.Object(t)["id"].(string)
			if s.done {
				if r := a.call("complete-task", http.MethodPost, "/users/"+user+"/tasks/"+ids[i]+"/complete", nil); r.Status != http.StatusOK {
					errs <- fmt.Errorf("complete %d: %d", i, r.Status)
				}
			}
			errs <- nil
		}(i, s)
	}
	for range seeds {
		require.NoError(t, <-errs)
	}

	expect := func(keep func(seed) bool) []string {
		var out []string
		for i, s := range seeds {
			if keep(s) {
				out = append(out, ids[i])
			}
		}
		sort.Strings(out)
		return out
	}
	got := func(query string) []string {
		var out []string
		for _, tk := range a.list(user, query+"&limit=200") {
			out = append(out, tk["id"].(string))
		}
		return out
	}
	sorted := func(ids []string) []string { s := append([]string(nil), ids...); sort.Strings(s); return s }

	assert.Equal(t, expect(func(seed) bool { return true }), sorted(got("status=all")))
	assert.Equal(t, expect(func(s seed) bool { return !s.done }), sorted(got("status=pending")))
	assert.Equal(t, expect(func(s seed) bool { return s.done }), sorted(got("status=completed")))
	assert.Equal(t, expect(func(s seed) bool { return s.prio == "high" }), sorted(got("status=all&priority=high")))
	assert.Equal(t, expect(func(s seed) bool { return s.tag == "work" }), sorted(got("status=all&tag=work")))
	assert.Equal(t, expect(func(s seed) bool { return strings.Contains(strings.ToLower(s.title), "report") }), sorted(got("status=all&q=REPORT")))
	cut := base.Add(300 * time.Hour)
	assert.Equal(t, expect(func(s seed) bool { return s.due.Before(cut) }), sorted(got("status=all&due_before="+rfc(cut))))
	assert.Equal(t, expect(func(s seed) bool { return s.due.After(cut) }), sorted(got("status=all&due_after="+rfc(cut))))

	byID := map[string]seed{}
	for i, s := range seeds {
		byID[ids[i]] = s
	}
	rank := map[string]int{"high": 0, "medium": 1, "low": 2}
	orders := map[string]func(a, b seed) bool{
		"due_at":     func(a, b seed) bool { return a.due.Before(b.due) },
		"-due_at":    func(a, b seed) bool { return a.due.After(b.due) },
		"priority":   func(a, b seed) bool { return rank[a.prio] < rank[b.prio] },
		"-priority":  func(a, b seed) bool { return rank[a.prio] > rank[b.prio] },
		"title":      func(a, b seed) bool { return strings.ToLower(a.title) < strings.ToLower(b.title) },
		"created_at": nil,
	}
	for order, less := range orders {
		list := got("status=all&sort=" + order)
		require.Len(t, list, 1000, order)
		if less == nil {
			continue // creation order is concurrent here; the unit tests pin it
		}
		for i := 1; i < len(list); i++ {
			assert.False(t, less(byID[list[i]], byID[list[i-1]]), "sort=%s out of order at %d", order, i)
		}
	}
}
