// Package fakes is test support for the functions' handler tests: small
// in-memory stand-ins for what the handlers talk to (a recording event
// Publisher, a settable Clock, a notification Channel, a Dapr State store
// and a task Store over it that injects failures) and helpers to call an http.Handler and check the task
// events a mutation published. It is imported only by _test.go files.
package fakes

import (
	"errors"
	"log/slog"
	"testing"
	"time"
)

// ErrInjected is the failure a fake returns when told to fail without a
// particular error.
var ErrInjected = errors.New("fakes: injected failure")

// Logger returns a logger that writes to the test's output, so a failing
// test shows what its handler logged.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Time parses an RFC 3339 time, panicking on a typo in a test.
func Time(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Ptr returns a pointer to v.
func Ptr[T any](v T) *T { return &v }
