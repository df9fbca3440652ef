package devstack

import (
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
	"github.com/todo-chatbot/functions/shared/runtime/state"
)

// State returns the project's state store component as function's code
// sees it: through that function's sidecar, which must be in the
// component's scopes. The connection closes with the test.
func (p *Project) State(t TB, function, component string) *state.Store {
	t.Helper()
	f, ok := p.Functions[function]
	if !ok {
		t.Fatalf("devstack: %s is not running", function)
	}
	client, err := sidecar.Dial(sidecar.Config{Host: "127.0.0.1", GRPCPort: f.GRPCPort})
	if err != nil {
		t.Fatalf("devstack: sidecar of %s: %v", function, err)
	}
	t.Cleanup(client.Close)
	return state.New(client, component)
}
