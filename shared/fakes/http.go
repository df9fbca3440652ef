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

	"github.com/todo-chatbot/functions/shared/problem"
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
	require.Zero(t, len(headers)%2, "headers are name, value pairs")
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, target, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
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
