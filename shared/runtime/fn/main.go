package fn

import (
	"context"
	"log/slog"
	"os"

	"knative.dev/pkg/signals"
)

// Main is a function binary's whole main: it builds the function named
// name from the environment, lets setup declare its triggers, and serves
// until SIGTERM or SIGINT (a second signal exits at once). Any error ends
// the process with status 1.
func Main(name string, setup func(f *Function) error) {
	f, err := New(name)
	if err != nil {
		slog.Error("start failed", "function", name, "error", err)
		os.Exit(1)
	}
	flush, err := setupTracing(context.Background(), name)
	if err != nil {
		f.Logger().Error("tracing setup failed", "error", err)
		os.Exit(1)
	}
	defer func() { _ = flush(context.Background()) }()
	if err := setup(f); err != nil {
		f.Logger().Error("setup failed", "error", err)
		os.Exit(1)
	}
	if err := f.Run(signals.NewContext()); err != nil {
		f.Logger().Error("stopped", "error", err)
		os.Exit(1)
	}
}
