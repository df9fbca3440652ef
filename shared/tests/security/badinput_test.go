package security_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// TestBadInput sends hostile requests to every route of the real function
// binaries, each behind its sidecar: every one is refused with a 4xx
// problem (or, for a path the router must clean, a redirect), none is a
// 5xx, and nothing is stored or published.
func TestBadInput(t *testing.T) {
	p := devstack.StartProject(t, devstack.ProjectOptions{})
	log := devstack.WatchTopics(t, p.BrokerAddr(), task.Topic, reminder.Topic)
	const user = "bad-input-user"
	url := func(fn, path string) string { return p.Functions[fn].URL() + path }

	// A real task of the user, so that PATCH bodies reach the task rules.
	r := do(t, http.MethodPost, url("create-task", "/users/"+user+"/tasks"), map[string]any{"title": "target", "due_at": "2031-01-02T10:00:00Z"})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	target := r.Object(t)
	id := target["id"].(string)
	require.Eventually(t, func() bool { return len(log.About(id)) == 1 }, 30*time.Second, 50*time.Millisecond)

	huge := `{"title":"t","description":"` + strings.Repeat("x", 1<<20) + `"}`
	deep := strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40)
	manyTags := `{"title":"t","tags":[` + strings.TrimSuffix(strings.Repeat(`"t",`, 10000), ",") + `]}`
	longTag := `{"title":"t","tags":["` + strings.Repeat("t", 31) + `"]}`
	bodies := []struct {
		name, body, contentType string
		status                  int
	}{
		{"oversized", huge, "application/json", 413},
		{"deep JSON", deep, "application/json", 400},
		{"deep arrays", strings.Repeat("[", 5000) + strings.Repeat("]", 5000), "application/json", 400},
		{"invalid UTF-8", "{\"title\":\"\xff\xfe\"}", "application/json", 400},
		{"UTF-16", "\xff\xfe{\x00}\x00", "application/json", 400},
		{"text/plain", `{"title":"t"}`, "text/plain", 415},
		{"form", `title=t`, "application/x-www-form-urlencoded", 415},
		{"XML", `<task><title>t</title></task>`, "application/xml", 415},
		{"no content type", `{"title":"t"}`, "", 415},
		{"latin1 charset", `{"title":"t"}`, "application/json; charset=latin1", 415},
		{"unknown field", `{"title":"t","user_id":"mallory"}`, "application/json", 400},
		{"duplicate key", `{"title":"t","title":"u"}`, "application/json", 400},
		{"two values", `{"title":"t"} {"title":"u"}`, "application/json", 400},
		{"empty", ``, "application/json", 400},
		{"null", `null`, "application/json", 400},
		{"array", `[]`, "application/json", 400},
		{"due_at without offset", `{"title":"t","due_at":"2031-01-02T10:00:00"}`, "application/json", 400},
		{"remind_at without offset", `{"title":"t","remind_at":"2031-01-02T10:00:00"}`, "application/json", 400},
		{"date only", `{"title":"t","due_at":"2031-01-02"}`, "application/json", 400},
		{"year 10000", `{"title":"t","due_at":"10000-01-02T10:00:00Z"}`, "application/json", 400},
		{"10000 tags", manyTags, "application/json", 400},
		{"11 tags", `{"title":"t","tags":["a","b","c","d","e","f","g","h","i","j","k"]}`, "application/json", 400},
		{"tag too long", longTag, "application/json", 400},
		{"NUL in title", `{"title":"a\u0000b"}`, "application/json", 400},
		{"huge number", `{"title":"t","recurrence":{"frequency":"daily","interval":1e400}}`, "application/json", 400},
	}
	for _, b := range bodies {
		for _, c := range []struct{ fn, method, path string }{
			{"create-task", http.MethodPost, "/users/" + user + "/tasks"},
			{"update-task", http.MethodPatch, "/users/" + user + "/tasks/" + id},
		} {
			name := b.name
			if c.fn == "update-task" && (name == "null" || name == "UTF-16") {
				continue // a merge patch of null is refused by its own rule below
			}
			var hdr []string
			if b.contentType != "" {
				hdr = []string{"Content-Type", b.contentType}
			}
			r := rawDo(t, c.method, url(c.fn, c.path), b.body, hdr...)
			assert.Equal(t, b.status, r.Status, "%s %s: %s: %.200s", c.fn, c.method, name, r.Body)
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "%s: %s", c.fn, name)
		}
	}
	for name, body := range map[string]string{
		"notification unknown field": `{"user_id":"` + user + `","title":"t","admin":true}`,
		"notification bad user":      `{"user_id":"../` + user + `","title":"t"}`,
		"notification invalid UTF-8": "{\"user_id\":\"" + user + "\",\"title\":\"\xff\"}",
		"notification oversized":     `{"user_id":"` + user + `","title":"t","body":"` + strings.Repeat("b", 1<<20) + `"}`,
	} {
		r := rawDo(t, http.MethodPost, url("send-notification", "/notifications"), body, "Content-Type", "application/json")
		assert.Contains(t, []int{400, 413}, r.Status, "%s: %s", name, r.Body)
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), name)
	}
	for name, body := range map[string]string{
		"reconcile bad user":      `{"user_id":"a/b","task_ids":["` + id + `"]}`,
		"reconcile bad task id":   `{"user_id":"` + user + `","task_ids":["` + id + `","../x"]}`,
		"reconcile unknown field": `{"user_id":"` + user + `","task_ids":[],"all":true}`,
		"reconcile 10000 ids":     `{"user_id":"` + user + `","task_ids":[` + strings.TrimSuffix(strings.Repeat(`"a b",`, 10000), ",") + `]}`,
	} {
		r := rawDo(t, http.MethodPost, url("fire-reminder", "/reconcile"), body, "Content-Type", "application/json")
		assert.Equal(t, 400, r.Status, "%s: %s", name, r.Body)
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), name)
	}

	// Ids with path characters, in every id position of every route.
	badIDs := []string{"..", "..%2Fx", "a%2Fb", "a%20b", "a%00b", "%2e%2e", ".env", "a%5Cb", "a%3Fb", strings.Repeat("x", 129)}
	for _, bad := range badIDs {
		for _, c := range []struct{ fn, method, path string }{
			{"create-task", http.MethodPost, "/users/%s/tasks"},
			{"list-tasks", http.MethodGet, "/users/%s/tasks"},
			{"list-tasks", http.MethodGet, "/users/%s/tasks/" + id},
			{"list-tasks", http.MethodGet, "/users/" + user + "/tasks/%s"},
			{"update-task", http.MethodPatch, "/users/%s/tasks/" + id},
			{"update-task", http.MethodPatch, "/users/" + user + "/tasks/%s"},
			{"complete-task", http.MethodPost, "/users/%s/tasks/" + id + "/complete"},
			{"complete-task", http.MethodPost, "/users/" + user + "/tasks/%s/complete"},
			{"delete-task", http.MethodDelete, "/users/%s/tasks/" + id},
			{"delete-task", http.MethodDelete, "/users/" + user + "/tasks/%s"},
			{"send-notification", http.MethodGet, "/users/%s/notifications"},
		} {
			path := fmt.Sprintf(c.path, bad)
			r := rawDo(t, c.method, url(c.fn, path), `{"title":"t"}`, "Content-Type", "application/json")
			switch {
			case r.Status == 400 || r.Status == 404 || r.Status == 405:
				if r.Status == 400 {
					assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "%s %s", c.method, path)
				}
			case r.Status/100 == 3:
				// The router answers a path with a dot segment with a
				// redirect to the cleaned path, which no route serves.
				loc := r.Header.Get("Location")
				assert.NotContains(t, loc, "..", "%s %s", c.method, path)
				again := rawDo(t, c.method, url(c.fn, loc), `{"title":"t"}`, "Content-Type", "application/json")
				assert.Contains(t, []int{404, 405}, again.Status, "%s %s redirected to %s", c.method, path, loc)
			default:
				t.Errorf("%s %s %s: %d %.200s", c.fn, c.method, path, r.Status, r.Body)
			}
		}
	}

	// Nothing of the above was stored or published: the user still has
	// only the target task, unchanged, and it has its one event.
	r = do(t, http.MethodGet, url("list-tasks", "/users/"+user+"/tasks?status=all"), nil)
	require.Equal(t, http.StatusOK, r.Status)
	items := r.Object(t)["items"].([]any)
	require.Len(t, items, 1)
	assert.Equal(t, target, items[0])
	time.Sleep(500 * time.Millisecond)
	assert.Len(t, log.About(id), 1, "no event for the refused requests")
	assert.Len(t, log.Events(), 1, "no event was published at all")
}

// rawDo sends body exactly as given (do would encode a non-string value),
// without following redirects.
func rawDo(t *testing.T, method, url, body string, headers ...string) fakes.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	return fakes.Response{Status: resp.StatusCode, Header: resp.Header, Body: []byte(b.String())}
}
