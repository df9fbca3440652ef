package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/devstack"
)

// api calls the functions through create-task's sidecar, as the Chat API
// does through its own: Dapr service invocation.
type api struct {
	t *testing.T
	p *devstack.Project
}

type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// call invokes fn's method through Dapr. body may be a string (sent as is)
// or a value (sent as JSON).
func (a api) call(fn, method, path string, body any, headers ...string) reply {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(a.t, err)
		rd = bytes.NewReader(j)
	}
	url := a.p.Functions["create-task"].DaprURL() + "/v1.0/invoke/" + fn + "/method" + path
	req, err := http.NewRequest(method, url, rd)
	require.NoError(a.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func (a api) create(user string, body any, headers ...string) map[string]any {
	a.t.Helper()
	r := a.call("create-task", http.MethodPost, "/users/"+user+"/tasks", body, headers...)
	require.Equal(a.t, http.StatusCreated, r.Status, "create: %s", r.Body)
	return r.JSON(a.t)
}

func (a api) list(user, query string) []map[string]any {
	a.t.Helper()
	var all []map[string]any
	cursor := ""
	for {
		q := query
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := a.call("list-tasks", http.MethodGet, "/users/"+user+"/tasks?"+q, nil)
		require.Equal(a.t, http.StatusOK, r.Status, "list: %s", r.Body)
		var page struct {
			Items      []map[string]any `json:"items"`
			NextCursor *string          `json:"next_cursor"`
		}
		require.NoError(a.t, json.Unmarshal(r.Body, &page))
		all = append(all, page.Items...)
		if page.NextCursor == nil {
			return all
		}
		cursor = *page.NextCursor
	}
}

// publish puts a structured CloudEvent on a topic through a sidecar,
// exactly as a redelivery would present it.
func (a api) publish(topic string, e cloudevents.Event) {
	a.t.Helper()
	b, err := json.Marshal(e)
	require.NoError(a.t, err)
	req, _ := http.NewRequest(http.MethodPost, a.p.Functions["create-task"].DaprURL()+"/v1.0/publish/pubsub/"+topic, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	resp.Body.Close()
	require.Equal(a.t, http.StatusNoContent, resp.StatusCode)
}

// deliveriesFor returns the webhook deliveries of one task.
func deliveriesFor(p *devstack.Project, taskID string) []map[string]any {
	var out []map[string]any
	for _, d := range p.Webhook.Deliveries() {
		if d["task_id"] == taskID {
			out = append(out, d)
		}
	}
	return out
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func uniqueUser(prefix string) string { return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()) }
