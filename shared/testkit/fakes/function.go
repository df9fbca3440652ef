package fakes

import (
	"testing"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
)

// Function returns the runtime's Function named name, with no sidecar
// behind it, for a handler test to declare the function's triggers on and
// serve requests through every layer the running function has.
func Function(t testing.TB, name string) *fn.Function {
	t.Helper()
	f, err := fn.NewWithConfig(fn.Config{Name: name}, Logger(t))
	if err != nil {
		t.Fatalf("fakes: function %s: %v", name, err)
	}
	t.Cleanup(func() { f.Dapr().Close() })
	return f
}
