package request_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/request"
)

type recurrence struct {
	Frequency string `json:"frequency"`
	Interval  int    `json:"interval"`
}

type body struct {
	Title      string          `json:"title"`
	Tags       []string        `json:"tags"`
	Done       bool            `json:"done"`
	Recurrence *recurrence     `json:"recurrence"`
	Extra      json.RawMessage `json:"extra"`
}

func newRequest(contentType, payload string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/tasks", strings.NewReader(payload))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// asProblem asserts err is a problem of status and returns it.
func asProblem(t *testing.T, err error, status int) *problem.Problem {
	t.Helper()
	var p *problem.Problem
	require.True(t, errors.As(err, &p), "want a problem, got %v", err)
	assert.Equal(t, status, p.Status, p.Error())
	return p
}

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	const ok = `{"title":"buy milk","tags":["a"],"recurrence":{"frequency":"daily","interval":2}}`
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		opts        []request.Option
		status      int    // 0: success
		field       string // the field a 400 must name, if any
		detail      string // a substring of the problem's detail
	}{
		{name: "json", contentType: "application/json", body: ok},
		{name: "charset utf-8", contentType: "application/json; charset=utf-8", body: ok},
		{name: "charset in capitals", contentType: "Application/JSON; Charset=UTF-8", body: ok},
		{name: "other parameter", contentType: "application/json; foo=bar", body: ok},
		{name: "merge patch accepted", contentType: "application/merge-patch+json", body: ok, opts: []request.Option{request.AcceptMergePatch()}},
		{name: "json still accepted for patch", contentType: "application/json", body: ok, opts: []request.Option{request.AcceptMergePatch()}},
		{name: "surrounding white space", contentType: "application/json", body: " \n" + ok + "\n "},
		{name: "depth at the limit", contentType: "application/json", body: `{"extra":` + nested(request.MaxDepth-1) + `}`},

		{name: "no content type", body: ok, status: 415},
		{name: "text/plain", contentType: "text/plain", body: ok, status: 415},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: ok, status: 415},
		{name: "json suffix type", contentType: "application/problem+json", body: ok, status: 415},
		{name: "merge patch without option", contentType: "application/merge-patch+json", body: ok, status: 415},
		{name: "latin-1", contentType: "application/json; charset=iso-8859-1", body: ok, status: 415},
		{name: "malformed content type", contentType: "application/json; =", body: ok, status: 415},

		{name: "over the default limit", contentType: "application/json", body: `{"title":"` + strings.Repeat("a", request.DefaultMaxBytes) + `"}`, status: 413},
		{name: "over a set limit", contentType: "application/json", body: ok, opts: []request.Option{request.MaxBytes(10)}, status: 413},
		{name: "exactly a set limit", contentType: "application/json", body: `{}`, opts: []request.Option{request.MaxBytes(2)}},

		{name: "empty", contentType: "application/json", body: "", status: 400, detail: "empty"},
		{name: "only spaces", contentType: "application/json", body: "  \n", status: 400, detail: "empty"},
		{name: "syntax error", contentType: "application/json", body: `{"title":}`, status: 400, detail: "not valid JSON"},
		{name: "truncated", contentType: "application/json", body: `{"title":"a"`, status: 400, detail: "not valid JSON"},
		{name: "single quotes", contentType: "application/json", body: `{'title':'a'}`, status: 400, detail: "not valid JSON"},
		{name: "invalid UTF-8", contentType: "application/json", body: "{\"title\":\"\xff\"}", status: 400, detail: "UTF-8"},
		{name: "second value", contentType: "application/json", body: ok + ` {}`, status: 400, detail: "after the JSON value"},
		{name: "trailing garbage", contentType: "application/json", body: ok + `x`, status: 400, detail: "after the JSON value"},
		{name: "too deep", contentType: "application/json", body: `{"extra":` + nested(request.MaxDepth) + `}`, status: 400, detail: "deeper"},
		{name: "too deep arrays", contentType: "application/json", body: strings.Repeat("[", 1000) + strings.Repeat("]", 1000), status: 400, detail: "deeper"},
		{name: "duplicate key", contentType: "application/json", body: `{"title":"a","title":"b"}`, status: 400, field: "title"},
		{name: "duplicate key spelled with an escape", contentType: "application/json", body: `{"title":"a","\u0074itle":"b"}`, status: 400, field: "title"},
		{name: "same key in sibling objects", contentType: "application/json", body: `{"extra":[{"a":1},{"a":2}]}`},
		{name: "key-like string values", contentType: "application/json", body: `{"tags":["title","title"],"title":"title"}`},
		{name: "nested duplicate key", contentType: "application/json", body: `{"recurrence":{"interval":1,"interval":2}}`, status: 400, field: "interval"},
		{name: "unknown field", contentType: "application/json", body: `{"title":"a","owner":"b"}`, status: 400, field: "owner"},
		{name: "unknown nested field", contentType: "application/json", body: `{"recurrence":{"every":1}}`, status: 400, field: "every"},
		{name: "string for bool", contentType: "application/json", body: `{"done":"yes"}`, status: 400, field: "done", detail: "must be a boolean"},
		{name: "number for string", contentType: "application/json", body: `{"title":5}`, status: 400, field: "title", detail: "must be a string"},
		{name: "object for array", contentType: "application/json", body: `{"tags":{}}`, status: 400, field: "tags", detail: "must be an array"},
		{name: "number in string array", contentType: "application/json", body: `{"tags":["a",1]}`, status: 400, field: "tags", detail: "must be a string"},
		{name: "fraction for integer", contentType: "application/json", body: `{"recurrence":{"interval":1.5}}`, status: 400, field: "recurrence.interval", detail: "must be an integer"},
		{name: "string for object", contentType: "application/json", body: `{"recurrence":"daily"}`, status: 400, field: "recurrence", detail: "must be an object"},
		{name: "array body", contentType: "application/json", body: `[]`, status: 400, detail: "must be an object"},
		{name: "string body", contentType: "application/json", body: `"x"`, status: 400, detail: "must be an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v body
			err := request.DecodeJSON(newRequest(tc.contentType, tc.body), &v, tc.opts...)
			if tc.status == 0 {
				require.NoError(t, err)
				return
			}
			p := asProblem(t, err, tc.status)
			if tc.field != "" {
				require.Len(t, p.Errors, 1)
				assert.Equal(t, tc.field, p.Errors[0].Field)
			}
			if tc.detail != "" {
				assert.Contains(t, p.Error(), tc.detail)
			}
		})
	}
}

func TestDecodeJSONValues(t *testing.T) {
	t.Parallel()
	var v body
	r := newRequest("application/json", `{"title":"buy milk","tags":["a","b"],"done":true,"recurrence":{"frequency":"daily","interval":2}}`)
	require.NoError(t, request.DecodeJSON(r, &v))
	assert.Equal(t, body{Title: "buy milk", Tags: []string{"a", "b"}, Done: true, Recurrence: &recurrence{"daily", 2}}, v)

	// A map takes any keys: patches are decoded this way and checked later.
	var patch map[string]json.RawMessage
	r = newRequest("application/merge-patch+json", `{"title":null,"whatever":[1]}`)
	require.NoError(t, request.DecodeJSON(r, &patch, request.AcceptMergePatch()))
	assert.Equal(t, map[string]json.RawMessage{"title": json.RawMessage("null"), "whatever": json.RawMessage("[1]")}, patch)
}

func TestDecodeJSONDeclaredLengthTooLarge(t *testing.T) {
	t.Parallel()
	r := newRequest("application/json", `{}`)
	r.ContentLength = request.DefaultMaxBytes + 1
	_ = asProblem(t, request.DecodeJSON(r, &body{}), 413)
}

func TestDecodeJSONNilBody(t *testing.T) {
	t.Parallel()
	r := newRequest("application/json", "")
	r.Body = nil
	_ = asProblem(t, request.DecodeJSON(r, &body{}), 400)
}

func TestDecodeJSONNotAPointer(t *testing.T) {
	t.Parallel()
	err := request.DecodeJSON(newRequest("application/json", `{}`), body{})
	require.Error(t, err)
	var p *problem.Problem
	assert.False(t, errors.As(err, &p), "a caller's bug must not look like a client error")
}

func TestPathID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id    string
		valid bool
	}{
		{"abc", true},
		{"0195e3c4-8f0a-7b3e-9c1d-2a4b6c8d0e1f", true},
		{"user@example.com", true},
		{"a.b", true},
		{"a:b_c-d", true},
		{"-", true},
		{strings.Repeat("a", request.MaxIDLength), true},
		{"", false},
		{strings.Repeat("a", request.MaxIDLength+1), false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{"a..b", false},
		{"a/b", false},
		{"a\\b", false},
		{"a b", false},
		{"a%2Fb", false},
		{"é", false},
		{"a\x00", false},
		{"a?b", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/tasks/x", nil)
			r.SetPathValue("task_id", tc.id)
			got, err := request.PathID(r, "task_id")
			if tc.valid {
				require.NoError(t, err)
				assert.Equal(t, tc.id, got)
				return
			}
			p := asProblem(t, err, 400)
			require.Len(t, p.Errors, 1)
			assert.Equal(t, "task_id", p.Errors[0].Field)
			assert.Empty(t, got)
		})
	}
}

// TestPathIDThroughMux checks ids as the router hands them over: an
// escaped slash arrives decoded and is still rejected.
func TestPathIDThroughMux(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tasks/{id}", func(w http.ResponseWriter, r *http.Request) {
		if _, err := request.PathID(r, "id"); err != nil {
			problem.Write(w, err)
		}
	})
	for path, status := range map[string]int{
		"/tasks/abc":        200,
		"/tasks/a%2F..%2Fb": 400,
		"/tasks/.env":       400,
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		assert.Equal(t, status, w.Code, path)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"title":"a","tags":["x"],"recurrence":{"frequency":"daily","interval":1}}`,
		`{"title":"a","title":"b"}`,
		`[[[[[[]]]]]]`,
		`{"recurrence":{"interval":1e400}}`,
		"{\"title\":\"\xff\"}",
		`{} {}`,
		``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v body
		err := request.DecodeJSON(newRequest("application/json", s), &v)
		if err == nil {
			assert.True(t, json.Valid([]byte(s)), "accepted invalid JSON %q", s)
			return
		}
		var p *problem.Problem
		require.True(t, errors.As(err, &p), "%q: not a problem: %v", s, err)
		assert.Contains(t, []int{400, 413}, p.Status)
	})
}
