package apicontract

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/todo/eventschema"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// chatAPI is the app-id of the stand-in Chat API: only its sidecar runs,
// and the tests call the functions through it, as the Chat API does.
const chatAPI = "chat-api"

// TestRunningStack checks the contracts against the real functions, each
// with its own daprd, on SQLite: every route of openapi.yaml with real
// requests and responses (errors included), every event they emit against
// asyncapi.yaml and the event schemas, and the Python client.
func TestRunningStack(t *testing.T) {
	doc := loadOpenAPI(t)
	async := loadAsyncAPI(t)
	payloads := payloadSchemas(t, async)

	app := httptest.NewServer(http.NotFoundHandler()) // the Chat API itself: nothing to serve here
	t.Cleanup(app.Close)
	token := randomHex(16)
	p := devstack.StartProject(t, devstack.ProjectOptions{
		// Every function then requires the token, which every sidecar sends.
		Env:  []string{"APP_API_TOKEN=" + token},
		Apps: []devstack.Function{{Name: chatAPI, AppPort: app.Listener.Addr().(*net.TCPAddr).Port}},
	})
	topics := []string{task.Topic, reminder.Topic, task.Topic + ".dlq", reminder.Topic + ".dlq"}
	log := devstack.WatchTopics(t, p.BrokerAddr(), topics...)
	c := newCaller(t, doc, p, token)

	user := "contract-" + randomHex(4)
	t.Run("openapi", func(t *testing.T) {
		c.t = t
		exerciseAPI(t, c, user)
		c.checkCoverage(t)
	})
	t.Run("asyncapi", func(t *testing.T) {
		checkEvents(t, log, async, payloads, user)
	})
	t.Run("python-client", func(t *testing.T) {
		c.t = t
		runPythonClient(t, c, p)
	})
	assert.False(t, strings.Contains(p.Logs(), token), "a log shows APP_API_TOKEN")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// docOp is one operation of the document, with a matcher for its path.
type docOp struct {
	method, template string
	re               *regexp.Regexp
	params           []string
	item             *openapi3.PathItem
	op               *openapi3.Operation
}

var quotedParam = regexp.MustCompile(`\\\{[a-z_]+\\\}`)

// caller sends requests to the stack and checks each request and answer
// against the document.
type caller struct {
	t     *testing.T
	doc   *openapi3.T
	ops   []docOp
	p     *devstack.Project
	token string

	mu   sync.Mutex
	seen map[string][]int // statuses answered, by operationId
}

func newCaller(t *testing.T, doc *openapi3.T, p *devstack.Project, token string) *caller {
	c := &caller{t: t, doc: doc, p: p, token: token, seen: map[string][]int{}}
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	for path, item := range doc.Paths.Map() {
		var names []string
		for _, m := range param.FindAllStringSubmatch(path, -1) {
			names = append(names, m[1])
		}
		// QuoteMeta escapes the braces of the parameters.
		re := regexp.MustCompile("^" + quotedParam.ReplaceAllString(regexp.QuoteMeta(path), `([^/]+)`) + "$")
		for method, op := range item.Operations() {
			c.ops = append(c.ops, docOp{method, path, re, names, item, op})
		}
	}
	return c
}

// call is one request.
type call struct {
	fn     string // the function that serves it
	direct bool   // to the function itself; otherwise through the chat-api sidecar
	// noToken leaves out dapr-api-token on a direct call.
	noToken bool
	method  string
	path    string // as the function sees it, query included
	ctype   string
	header  map[string]string
	body    []byte
	// docRejects: the document itself rejects the request (a rule it can
	// express); the function must reject it too.
	docRejects bool
	want       int
}

// answer is what the function answered.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(a.body, v), "%s", a.body)
}

// fields returns the field names of a problem's errors[].
func (a answer) fields(t *testing.T) []string {
	t.Helper()
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	a.json(t, &p)
	out := []string{}
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func jsonBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func (c *caller) do(r call) answer {
	t := c.t
	t.Helper()
	u, err := url.Parse("http://function" + r.path)
	require.NoError(t, err)

	var op *docOp
	params := map[string]string{}
	for i := range c.ops {
		if m := c.ops[i].re.FindStringSubmatch(u.Path); m != nil && c.ops[i].method == r.method {
			op = &c.ops[i]
			for j, name := range op.params {
				params[name], _ = url.PathUnescape(m[j+1])
			}
		}
	}
	require.NotNil(t, op, "%s %s is not in docs/api/openapi.yaml", r.method, u.Path)
	require.Equal(t, r.fn, op.op.Extensions[appIDExt], "%s %s: served by", r.method, u.Path)

	header := http.Header{}
	if r.ctype != "" {
		header.Set("Content-Type", r.ctype)
	}
	for k, v := range r.header {
		header.Set(k, v)
	}
	target := c.p.Functions[chatAPI].DaprURL() + "/v1.0/invoke/" + r.fn + "/method" + r.path
	if r.direct {
		target = c.p.Functions[r.fn].URL() + r.path
		if !r.noToken {
			header.Set("dapr-api-token", c.token)
		}
	}

	// The request, as the document sees it.
	vreq := httptest.NewRequest(r.method, u.String(), bytes.NewReader(r.body))
	vreq.Header = header.Clone()
	in := &openapi3filter.RequestValidationInput{
		Request:    vreq,
		PathParams: params,
		Route:      &routers.Route{Spec: c.doc, Path: op.template, PathItem: op.item, Method: r.method, Operation: op.op},
		Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	verr := openapi3filter.ValidateRequest(context.Background(), in)
	if r.docRejects {
		assert.Error(t, verr, "%s %s: the document accepts a request the function is expected to refuse", r.method, r.path)
	} else {
		assert.NoError(t, verr, "%s %s: the document refuses the request", r.method, r.path)
	}

	// The request, for real.
	req, err := http.NewRequest(r.method, target, bytes.NewReader(r.body))
	require.NoError(t, err)
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, body: body}
	require.Equal(t, r.want, a.status, "%s %s answered %s", r.method, r.path, body)

	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 a.status,
		Header:                 a.header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(body)
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), out),
		"%s %s: the answer is not what the document says: %d %s", r.method, r.path, a.status, body)

	c.mu.Lock()
	c.seen[op.op.OperationID] = append(c.seen[op.op.OperationID], a.status)
	c.mu.Unlock()
	return a
}

// checkCoverage: every operation of the document was called and answered
// with success, and the error answers the Chat API handles were all seen.
func (c *caller) checkCoverage(t *testing.T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	all := map[int]bool{}
	for _, op := range c.ops {
		statuses := c.seen[op.op.OperationID]
		ok := slices.ContainsFunc(statuses, func(s int) bool { return s/100 == 2 })
		assert.True(t, ok, "%s (%s %s) was never answered with success; statuses seen: %v", op.op.OperationID, op.method, op.template, statuses)
		for _, s := range statuses {
			all[s] = true
		}
	}
	for _, s := range []int{400, 401, 404, 413, 415, 422} {
		assert.True(t, all[s], "no call was answered %d", s)
	}
}

// exerciseAPI calls every route: successes, then each kind of refusal.
func exerciseAPI(t *testing.T, c *caller, user string) {
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	tasks := "/users/" + user + "/tasks"
	const js, mp = "application/json", "application/merge-patch+json"

	// Create, with an Idempotency-Key, retried, and reused wrongly.
	key := "contract-" + randomHex(8)
	bodyA := jsonBody(t, map[string]any{
		"title": "  Pay rent ", "description": "Transfer to the landlord\nby Friday", "priority": "high",
		"tags": []string{"Home", "money"}, "due_at": at(48 * time.Hour), "remind_at": at(47 * time.Hour),
		"recurrence": map[string]any{"frequency": "monthly"},
	})
	ans := c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: js, header: map[string]string{"Idempotency-Key": key}, body: bodyA, want: 201})
	var a task.Task
	ans.json(t, &a)
	assert.Equal(t, "Pay rent", a.Title)
	assert.Equal(t, []string{"home", "money"}, a.Tags)
	assert.Equal(t, &task.Recurrence{Frequency: task.Monthly, Interval: 1}, a.Recurrence)
	assert.Equal(t, tasks+"/"+a.ID, ans.header.Get("Location"))

	ans = c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: js, header: map[string]string{"Idempotency-Key": key}, body: bodyA, want: 201})
	var again task.Task
	ans.json(t, &again)
	assert.Equal(t, a.ID, again.ID, "a retry with the same key names the same task")
	c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: js, header: map[string]string{"Idempotency-Key": key},
		body: []byte(`{"title":"Something else"}`), want: 422})

	var b, overdue, reminded task.Task
	c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: js, body: []byte(`{"title":"Call mom"}`), want: 201}).json(t, &b)
	assert.Equal(t, task.PriorityMedium, b.Priority)
	c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: js,
		body: jsonBody(t, map[string]any{"title": "File taxes", "due_at": at(-time.Hour), "tags": nil}), want: 201}).json(t, &overdue)
	// A reminder already due is fired at once: a reminder notification follows.
	c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: js,
		body: jsonBody(t, map[string]any{"title": "Stretch", "due_at": at(time.Hour), "remind_at": at(-time.Minute)}), want: 201}).json(t, &reminded)

	// Refusals of create.
	ans = c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: js, docRejects: true, want: 400,
		body: []byte(`{"title":"","priority":"urgent","tags":["a","A"],"recurrence":{"frequency":"hourly","interval":0}}`)})
	assert.Equal(t, []string{"title", "priority", "tags", "recurrence.frequency", "recurrence.interval", "recurrence"}, ans.fields(t),
		"every invalid field, in the order of the task's fields")
	ans = c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: js, want: 400,
		body: jsonBody(t, map[string]any{"title": "x", "due_at": at(time.Hour), "remind_at": at(2 * time.Hour)})})
	assert.Equal(t, []string{"remind_at"}, ans.fields(t))
	ans = c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: js, docRejects: true, want: 400, body: []byte(`{"title":"x","colour":"red"}`)})
	assert.Equal(t, []string{"colour"}, ans.fields(t))
	c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: "text/plain", docRejects: true, want: 415, body: []byte("title=x")})
	c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: js, docRejects: true, want: 413,
		body: jsonBody(t, map[string]any{"title": "x", "description": strings.Repeat("a", 1<<20)})})
	ans = c.do(call{fn: "create-task", method: "POST", path: "/users/a..b/tasks", ctype: js, docRejects: true, want: 400, body: []byte(`{"title":"x"}`)})
	assert.Equal(t, []string{"user_id"}, ans.fields(t))
	ans = c.do(call{fn: "create-task", method: "POST", path: tasks, ctype: js, header: map[string]string{"Idempotency-Key": "has space"},
		docRejects: true, want: 400, body: []byte(`{"title":"x"}`)})
	assert.Equal(t, []string{"Idempotency-Key"}, ans.fields(t))
	c.do(call{fn: "create-task", direct: true, noToken: true, method: "POST", path: tasks, ctype: js, want: 401, body: []byte(`{"title":"x"}`)})

	// List, two pages, and refusals.
	var page struct {
		Items      []task.Task `json:"items"`
		NextCursor *string     `json:"next_cursor"`
	}
	c.do(call{fn: "list-tasks", method: "GET", path: tasks + "?status=pending&sort=due_at&limit=2", want: 200}).json(t, &page)
	require.Len(t, page.Items, 2)
	assert.Equal(t, []string{overdue.ID, reminded.ID}, []string{page.Items[0].ID, page.Items[1].ID})
	require.NotNil(t, page.NextCursor)
	c.do(call{fn: "list-tasks", method: "GET", path: tasks + "?status=pending&sort=due_at&limit=2&cursor=" + url.QueryEscape(*page.NextCursor), want: 200}).json(t, &page)
	require.Len(t, page.Items, 2)
	assert.Equal(t, []string{a.ID, b.ID}, []string{page.Items[0].ID, page.Items[1].ID}, "no due date comes last")
	assert.Nil(t, page.NextCursor)
	assert.Equal(t, []string{"limit"}, c.do(call{fn: "list-tasks", method: "GET", path: tasks + "?limit=0", docRejects: true, want: 400}).fields(t))
	assert.Equal(t, []string{"status"}, c.do(call{fn: "list-tasks", method: "GET", path: tasks + "?status=done", docRejects: true, want: 400}).fields(t))
	// The document cannot close the set of query parameters; it says so.
	assert.Equal(t, []string{"colour"}, c.do(call{fn: "list-tasks", method: "GET", path: tasks + "?colour=red", want: 400}).fields(t))

	c.do(call{fn: "list-tasks", method: "GET", path: tasks + "/" + a.ID, want: 200})
	c.do(call{fn: "list-tasks", method: "GET", path: tasks + "/no-such-task", want: 404})

	// Update.
	var updated task.Task
	c.do(call{fn: "update-task", method: "PATCH", path: tasks + "/" + a.ID, ctype: mp, want: 200,
		body: []byte(`{"title":"Pay the rent","tags":null,"recurrence":{"interval":2}}`)}).json(t, &updated)
	assert.Equal(t, "Pay the rent", updated.Title)
	assert.Empty(t, updated.Tags)
	assert.Equal(t, &task.Recurrence{Frequency: task.Monthly, Interval: 2}, updated.Recurrence)
	assert.Equal(t, []string{"completed"}, c.do(call{fn: "update-task", method: "PATCH", path: tasks + "/" + a.ID, ctype: mp,
		docRejects: true, want: 400, body: []byte(`{"completed":true}`)}).fields(t))
	assert.Equal(t, []string{"title"}, c.do(call{fn: "update-task", method: "PATCH", path: tasks + "/" + a.ID, ctype: js,
		docRejects: true, want: 400, body: []byte(`{"title":null}`)}).fields(t))
	c.do(call{fn: "update-task", method: "PATCH", path: tasks + "/no-such-task", ctype: mp, want: 404, body: []byte(`{"title":"x"}`)})
	c.do(call{fn: "update-task", method: "PATCH", path: tasks + "/" + a.ID, ctype: "text/plain", docRejects: true, want: 415, body: []byte(`{}`)})

	// Complete (twice: the same answer), and delete (twice: then 404).
	var done task.Task
	c.do(call{fn: "complete-task", method: "POST", path: tasks + "/" + a.ID + "/complete", want: 200}).json(t, &done)
	assert.True(t, done.Completed)
	require.NotNil(t, done.CompletedAt)
	var twice task.Task
	c.do(call{fn: "complete-task", method: "POST", path: tasks + "/" + a.ID + "/complete", want: 200}).json(t, &twice)
	assert.Equal(t, done.CompletedAt, twice.CompletedAt)
	c.do(call{fn: "complete-task", method: "POST", path: tasks + "/no-such-task/complete", want: 404})
	c.do(call{fn: "delete-task", method: "DELETE", path: tasks + "/" + b.ID, want: 204})
	c.do(call{fn: "delete-task", method: "DELETE", path: tasks + "/" + b.ID, want: 404})

	// Notifications.
	var sent map[string]any
	c.do(call{fn: "send-notification", method: "POST", path: "/notifications", ctype: js, want: 202,
		body: jsonBody(t, map[string]any{"user_id": user, "title": "Hello", "body": "Two tasks are due today."})}).json(t, &sent)
	assert.Equal(t, "sent", sent["status"])
	assert.Equal(t, []string{"user_id", "title"}, c.do(call{fn: "send-notification", method: "POST", path: "/notifications", ctype: js,
		docRejects: true, want: 400, body: []byte(`{"user_id":"a..b","title":" "}`)}).fields(t))
	c.do(call{fn: "send-notification", method: "POST", path: "/notifications", docRejects: true, want: 415, body: []byte(`{"user_id":"x","title":"y"}`)})
	c.do(call{fn: "send-notification", method: "GET", path: "/users/a..b/notifications", docRejects: true, want: 400})

	// The reminder of "Stretch" reaches the user's notifications.
	var kinds []string
	require.Eventually(t, func() bool {
		var list struct {
			Items []map[string]any `json:"items"`
		}
		c.do(call{fn: "send-notification", method: "GET", path: "/users/" + user + "/notifications", want: 200}).json(t, &list)
		kinds = kinds[:0]
		for _, n := range list.Items {
			kinds = append(kinds, fmt.Sprintf("%v:%v", n["kind"], n["task_id"]))
		}
		return slices.Contains(kinds, "reminder:"+reminded.ID)
	}, 60*time.Second, 500*time.Millisecond, "the reminder of %s never showed; notifications: %v", reminded.ID, kinds)
	assert.Contains(t, kinds, "message:<nil>")
	webhookCheck(t, c.doc, c.p)

	// Reconcile (as sweep-reminders calls it): the completed task's job is
	// cancelled, the fired reminder is not fired again.
	var res map[string]int
	c.do(call{fn: "fire-reminder", method: "POST", path: "/reconcile", ctype: js, want: 200,
		body: jsonBody(t, map[string]any{"user_id": user, "task_ids": []string{a.ID, reminded.ID}})}).json(t, &res)
	// "Stretch" was fired, or is being marked fired right now: once either way.
	assert.Equal(t, 2, res["checked"])
	assert.Equal(t, 1, res["cancelled"])
	assert.Equal(t, 0, res["scheduled"])
	assert.Equal(t, 1, res["already_done"]+res["fired"])
	assert.Equal(t, []string{"task_ids[0]"}, c.do(call{fn: "fire-reminder", method: "POST", path: "/reconcile", ctype: js,
		docRejects: true, want: 400, body: []byte(`{"user_id":"u","task_ids":["a..b"]}`)}).fields(t))

	// CloudEvent routes, as Knative Eventing calls them.
	ping := map[string]string{"ce-specversion": "1.0", "ce-id": randomHex(8), "ce-source": "contract-test", "ce-type": "dev.knative.sources.ping"}
	c.do(call{fn: "fire-reminder", direct: true, method: "POST", path: "/events/wake", ctype: js, header: ping, body: []byte(`{}`), want: 202})
	c.do(call{fn: "fire-reminder", direct: true, method: "POST", path: "/events/wake", ctype: "text/plain", body: []byte("hello"), docRejects: true, want: 400})
	structured := func(typ string) []byte {
		return jsonBody(t, map[string]any{"specversion": "1.0", "id": randomHex(8), "source": "contract-test", "type": typ,
			"datacontenttype": "application/json", "data": map[string]any{}})
	}
	c.do(call{fn: "fire-reminder", direct: true, method: "POST", path: "/events/" + task.Topic, ctype: "application/cloudevents+json",
		body: structured("com.todo.contract.ignored.v1"), want: 202})
	c.do(call{fn: "send-notification", direct: true, method: "POST", path: "/events/" + reminder.Topic, ctype: "application/cloudevents+json",
		body: structured("com.todo.contract.ignored.v1"), want: 202})
	ping["ce-id"] = randomHex(8)
	// A sweep announces "File taxes" overdue.
	c.do(call{fn: "sweep-reminders", direct: true, method: "POST", path: "/events/reminder-sweep", ctype: js, header: ping, body: []byte(`{}`), want: 202})
}

// webhookCheck validates what the chat webhook received against the
// document's notification webhook.
func webhookCheck(t *testing.T, doc *openapi3.T, p *devstack.Project) {
	hook := doc.Webhooks["notification"]
	require.NotNil(t, hook, "webhooks.notification")
	schema := hook.Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	got := p.Webhook.Deliveries()
	require.NotEmpty(t, got)
	for _, d := range got {
		d = maps.Clone(d)
		delete(d, devstack.ReceivedAt) // the stand-in's stamps, not part of the delivery
		delete(d, devstack.TraceParent)
		assert.NoError(t, schema.VisitJSON(d, openapi3.EnableJSONSchema2020()), "webhook delivery %v", d)
	}
	assert.Zero(t, p.Webhook.Refused(), "deliveries refused: bad token or Idempotency-Key")
}

// envelope is the part of a record's CloudEvent the checks read.
type envelope struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Source       string          `json:"source"`
	Subject      string          `json:"subject"`
	PartitionKey string          `json:"partitionkey"`
	Data         json.RawMessage `json:"data"`
}

// checkEvents waits until the stack has emitted every event type for user,
// then checks every record on the topics: its type is a message of the
// AsyncAPI document, read by the CloudEvents Kafka protocol binding, on the
// document's topic, the whole record matches the
// message's payload schema and its data the event schema, and it is keyed
// by its subject. Nothing may be dead-lettered.
func checkEvents(t *testing.T, log *devstack.TopicLog, async asyncAPI, payloads map[string]*jsonschema.Schema, user string) {
	msgs := async.messages(t)
	want := eventschema.Types()
	var got []string
	ok := assert.Eventually(t, func() bool {
		got = typesFor(log.Records(), user)
		return len(got) == len(want)
	}, 60*time.Second, 250*time.Millisecond, "event types emitted for %s", user)
	if !ok {
		t.Errorf("want every type of %v, saw %v", want, got)
	}

	records := log.Records()
	require.NotEmpty(t, records)
	for _, r := range records {
		where := fmt.Sprintf("record %s/%d@%d", r.Topic, r.Partition, r.Offset)
		if strings.HasSuffix(r.Topic, ".dlq") {
			t.Errorf("%s was dead-lettered: %s", where, r.Value)
			continue
		}
		// What a consumer with a CloudEvents SDK's Kafka binding reads.
		ce, err := binding.ToEvent(context.Background(), devstack.KafkaMessage(r))
		if !assert.NoError(t, err, "%s: not a CloudEvent by the Kafka protocol binding (headers %v)", where, r.Headers) {
			continue
		}
		checkTraceContext(t, where, ce.Extensions())
		var e envelope
		if !assert.NoError(t, json.Unmarshal(r.Value, &e), "%s: %s", where, r.Value) {
			continue
		}
		assert.Equal(t, []string{e.ID, e.Type}, []string{ce.ID(), ce.Type()}, "%s: the binding read another event", where)
		info, ok := msgs[e.Type]
		if !assert.True(t, ok, "%s: type %q is not a message of asyncapi.yaml", where, e.Type) {
			continue
		}
		assert.Equal(t, info.Channel, r.Topic, "%s: %s on the wrong topic", where, e.Type)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Value))
		require.NoError(t, err)
		assert.NoError(t, payloads[e.Type].Validate(v), "%s: not a %s record as asyncapi.yaml says: %s", where, e.Type, r.Value)
		assert.NoError(t, eventschema.Validate(e.Type, e.Data), "%s", where)
		assert.Equal(t, e.Subject, string(r.Key), "%s: record key", where)
		assert.Equal(t, e.Subject, e.PartitionKey, "%s: partitionkey", where)
	}
	t.Logf("checked %d records against asyncapi.yaml and the event schemas", len(records))
}

// traceparentRE is a W3C traceparent of version 00 with a non-zero trace
// and parent id.
var traceparentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$`)

// checkTraceContext: an event carries a valid W3C trace context or none;
// an empty or malformed one breaks every trace that continues it.
func checkTraceContext(t *testing.T, where string, ext map[string]any) {
	for _, name := range []string{"traceid", "tracestate"} {
		if v, ok := ext[name]; ok {
			assert.NotEmpty(t, v, "%s: %s is present but empty", where, name)
		}
	}
	tp, ok := ext["traceparent"]
	if !ok {
		return
	}
	m := traceparentRE.FindStringSubmatch(fmt.Sprint(tp))
	if assert.NotNil(t, m, "%s: traceparent %q is not a W3C traceparent", where, tp) {
		assert.NotEqual(t, strings.Repeat("0", 32), m[1], "%s: all-zero trace id", where)
		assert.NotEqual(t, strings.Repeat("0", 16), m[2], "%s: all-zero parent id", where)
	}
}

// typesFor lists the event types emitted about user's tasks, sorted.
func typesFor(records []*kgo.Record, user string) []string {
	var out []string
	for _, r := range records {
		var e struct {
			Type string `json:"type"`
			Data struct {
				UserID string `json:"user_id"`
			} `json:"data"`
		}
		if json.Unmarshal(r.Value, &e) == nil && e.Data.UserID == user && !slices.Contains(out, e.Type) {
			out = append(out, e.Type)
		}
	}
	slices.Sort(out)
	return out
}
