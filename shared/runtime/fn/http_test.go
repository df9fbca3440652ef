package fn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/logging"
	"github.com/todo-chatbot/functions/shared/runtime/problem"
)

var errDomain = errors.New("no such thing")

func testFunction(t *testing.T) *Function {
	t.Helper()
	f, err := NewWithConfig(Config{Name: "http-test", PubSub: "pubsub"}, logging.New(io.Discard, "http-test", "error"))
	require.NoError(t, err)
	t.Cleanup(func() { f.Dapr().Close() })
	return f
}

// One error contract on HTTP: a handler's error becomes one problem, by the
// error's own problem, then the function's mapping, then the runtime's.
func TestHandlerErrorsAreProblems(t *testing.T) {
	for name, tc := range map[string]struct {
		err    error
		status int
		shown  string
	}{
		"a problem keeps its status":     {problem.New(http.StatusConflict, "taken"), http.StatusConflict, "taken"},
		"a wrapped problem too":          {fmt.Errorf("ctx: %w", problem.New(http.StatusTeapot, "tea")), http.StatusTeapot, "tea"},
		"the function's mapping":         {fmt.Errorf("get: %w", errDomain), http.StatusNotFound, "no such thing"},
		"permanent is a bad request":     {Permanent(errors.New("secret detail")), http.StatusBadRequest, "cannot be processed"},
		"cancelled is unavailable":       {context.Canceled, http.StatusServiceUnavailable, "cancelled"},
		"anything else is a bare 500":    {errors.New("db at 10.0.0.1 said no"), http.StatusInternalServerError, "could not be completed"},
		"a cause is logged, never shown": {problem.New(http.StatusBadGateway, "upstream").WithCause(errors.New("token=abc")), http.StatusBadGateway, "upstream"},
	} {
		t.Run(name, func(t *testing.T) {
			f := testFunction(t)
			f.MapErrors(func(err error) *problem.Problem {
				if errors.Is(err, errDomain) {
					return problem.New(http.StatusNotFound, "no such thing")
				}
				return nil
			})
			f.Handle("GET /x/{id}", func(http.ResponseWriter, *http.Request) error { return tc.err })
			rec := httptest.NewRecorder()
			f.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x/1", nil))
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
			assert.Contains(t, rec.Body.String(), tc.shown)
			assert.NotContains(t, rec.Body.String(), "secret detail")
			assert.NotContains(t, rec.Body.String(), "10.0.0.1")
			assert.NotContains(t, rec.Body.String(), "token=abc")
		})
	}
}

func TestHandleReportsABadPatternFromRun(t *testing.T) {
	f := testFunction(t)
	f.Handle("GET /a", func(http.ResponseWriter, *http.Request) error { return nil })
	f.Handle("GET /a", func(http.ResponseWriter, *http.Request) error { return nil })
	err := f.Run(context.Background())
	assert.ErrorContains(t, err, `route "GET /a"`)
}

// The runtime's own server bounds every phase of a connection: a client
// that never finishes its headers cannot hold one forever.
func TestServerHasTimeouts(t *testing.T) {
	f := testFunction(t)
	assert.Positive(t, f.server.ReadHeaderTimeout)
	assert.Positive(t, f.server.ReadTimeout)
	assert.Positive(t, f.server.WriteTimeout)
	assert.Positive(t, f.server.IdleTimeout)
}

func TestDescribe(t *testing.T) {
	f := testFunction(t)
	f.Handle("POST /b", func(http.ResponseWriter, *http.Request) error { return nil })
	f.Handle("GET /a", func(http.ResponseWriter, *http.Request) error { return nil })
	f.Subscribe(Subscription{Topic: "t.events"}, func(context.Context, cloudevents.Event) error { return nil })
	f.Cron("every-minute", func(context.Context) error { return nil })
	f.Job("reminder-", func(context.Context, string, []byte) error { return nil })
	d := f.Describe()
	assert.Equal(t, "http-test", d.Name)
	assert.Equal(t, []string{"GET /a", "POST /b"}, d.Routes)
	require.Len(t, d.Topics, 1)
	assert.Equal(t, Subscription{Topic: "t.events", DeadLetterTopic: "t.events.dlq", PubSub: "pubsub"}, d.Topics[0])
	assert.Equal(t, []string{"every-minute"}, d.Crons)
	assert.Equal(t, []string{"reminder-"}, d.Jobs)
	assert.Equal(t, []string{"/events/every-minute", "/events/t.events"}, d.Events)

	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dapr/subscribe", nil))
	assert.JSONEq(t, `[{"pubsubname":"pubsub","topic":"t.events","routes":{"default":"/dapr/topics/t.events"},"deadLetterTopic":"t.events.dlq"}]`, rec.Body.String(),
		"daprd is told the topics in its programmatic subscription format")
}
