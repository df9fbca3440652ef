package fn_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/logging"
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// TestTraceContinuesThroughJobsAndEvents: a job whose data carries a
// traceparent, and a CloudEvent that carries one, run in that trace. No
// sidecar is needed: the requests are posted as daprd and Knative would.
func TestTraceContinuesThroughJobsAndEvents(t *testing.T) {
	ports, err := devstack.FreePorts(4)
	require.NoError(t, err)
	f, err := fn.NewWithConfig(fn.Config{Name: "trace-test", Port: ports[0], MetricsPort: ports[1], PprofPort: ports[3],
		Sidecar: sidecar.Config{Host: "127.0.0.1", HTTPPort: ports[2], GRPCPort: ports[2]}, ShutdownTimeout: time.Second},
		logging.New(io.Discard, "trace-test", "info"))
	require.NoError(t, err)
	traces := make(chan string, 2)
	f.Job("t-", func(ctx context.Context, _ string, _ []byte) error { traces <- logging.TraceID(ctx); return nil })
	f.Event("/events/t", func(ctx context.Context, _ cloudevents.Event) error { traces <- logging.TraceID(ctx); return nil })
	f.Handle("GET /users/{user_id}/things", func(w http.ResponseWriter, _ *http.Request) error { return fn.JSON(w, http.StatusOK, "ok") })
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() { stop(); assert.NoError(t, <-done, "Run ends cleanly with its context") })
	app := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	require.Eventually(t, func() bool {
		resp, err := http.Get(app + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)

	const id = "0af7651916cd43dd8448eb211c80319c"
	post := func(path, ctype, body string) {
		// The request's own traceparent is another trace: the job's data
		// and the event's attribute win.
		req, _ := http.NewRequest(http.MethodPost, app+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("traceparent", "00-11111111111111111111111111111111-2222222222222222-01")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, path)
		assert.Equal(t, id, <-traces, path)
	}
	post("/job/t-1", "application/json", `{"task_id":"x","traceparent":"00-`+id+`-b7ad6b7169203331-01"}`)
	post("/events/t", "application/cloudevents+json",
		`{"specversion":"1.0","id":"e1","source":"s","type":"t","traceparent":"00-`+id+`-b7ad6b7169203331-01","data":{}}`)

	resp, err := http.Get(app + "/users/u-1/things")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1]))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `todo_handler_duration_seconds_count{route="/job/{name}",trigger="job"}`)
	assert.Contains(t, string(body), `todo_events_total{outcome="success",topic="t"}`)
	assert.Contains(t, string(body), `todo_handler_duration_seconds_count{route="/users/{user_id}/things",trigger="http"}`,
		"a function's route is labelled by its pattern, never its path")

	// Profiles, when asked for, are served on loopback only.
	resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?debug=1", ports[3]))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
