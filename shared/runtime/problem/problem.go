// Package problem writes RFC 9457 problem details (application/problem+json),
// the one error shape every function's HTTP API answers with.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// FieldError names one invalid input field and says what is wrong with it.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// Problem is an RFC 9457 problem document. It is also an error, so handlers
// can return one and let Write pick the status.
type Problem struct {
	Type   string       `json:"type,omitempty"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`

	// cause is what went wrong inside, for the log; never shown.
	cause error
}

// WithCause returns a copy of p that carries cause for the log (Error and
// Unwrap), never for the caller.
func (p *Problem) WithCause(cause error) *Problem {
	c := *p
	c.cause = cause
	return &c
}

// Unwrap is the cause, if any.
func (p *Problem) Unwrap() error { return p.cause }

func (p *Problem) Error() string {
	if p.cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", p.Status, p.Title, p.Detail, p.cause)
	}
	if len(p.Errors) == 0 {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
	}
	fields := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		fields[i] = e.Field + ": " + e.Detail
	}
	return fmt.Sprintf("%d %s: %s", p.Status, p.Title, strings.Join(fields, "; "))
}

// New returns a problem with the standard title for status.
func New(status int, detail string) *Problem {
	return &Problem{Title: http.StatusText(status), Status: status, Detail: detail}
}

// Invalid returns a 400 problem listing every invalid field.
func Invalid(errs ...FieldError) *Problem {
	return &Problem{
		Title:  "Invalid input",
		Status: http.StatusBadRequest,
		Detail: "one or more fields are invalid",
		Errors: errs,
	}
}

// Fields accumulates field errors while a request is validated.
type Fields []FieldError

// Add records that field is invalid.
func (f *Fields) Add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
}

// Err returns a 400 problem when any field was added, nil otherwise.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return Invalid(f...)
}

// Write answers with err as a problem document. A *Problem anywhere in err's
// chain keeps its status; any other error becomes a 500 whose detail is
// generic, so internal errors (which may quote stored data) never reach
// the caller.
func Write(w http.ResponseWriter, err error) {
	var p *Problem
	if !errors.As(err, &p) {
		p = New(http.StatusInternalServerError, "the request could not be completed")
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
