package fn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
)

// HandlerFunc serves one HTTP route. It writes its answer and returns nil,
// or writes nothing and returns an error, which the runtime answers as one
// RFC 9457 problem: the same contract as every other trigger.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ErrorMapper names the problem a function answers for an error of its own
// domain (a missing task, a lost race), or returns nil to leave the error
// to the runtime.
type ErrorMapper func(err error) *problem.Problem

// Handle serves h on pattern, in net/http's syntax
// ("POST /users/{user_id}/tasks"): reachable directly and through Dapr
// service invocation.
func (f *Function) Handle(pattern string, h HandlerFunc) {
	defer func() {
		// ServeMux panics on a bad or clashing pattern: report it from Run
		// like any other registration error.
		if v := recover(); v != nil {
			f.errs = append(f.errs, fmt.Errorf("route %q: %v", pattern, v))
		}
	}()
	route := pattern
	if _, path, ok := strings.Cut(pattern, " "); ok {
		route = path // the method is a label of its own
	}
	f.api.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(routeKey{}).(*string); ok {
			*p = route
		}
		if err := h(w, r); err != nil {
			f.answer(w, r, err)
		}
	}))
	f.routes = append(f.routes, pattern)
}

// MapErrors adds m to the mapping from errors to problems. Mappers are
// asked in the order they were added, after a problem in the error's own
// chain and before the runtime's defaults.
func (f *Function) MapErrors(m ErrorMapper) { f.mappers = append(f.mappers, m) }

// answer writes err as a problem. Only what the caller can act on is
// shown: a problem's own detail, never the text of an internal error, which
// may quote stored data. Server-side failures are logged with their cause.
func (f *Function) answer(w http.ResponseWriter, r *http.Request, err error) {
	p := f.problemFor(err)
	if p.Status >= http.StatusInternalServerError && !errors.Is(err, context.Canceled) {
		f.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "status", p.Status, "error", err)
	}
	problem.Write(w, p)
}

func (f *Function) problemFor(err error) *problem.Problem {
	var p *problem.Problem
	if errors.As(err, &p) {
		return p
	}
	for _, m := range f.mappers {
		if p := m(err); p != nil {
			return p
		}
	}
	switch {
	case IsPermanent(err):
		return problem.New(http.StatusBadRequest, "the request cannot be processed")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return problem.New(http.StatusServiceUnavailable, "the request was cancelled")
	}
	return problem.New(http.StatusInternalServerError, "the request could not be completed")
}

// routeKey holds, in a request's context, where the route that served it
// writes its pattern, so metrics and spans name the route, never the path.
type routeKey struct{}

// ServeHTTP serves r as the running function would, through every layer of
// the runtime: what handler tests exercise.
func (f *Function) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// JSON answers status with v as JSON. An error means v could not be
// encoded, and nothing was written: the runtime answers it like any other.
// A failed write is not reported: the client is gone.
func JSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}
