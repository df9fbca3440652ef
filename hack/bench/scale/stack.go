package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

// The functions a scale run drives; fire-reminder answers the sweep's
// reconcile calls.
var functions = []string{"create-task", "list-tasks", "sweep-reminders", "fire-reminder"}

type stack struct {
	*devstack.Stack
	kind   string
	dir    string
	prefix string // of the PostgreSQL tables
	client dapr.Client
	store  *taskstore.Dapr // through create-task's sidecar
	keep   bool
}

// start runs the functions on bindings/local, with tasks on PostgreSQL v2
// and dedupe on Redis for kind "postgres".
func start(root, kind string, keep bool) (*stack, error) {
	dir, err := os.MkdirTemp("", "todo-bench-scale-")
	if err != nil {
		return nil, err
	}
	s := &stack{kind: kind, dir: dir, prefix: "scale_" + randomHex(6) + "_", keep: keep}
	profile := devstack.Local
	switch kind {
	case "sqlite":
	case "postgres":
		profile = devstack.KafkaPostgres
	default:
		return nil, fmt.Errorf("unknown store %q (sqlite, postgres)", kind)
	}
	res := filepath.Join(dir, "resources")
	if err := profile.WriteResources(root, res); err != nil {
		return nil, err
	}
	// The profile's tables are named after the run, so dropTables finds them.
	run, err := profile.Prepare(context.Background(), root, dir, strings.TrimSuffix(s.prefix, "_"), 0)
	if err != nil {
		return nil, err
	}
	env := run.Env
	b, _ := json.Marshal(map[string]map[string]string{"notify-webhook": {"token": "bench-" + randomHex(12)}})
	if err := os.WriteFile(filepath.Join(dir, "secrets.json"), b, 0o600); err != nil {
		return nil, err
	}
	// The functions of this tree, built apart from bin/, which `make run`
	// of another tree may be using.
	build := exec.Command("go", append([]string{"build", "-o", filepath.Join(dir, "bin") + string(os.PathSeparator)}, prefixed("./functions/", functions)...)...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building functions: %w\n%s", err, out)
	}
	base, err := devstack.FreeBlock(6)
	if err != nil {
		return nil, err
	}
	var fns []devstack.Function
	for _, name := range functions {
		p, err := devstack.FreePorts(2)
		if err != nil {
			return nil, err
		}
		g, err := devstack.FreeGRPCPort()
		if err != nil {
			return nil, err
		}
		fns = append(fns, devstack.Function{Name: name, Binary: filepath.Join(dir, "bin", name), AppPort: p[0], HTTPPort: p[1], GRPCPort: g,
			Env: []string{"LOG_LEVEL=info", "DRAIN_QUIET_PERIOD=200ms"}})
	}
	broker := "127.0.0.1:" + strconv.Itoa(base+5)
	env = append(env, devstack.LocalEnv(dir, broker, "http://127.0.0.1:1/unused", "@every 1h")...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s.Stack, err = devstack.Start(ctx, devstack.Options{Dir: dir, BinDir: filepath.Join(root, "bin"), ResourcesDir: res,
		BrokerPort: base + 5, SchedPort: base, Functions: fns, Env: env})
	if err != nil {
		return nil, err
	}
	s.client, err = sidecar.Dial(sidecar.Config{Host: "127.0.0.1", GRPCPort: s.Functions["create-task"].GRPCPort})
	if err != nil {
		s.close()
		return nil, err
	}
	s.store = taskstore.NewDapr(state.New(s.client, "tasks"))
	return s, nil
}

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

func (s *stack) close() {
	if s.client != nil {
		s.client.Close()
	}
	if s.Stack != nil {
		s.Stop()
	}
	if s.kind == "postgres" {
		dropTables(s.prefix)
	}
	if s.keep {
		fmt.Fprintf(os.Stderr, "kept %s\n", s.dir)
		return
	}
	_ = os.RemoveAll(s.dir)
}
