package taskstore_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// The layout's suite through real daprd, on the tasks component of each
// store a profile runs on: SQLite (bindings/local), PostgreSQL v2 (as in
// Kubernetes) and MySQL (jetstream-sqlite's store is local's).
func TestStoreThroughDapr(t *testing.T) {
	for _, profile := range []devstack.Profile{devstack.Local, devstack.KafkaPostgres, devstack.RabbitMQMySQL} {
		t.Run(string(profile), func(t *testing.T) {
			// list-tasks is one of the component's scopes: its sidecar
			// serves the store to the test.
			p := devstack.StartProject(t, devstack.ProjectOptions{Profile: profile, Functions: []string{"list-tasks"}})
			suite(t, p.State(t, "list-tasks", "tasks"), "d"+strconv.FormatInt(time.Now().UnixNano(), 36))
		})
	}
}
