package fakes

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
)

// Response is what a handler answered.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do serves one request with h and returns the answer. body is sent as is
// when it is a string or []byte, as JSON otherwise, and not at all when
// nil. headers are name, value pairs; Content-Type is application/json
// unless they set it.
func Do(t testing.TB, h http.Handler, method, target string, body any, headers ...string) Response {
	t.Helper()
	req := httptest.NewRequest(method, target, encode(t, body))
	setHeaders(t, req, body, headers)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return read(t, rec.Result())
}

// Send makes the same request as Do to a real server at url, with c
// (http.DefaultClient when nil).
func Send(t testing.TB, c *http.Client, method, url string, body any, headers ...string) Response {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequest(method, url, encode(t, body))
	require.NoError(t, err)
	setHeaders(t, req, body, headers)
	res, err := c.Do(req)
	require.NoError(t, err)
	return read(t, res)
}

func encode(t testing.TB, body any) io.Reader {
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return strings.NewReader(b)
	case []byte:
		return bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		return bytes.NewReader(j)
	}
}

func setHeaders(t testing.TB, req *http.Request, body any, headers []string) {
	require.Zero(t, len(headers)%2, "headers are name, value pairs")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
}

func read(t testing.TB, res *http.Response) Response {
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Object decodes a JSON object answer.
func (r Response) Object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// JSON decodes a JSON answer into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

// Problem decodes a problem answer, checking its media type and that its
// status is the response's.
func (r Response) Problem(t testing.TB) problem.Problem {
	t.Helper()
	assert.Equal(t, problem.ContentType, r.Header.Get("Content-Type"), "body: %s", r.Body)
	var p problem.Problem
	require.NoError(t, json.Unmarshal(r.Body, &p), "body: %s", r.Body)
	assert.Equal(t, r.Status, p.Status, "the problem's status is the response's")
	return p
}

// Fields returns the fields a 400 problem names, in order.
func (r Response) Fields(t testing.TB) []string {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, r.Status, "body: %s", r.Body)
	p := r.Problem(t)
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Field
	}
	return out
}
