// Command migrate moves a task store written by the legacy layout (one
// key listing every user, one array of task ids per user) into the paged
// per-user index and the reminder agenda. It is idempotent and resumable:
// each user moves in one transaction, and a run stopped half-way (Ctrl-C,
// a crash) is finished by running it again. Deploy the new functions
// first, then run it once; until it has run, users of the legacy layout
// list only the tasks they created since.
//
// It talks to a Dapr sidecar that may use the tasks store: the one given
// by DAPR_HOST, DAPR_GRPC_PORT and DAPR_API_TOKEN (a Kubernetes Job with
// an app-id in the component's scopes), or with -stack, sweep-reminders'
// sidecar of a local `make run` stack.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

func main() {
	stack := flag.String("stack", "", "a `make run` manifest (.run/stack.json): use its sweep-reminders sidecar")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(*stack, log); err != nil {
		log.Error("migration stopped; run it again to continue", "error", err)
		os.Exit(1)
	}
}

func run(stack string, log *slog.Logger) error {
	// The same variables, and defaults, as sweep-reminders.
	var env struct {
		Sidecar    sidecar.Config
		StateStore string `env:"STATE_STORE_NAME,default=tasks"`
	}
	if err := fn.ReadEnv(&env); err != nil {
		return err
	}
	cfg := env.Sidecar
	if stack != "" {
		var err error
		if cfg, err = fromManifest(stack, cfg); err != nil {
			return err
		}
	}
	client, err := sidecar.Dial(cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store := taskstore.NewDapr(state.New(client, env.StateStore))
	start := time.Now()
	res, err := store.Migrate(ctx, func(userID string, tasks int) {
		log.Info("user moved", "user_id", userID, "tasks", tasks)
	})
	log.Info("migration", "users_moved", res.Users, "tasks_moved", res.Tasks, "users_already_moved", res.Skipped,
		"took_ms", time.Since(start).Milliseconds(), "done", err == nil)
	return err
}

// fromManifest points cfg at sweep-reminders' sidecar in a stack manifest.
func fromManifest(path string, cfg sidecar.Config) (sidecar.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("%w (is `make run` running?)", err)
	}
	var m devstack.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	f, ok := m.Functions["sweep-reminders"]
	if !ok {
		return cfg, fmt.Errorf("%s: no sweep-reminders", path)
	}
	host, port, err := net.SplitHostPort(f.DaprGRPC)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	cfg.Host = host
	if cfg.GRPCPort, err = strconv.Atoi(port); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
