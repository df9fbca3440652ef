package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
)

// api calls the functions through create-task's sidecar, as the Chat API
// does through its own: Dapr service invocation.
type api struct {
	t *testing.T
	p *devstack.Project
}

// call invokes fn's method through Dapr. body may be a string (sent as is)
// or a value (sent as JSON).
func (a api) call(fn, method, path string, body any, headers ...string) fakes.Response {
	a.t.Helper()
	url := a.p.Functions["create-task"].DaprURL() + "/v1.0/invoke/" + fn + "/method" + path
	return fakes.Send(a.t, nil, method, url, body, headers...)
}

func (a api) create(user string, body any, headers ...string) map[string]any {
	a.t.Helper()
	r := a.call("create-task", http.MethodPost, "/users/"+user+"/tasks", body, headers...)
	require.Equal(a.t, http.StatusCreated, r.Status, "create: %s", r.Body)
	return r.Object(a.t)
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

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func uniqueUser(prefix string) string { return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()) }
