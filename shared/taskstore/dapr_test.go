package taskstore_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/todo-chatbot/functions/shared/devstack"
	"github.com/todo-chatbot/functions/shared/sidecar"
	"github.com/todo-chatbot/functions/shared/state"
)

// The layout's suite through real daprd, on the tasks component of
// bindings/local (SQLite) and of Kubernetes (PostgreSQL v2).
func TestStoreThroughDapr(t *testing.T) {
	for _, stores := range []devstack.Stores{devstack.SQLite, devstack.PostgresRedis} {
		t.Run(string(stores), func(t *testing.T) {
			// list-tasks is one of the component's scopes: its sidecar
			// serves the store to the test.
			p := devstack.StartProject(t, devstack.ProjectOptions{Stores: stores, Functions: []string{"list-tasks"}})
			client, err := sidecar.Dial(sidecar.Config{Host: "127.0.0.1", GRPCPort: p.Functions["list-tasks"].GRPCPort})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			suite(t, state.New(client, "tasks"), "d"+strconv.FormatInt(time.Now().UnixNano(), 36))
		})
	}
}
