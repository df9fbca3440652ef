// Package request reads and checks what clients send: strict JSON bodies
// and ids taken from the URL path. Every rejection is a *problem.Problem
// naming what was wrong, so handlers can hand it straight to problem.Write.
package request

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
)

const (
	// DefaultMaxBytes bounds a request body unless MaxBytes says otherwise.
	DefaultMaxBytes = 1 << 20
	// MaxDepth bounds how deeply arrays and objects may nest in a body; no
	// request needs more, and deep nesting only costs the server.
	MaxDepth = 32
	// MaxIDLength bounds ids in paths, which also end up in state keys and
	// job names.
	MaxIDLength = 128

	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// Option adjusts what DecodeJSON accepts.
type Option func(*options)

type options struct {
	maxBytes   int64
	mergePatch bool
}

// MaxBytes sets the largest body DecodeJSON accepts; larger ones are a 413.
func MaxBytes(n int64) Option {
	return func(o *options) { o.maxBytes = n }
}

// AcceptMergePatch also accepts application/merge-patch+json (RFC 7386),
// the media type of PATCH bodies.
func AcceptMergePatch() Option {
	return func(o *options) { o.mergePatch = true }
}

// DecodeJSON decodes the body of r into v, which must be a non-nil pointer.
// It accepts exactly one JSON value in UTF-8, nested at most MaxDepth deep,
// with no duplicate keys, no fields that v does not have and no value of
// the wrong JSON type. A rejection is a *problem.Problem: 415 for the
// wrong media type, 413 for a body that is too large, 400 otherwise.
// An error of any other type is the caller's bug (v is not a pointer).
func DecodeJSON(r *http.Request, v any, opts ...Option) error {
	o := options{maxBytes: DefaultMaxBytes}
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkContentType(r.Header.Get("Content-Type"), o.mergePatch); err != nil {
		return err
	}
	body, err := readBody(r, o.maxBytes)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return problem.New(http.StatusBadRequest, "request body is empty")
	}
	if !utf8.Valid(body) {
		return problem.New(http.StatusBadRequest, "request body is not valid UTF-8")
	}
	if err := checkStructure(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

func checkContentType(header string, mergePatch bool) error {
	accepted := mediaJSON
	if mergePatch {
		accepted += " or " + mediaMergePatch
	}
	unsupported := problem.New(http.StatusUnsupportedMediaType, "Content-Type must be "+accepted)
	if header == "" {
		return unsupported
	}
	media, params, err := mime.ParseMediaType(header)
	if err != nil {
		return unsupported
	}
	if media != mediaJSON && (!mergePatch || media != mediaMergePatch) {
		return unsupported
	}
	// JSON is UTF-8 (RFC 8259); a body declared as anything else would be
	// read wrongly.
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return problem.New(http.StatusUnsupportedMediaType, "charset must be utf-8")
	}
	return nil
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
	tooLarge := problem.New(http.StatusRequestEntityTooLarge,
		fmt.Sprintf("request body must not exceed %d bytes", limit))
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	if r.Body == nil {
		return nil, nil
	}
	// Without a ResponseWriter MaxBytesReader still stops reading at the
	// limit; it just cannot tell the server to close the connection.
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, problem.New(http.StatusBadRequest, "request body could not be read")
	}
	return body, nil
}

// checkStructure rejects what encoding/json would silently accept:
// duplicate keys (the last one wins there, so two parsers could disagree
// about a request), data after the value, and nesting past MaxDepth.
func checkStructure(body []byte) error {
	if err := json.Unmarshal(body, new(json.RawMessage)); err != nil {
		return syntaxProblem(err)
	}
	// body is valid JSON now, so a plain byte scan can rely on its shape:
	// brackets balance and every string is closed.
	var stack []map[string]struct{} // one per open container; nil for arrays
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{', '[':
			if len(stack) >= MaxDepth {
				return problem.New(http.StatusBadRequest,
					fmt.Sprintf("request body nests deeper than %d levels", MaxDepth))
			}
			var keys map[string]struct{}
			if body[i] == '{' {
				keys = map[string]struct{}{}
			}
			stack = append(stack, keys)
		case '}', ']':
			stack = stack[:len(stack)-1]
		case '"':
			start, escaped := i, false
			for i++; body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
					escaped = true
				}
			}
			if len(stack) == 0 || stack[len(stack)-1] == nil || !followedByColon(body[i+1:]) {
				continue // not an object key
			}
			keys := stack[len(stack)-1]
			key := string(body[start+1 : i])
			if escaped {
				_ = json.Unmarshal(body[start:i+1], &key)
			}
			if _, dup := keys[key]; dup {
				return problem.Invalid(problem.FieldError{Field: key, Detail: "duplicate key"})
			}
			keys[key] = struct{}{}
		}
	}
	return nil
}

func followedByColon(rest []byte) bool {
	rest = bytes.TrimLeft(rest, " \t\r\n")
	return len(rest) > 0 && rest[0] == ':'
}

func syntaxProblem(err error) error {
	se, ok := errors.AsType[*json.SyntaxError](err)
	switch {
	case ok && strings.Contains(se.Error(), "after top-level value"):
		return problem.New(http.StatusBadRequest, "request body has data after the JSON value")
	case ok && strings.Contains(se.Error(), "unexpected end"):
		return problem.New(http.StatusBadRequest, "request body is not valid JSON: unexpected end of input")
	case ok:
		return problem.New(http.StatusBadRequest,
			fmt.Sprintf("request body is not valid JSON: %s (at byte %d)", strings.TrimPrefix(se.Error(), "json: "), se.Offset))
	}
	return problem.New(http.StatusBadRequest, "request body is not valid JSON")
}

// fieldPath names a field as the API documents it: the JSON path without
// array indexes, which some Go releases add ("tags.1") and others do not.
func fieldPath(f string) string {
	parts := strings.Split(f, ".")
	kept := parts[:0]
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ".")
}

func decodeError(err error) error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		want := jsonTypeName(te.Type)
		if te.Field == "" {
			return problem.New(http.StatusBadRequest, "request body must be "+want)
		}
		return problem.Invalid(problem.FieldError{Field: fieldPath(te.Field), Detail: "must be " + want})
	}
	if _, ok := errors.AsType[*json.InvalidUnmarshalError](err); ok {
		return err
	}
	if name, ok := unknownField(err); ok {
		return problem.Invalid(problem.FieldError{Field: name, Detail: "unknown field"})
	}
	// Anything else comes from a type's own UnmarshalJSON rejecting its
	// input, so it describes the request.
	return problem.New(http.StatusBadRequest, "request body is invalid: "+strings.TrimPrefix(err.Error(), "json: "))
}

// unknownField extracts the name from the error DisallowUnknownFields
// causes, which has no type of its own.
func unknownField(err error) (string, bool) {
	rest, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return "", false
	}
	name, uerr := strconv.Unquote(rest)
	if uerr != nil {
		return "", false
	}
	return name, true
}

// jsonTypeName says which JSON type decodes into t.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a different type"
}

// PathID returns the path value called name after checking it is a valid
// id (see ValidID); otherwise a 400 naming the parameter.
func PathID(r *http.Request, name string) (string, error) {
	id := r.PathValue(name)
	if err := ValidID(id); err != nil {
		return "", problem.Invalid(problem.FieldError{Field: name, Detail: err.Error()})
	}
	return id, nil
}

// ValidID reports why id is not a valid id, or nil. Ids are 1 to
// MaxIDLength characters of [A-Za-z0-9._@:-], not starting with '.' and
// without "..": they are safe in URLs, state keys and job names, and can
// never be read as a relative path.
func ValidID(id string) error {
	switch {
	case id == "":
		return errors.New("is required")
	case len(id) > MaxIDLength:
		return fmt.Errorf("must be at most %d characters", MaxIDLength)
	case id[0] == '.':
		return errors.New("must not start with '.'")
	case strings.Contains(id, ".."):
		return errors.New("must not contain '..'")
	}
	for i := 0; i < len(id); i++ {
		if !idChar(id[i]) {
			return errors.New("may contain only letters, digits and . _ @ : -")
		}
	}
	return nil
}

func idChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("._@:-", c) >= 0
}
