package apicontract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// requirePython returns the machine's python3, or skips (fails under
// REQUIRE_SERVICES=1) when there is none.
func requirePython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err == nil {
		return py
	}
	if os.Getenv(devstack.RequireServicesEnv) == "1" {
		t.Fatalf("python3 is required (%s=1) but is not on PATH: %v", devstack.RequireServicesEnv, err)
	}
	t.Skipf("SKIPPED: python3 not on PATH (%v), so examples/python is not tested. Install it, or set %s=1 to make this a failure.", err, devstack.RequireServicesEnv)
	return ""
}

// pythonRun is one run of the example client.
type pythonRun struct {
	code           int
	stdout, stderr []byte
}

func runClient(t *testing.T, py string, daprHTTPPort int, args ...string) pythonRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := filepath.Join(repoRoot(t), "examples", "python", "chat_api_client.py")
	cmd := exec.CommandContext(ctx, py, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "DAPR_HTTP_PORT="+strconv.Itoa(daprHTTPPort), "PYTHONDONTWRITEBYTECODE=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %s: %v", script, err)
	}
	return pythonRun{code: cmd.ProcessState.ExitCode(), stdout: out.Bytes(), stderr: errOut.Bytes()}
}

// runPythonClient runs examples/python/chat_api_client.py against the
// chat-api sidecar, then checks through the functions that it did what it
// printed: the task is listed and the message reached the chat webhook.
func runPythonClient(t *testing.T, c *caller, p *devstack.Project) {
	py := requirePython(t)
	user := "py-" + randomHex(4)
	port := p.Functions[chatAPI].HTTPPort

	run := runClient(t, py, port, user, "--title", "Buy milk", "--message", "Milk is on your list.")
	require.Equal(t, 0, run.code, "the client failed:\n%s", run.stderr)
	var out struct {
		Task         task.Task      `json:"task"`
		Location     string         `json:"location"`
		Tasks        []task.Task    `json:"tasks"`
		Notification map[string]any `json:"notification"`
	}
	require.NoError(t, json.Unmarshal(run.stdout, &out), "the client's output is not JSON:\n%s", run.stdout)
	assert.Equal(t, "Buy milk", out.Task.Title)
	assert.Equal(t, "/users/"+user+"/tasks/"+out.Task.ID, out.Location)
	require.Len(t, out.Tasks, 1)
	assert.Equal(t, out.Task.ID, out.Tasks[0].ID)

	var listed task.Task
	c.do(call{fn: "list-tasks", method: "GET", path: "/users/" + user + "/tasks/" + out.Task.ID, want: 200}).json(t, &listed)
	assert.Equal(t, "Buy milk", listed.Title)
	assert.Equal(t, []string{"chat"}, listed.Tags)

	id, _ := out.Notification["id"].(string)
	require.NotEmpty(t, id, "notification %v", out.Notification)
	var delivered map[string]any
	for _, d := range p.Webhook.Deliveries() {
		if d["id"] == id {
			delivered = d
		}
	}
	require.NotNil(t, delivered, "the message never reached the chat webhook")
	assert.Equal(t, user, delivered["user_id"])
	assert.Equal(t, "Milk is on your list.", delivered["body"])

	// Failures exit non-zero and say why on stderr: a refusal of the
	// functions (the problem passes through Dapr), and no sidecar at all.
	run = runClient(t, py, port, "a..b")
	assert.Equal(t, 1, run.code)
	var failed struct {
		Status  int            `json:"status"`
		Problem map[string]any `json:"problem"`
	}
	require.NoError(t, json.Unmarshal(run.stderr, &failed), "stderr: %s", run.stderr)
	assert.Equal(t, 400, failed.Status)
	assert.Equal(t, "Invalid input", failed.Problem["title"])
	assert.Empty(t, run.stdout)

	closed, err := devstack.FreePorts(1)
	require.NoError(t, err)
	run = runClient(t, py, closed[0], user)
	assert.Equal(t, 1, run.code, "with no sidecar: %s", run.stderr)
}
