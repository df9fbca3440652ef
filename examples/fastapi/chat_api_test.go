package fastapi_test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
)

// python is Debian's interpreter, the one its python3-fastapi package is for.
const python = "/usr/bin/python3"

// TestChatAPI runs chat_api.py as app-id chat-api with its own daprd in the
// stack: a task the chatbot adds through it reaches create-task by Dapr
// service invocation, and its reminder comes back to the API's webhook
// through send-notification's output binding once, on time.
func TestChatAPI(t *testing.T) {
	if out, err := exec.Command(python, "-c", "import fastapi, uvicorn, httpx").CombinedOutput(); err != nil {
		devstack.Unavailable(t, "FastAPI, uvicorn or httpx for "+python+" (apt-get install python3-fastapi python3-uvicorn python3-httpx): "+strings.TrimSpace(string(out)))
	}
	root, err := devstack.RepoRoot()
	require.NoError(t, err)
	port, err := devstack.FreePorts(1)
	require.NoError(t, err)
	chat := "http://127.0.0.1:" + strconv.Itoa(port[0])
	token := "chat-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	p := devstack.StartProject(t, devstack.ProjectOptions{
		Functions: []string{"create-task", "fire-reminder", "send-notification"},
		NotifyURL: chat + "/notify",
		Token:     token,
		Apps: []devstack.Function{{
			Name: "chat-api", Binary: filepath.Join(root, "examples", "fastapi", "chat_api.py"),
			AppPort: port[0], Env: []string{"WEBHOOK_TOKEN=" + token},
		}},
	})
	user := "chat-" + strconv.FormatInt(time.Now().UnixNano(), 36)

	// A consumer group's first delivery takes seconds to form: one
	// reminder makes the whole trip before the one that is timed.
	warm := addTask(t, chat, user, "warm up", time.Now().Add(time.Second), "")
	require.Eventually(t, func() bool { return len(received(t, chat, user, warm)) == 1 }, 60*time.Second, 200*time.Millisecond,
		"the first reminder never reached the Chat API:\n%s", devstack.Tail(p.LogPath("chat-api"), 20))

	remindAt := time.Now().Add(5 * time.Second).Truncate(time.Millisecond)
	id := addTask(t, chat, user, "call the dentist", remindAt, "key-1")
	assert.Equal(t, id, addTask(t, chat, user, "call the dentist", remindAt, "key-1"), "a retry with the same Idempotency-Key adds nothing")

	time.Sleep(time.Until(remindAt.Add(4 * time.Second)))
	got := received(t, chat, user, id)
	require.Len(t, got, 1, "exactly one reminder")
	at, err := time.Parse(time.RFC3339Nano, got[0]["received_at"].(string))
	require.NoError(t, err)
	late := at.Sub(remindAt)
	t.Logf("the reminder reached the Chat API %v after remind_at", late)
	assert.GreaterOrEqual(t, late, time.Duration(0), "never before remind_at")
	assert.Less(t, late, 2*time.Second, "within 2 s of remind_at")
	assert.Equal(t, "reminder", got[0]["kind"])

	// The webhook itself: a repeated delivery is acknowledged and dropped,
	// one without the token refused.
	b, err := json.Marshal(got[0])
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, post(t, chat+"/notify", b, "Authorization", "Bearer "+token, "Idempotency-Key", got[0]["id"].(string)).Status)
	assert.Len(t, received(t, chat, user, id), 1, "a repeated Idempotency-Key is dropped")
	assert.Equal(t, http.StatusUnauthorized, post(t, chat+"/notify", b, "Idempotency-Key", got[0]["id"].(string)).Status)

	// create-task's own errors come back as they are.
	r := post(t, chat+"/users/"+user+"/tasks", []byte(`{"title":""}`), "Content-Type", "application/json")
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	assert.NotContains(t, p.Logs(), token, "the webhook token stays out of every log")
}

// addTask adds a task with a reminder through the Chat API and returns its id.
func addTask(t *testing.T, chat, user, title string, remindAt time.Time, key string) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{"title": title, "remind_at": remindAt.UTC().Format(time.RFC3339Nano)})
	require.NoError(t, err)
	headers := []string{"Content-Type", "application/json"}
	if key != "" {
		headers = append(headers, "Idempotency-Key", key)
	}
	r := post(t, chat+"/users/"+user+"/tasks", body, headers...)
	created := r.Object(t)
	require.Equal(t, http.StatusCreated, r.Status, "%v", created)
	return created["id"].(string)
}

// received returns what the Chat API's webhook received about a task.
func received(t *testing.T, chat, user, taskID string) []map[string]any {
	t.Helper()
	resp, err := http.Get(chat + "/notifications?user_id=" + user)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var inbox struct{ Items []map[string]any }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&inbox))
	var out []map[string]any
	for _, n := range inbox.Items {
		if n["task_id"] == taskID {
			out = append(out, n)
		}
	}
	return out
}

func post(t *testing.T, url string, body []byte, headers ...string) fakes.Response {
	t.Helper()
	return fakes.Send(t, &http.Client{Timeout: 30 * time.Second}, http.MethodPost, url, body, headers...)
}
