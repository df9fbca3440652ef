package security_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/todo-chatbot/functions/shared/runtime/secret"
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// TestTokensTenancyAndLogs runs the whole project with both API tokens set
// on every function and its sidecar, checks who gets in, that one user
// cannot reach another's tasks, and that a run with notifications leaves no
// secret in any log line.
func TestTokensTenancyAndLogs(t *testing.T) {
	appToken, daprToken := randomToken("app"), randomToken("dapr")
	p := devstack.StartProject(t, devstack.ProjectOptions{
		Env: []string{"APP_API_TOKEN=" + appToken, "DAPR_API_TOKEN=" + daprToken},
	})
	log := devstack.WatchTopics(t, p.BrokerAddr(), task.Topic, reminder.Topic)
	// call invokes fn through create-task's sidecar, as the Chat API does.
	call := func(t *testing.T, fn, method, path string, body any, headers ...string) fakes.Response {
		t.Helper()
		url := p.Functions["create-task"].DaprURL() + "/v1.0/invoke/" + fn + "/method" + path
		return do(t, method, url, body, append([]string{"dapr-api-token", daprToken}, headers...)...)
	}

	t.Run("APP_API_TOKEN", func(t *testing.T) {
		user := uniqueUser("app")
		r := call(t, "create-task", http.MethodPost, "/users/"+user+"/tasks", map[string]any{"title": "through daprd"})
		require.Equal(t, http.StatusCreated, r.Status, "daprd sends the app token: %s", r.Body)

		// Every function refuses a direct request without the token, or
		// with a wrong one, on its API and on the routes daprd alone
		// should call (topic deliveries, job callbacks, subscriptions).
		for _, c := range []struct{ fn, method, path string }{
			{"create-task", http.MethodPost, "/users/" + user + "/tasks"},
			{"list-tasks", http.MethodGet, "/users/" + user + "/tasks"},
			{"update-task", http.MethodPatch, "/users/" + user + "/tasks/x"},
			{"complete-task", http.MethodPost, "/users/" + user + "/tasks/x/complete"},
			{"delete-task", http.MethodDelete, "/users/" + user + "/tasks/x"},
			{"send-notification", http.MethodPost, "/notifications"},
			{"send-notification", http.MethodPost, "/dapr/topics/" + reminder.Topic},
			{"fire-reminder", http.MethodPost, "/job/reminder-x"},
			{"fire-reminder", http.MethodPost, "/reconcile"},
			{"fire-reminder", http.MethodGet, "/dapr/subscribe"},
			{"sweep-reminders", http.MethodPost, "/reminder-sweep"},
		} {
			url := p.Functions[c.fn].URL() + c.path
			body := `{"user_id":"` + user + `","title":"forged","task_ids":[]}`
			for name, hdr := range map[string][]string{
				"no token":    nil,
				"wrong token": {"dapr-api-token", appToken + "x"},
				"dapr token":  {"dapr-api-token", daprToken},
			} {
				r := do(t, c.method, url, body, hdr...)
				assert.Equal(t, http.StatusUnauthorized, r.Status, "%s %s %s with %s", c.fn, c.method, c.path, name)
				assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "%s %s", c.fn, c.path)
			}
			for _, probe := range []string{"/healthz", "/readyz"} {
				assert.Equal(t, http.StatusOK, do(t, http.MethodGet, p.Functions[c.fn].URL()+probe, nil).Status, "%s%s needs no token", c.fn, probe)
			}
		}
		// With the token, the direct request is served.
		r = do(t, http.MethodGet, p.Functions["list-tasks"].URL()+"/users/"+user+"/tasks", nil, "dapr-api-token", appToken)
		assert.Equal(t, http.StatusOK, r.Status)
	})

	t.Run("DAPR_API_TOKEN", func(t *testing.T) {
		dapr := p.Functions["create-task"].DaprURL()
		user := uniqueUser("dapr")
		for name, hdr := range map[string][]string{"no token": nil, "wrong token": {"dapr-api-token", appToken}} {
			for _, c := range []struct{ method, path string }{
				{http.MethodGet, "/v1.0/metadata"},
				{http.MethodPost, "/v1.0/invoke/create-task/method/users/" + user + "/tasks"},
				{http.MethodPost, "/v1.0/publish/pubsub/" + task.Topic},
				{http.MethodGet, "/v1.0/state/tasks/index%2F" + user},
			} {
				r := do(t, c.method, dapr+c.path, map[string]any{"title": "no entry"}, hdr...)
				assert.Equal(t, http.StatusUnauthorized, r.Status, "%s %s with %s: %s", c.method, c.path, name, r.Body)
			}
		}
		assert.Equal(t, http.StatusOK, do(t, http.MethodGet, dapr+"/v1.0/metadata", nil, "dapr-api-token", daprToken).Status)
		assert.Equal(t, http.StatusNoContent, do(t, http.MethodGet, dapr+"/v1.0/healthz", nil).Status, "the health probe needs no token")

		// The gRPC API refuses a client without the token too.
		f := p.Functions["create-task"]
		c, err := sidecar.Dial(sidecar.Config{Host: "127.0.0.1", HTTPPort: f.HTTPPort, GRPCPort: f.GRPCPort})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = c.GetMetadata(ctx)
		assert.Equal(t, codes.Unauthenticated, status.Code(err), "gRPC without token: %v", err)
		withToken, err := sidecar.Dial(sidecar.Config{Host: "127.0.0.1", HTTPPort: f.HTTPPort, GRPCPort: f.GRPCPort, APIToken: secret.NewValue(daprToken)})
		require.NoError(t, err)
		_, err = withToken.GetMetadata(ctx)
		assert.NoError(t, err)

		// End to end: the functions send the token, so a create through
		// invocation is stored and published.
		r := call(t, "create-task", http.MethodPost, "/users/"+user+"/tasks", map[string]any{"title": "end to end"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		created := r.Object(t)
		id := created["id"].(string)
		got := call(t, "list-tasks", http.MethodGet, "/users/"+user+"/tasks/"+id, nil)
		require.Equal(t, http.StatusOK, got.Status)
		assert.Equal(t, created, got.Object(t), "stored")
		require.Eventually(t, func() bool { return len(log.About(id)[task.EventCreated]) == 1 },
			20*time.Second, 50*time.Millisecond, "published")
	})

	t.Run("tenancy", func(t *testing.T) {
		alice, bob := uniqueUser("alice"), uniqueUser("bob")
		remindAt := time.Now().Add(8 * time.Second).Truncate(time.Millisecond)
		body := map[string]any{"title": "alice's", "remind_at": rfc(remindAt), "tags": []string{"private"}}
		r := call(t, "create-task", http.MethodPost, "/users/"+alice+"/tasks", body, "Idempotency-Key", "k-1")
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		mine := r.Object(t)
		id := mine["id"].(string)
		// Wait until fire-reminder has scheduled alice's job, so bob's
		// reconcile below meets a job it could cancel.
		require.Eventually(t, func() bool {
			for _, line := range strings.Split(readFile(t, p.LogPath("fire-reminder")), "\n") {
				if strings.Contains(line, "reminder scheduled") && strings.Contains(line, id) {
					return true
				}
			}
			return false
		}, 20*time.Second, 50*time.Millisecond, "alice's reminder was never scheduled")

		for _, c := range []struct {
			fn, method, path string
			body             any
		}{
			{"list-tasks", http.MethodGet, "/users/" + bob + "/tasks/" + id, nil},
			{"update-task", http.MethodPatch, "/users/" + bob + "/tasks/" + id, map[string]any{"title": "hijacked", "remind_at": nil}},
			{"complete-task", http.MethodPost, "/users/" + bob + "/tasks/" + id + "/complete", nil},
			{"delete-task", http.MethodDelete, "/users/" + bob + "/tasks/" + id, nil},
		} {
			r := call(t, c.fn, c.method, c.path, c.body)
			assert.Equal(t, http.StatusNotFound, r.Status, "%s %s: %s", c.method, c.path, r.Body)
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
			assert.NotContains(t, string(r.Body), "alice's", "a refusal shows nothing of the task")
		}
		r = call(t, "list-tasks", http.MethodGet, "/users/"+bob+"/tasks?status=all", nil)
		require.Equal(t, http.StatusOK, r.Status)
		assert.NotContains(t, string(r.Body), id, "bob's listing shows none of alice's tasks")

		// The same idempotency key under bob is bob's own: a new task.
		r = call(t, "create-task", http.MethodPost, "/users/"+bob+"/tasks", body, "Idempotency-Key", "k-1")
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		bobs := r.Object(t)
		assert.NotEqual(t, id, bobs["id"], "a key is scoped to its user")
		assert.Equal(t, bob, bobs["user_id"])

		// Reconciling alice's task as bob finds nothing and cancels nothing.
		r = call(t, "fire-reminder", http.MethodPost, "/reconcile", map[string]any{"user_id": bob, "task_ids": []string{id}})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		res := r.Object(t)
		assert.EqualValues(t, 0, res["cancelled"], "bob cannot cancel alice's reminder: %s", r.Body)
		assert.EqualValues(t, 0, res["fired"])

		// Alice's task is unchanged, and her reminder still comes, once.
		r = call(t, "list-tasks", http.MethodGet, "/users/"+alice+"/tasks/"+id, nil)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, mine, r.Object(t), "alice's task is unchanged")
		require.Eventually(t, func() bool { return len(p.Webhook.DeliveriesFor(id)) >= 1 },
			60*time.Second, 100*time.Millisecond, "alice's reminder never arrived")
		time.Sleep(2 * time.Second)
		assert.Len(t, p.Webhook.DeliveriesFor(id), 1, "alice's reminder, exactly once")

		inbox := func(user string) []any {
			r := call(t, "send-notification", http.MethodGet, "/users/"+user+"/notifications", nil)
			require.Equal(t, http.StatusOK, r.Status)
			return r.Object(t)["items"].([]any)
		}
		require.Eventually(t, func() bool { return len(inbox(bob)) == 1 }, 20*time.Second, 100*time.Millisecond, "bob's own reminder")
		for _, n := range inbox(bob) {
			assert.NotEqual(t, id, n.(map[string]any)["task_id"], "bob's inbox shows none of alice's notifications")
		}
		assert.Len(t, inbox(alice), 1)
	})

	t.Run("no secret in any log line", func(t *testing.T) {
		require.NotEmpty(t, p.Webhook.Deliveries(), "notifications were delivered with the webhook token")
		assert.Zero(t, p.Webhook.Refused(), "every delivery carried the right token")
		secrets := map[string]string{"webhook token": p.Token, "APP_API_TOKEN": appToken, "DAPR_API_TOKEN": daprToken}
		lines := 0
		for _, name := range p.Names() {
			for i, line := range strings.Split(readFile(t, p.LogPath(name)), "\n") {
				lines++
				for what, v := range secrets {
					if strings.Contains(line, v) {
						t.Errorf("%s line %d shows the %s: %.300s", name, i+1, what, line)
					}
				}
			}
		}
		require.Greater(t, lines, 100, "the stack logged")
		t.Logf("scanned %d log lines of %d processes", lines, len(p.Names()))
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
