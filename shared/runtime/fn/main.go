package fn

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"knative.dev/pkg/signals"
)

// Main is a function binary's whole main: it builds the function named
// name from the environment, lets setup declare its triggers, and serves
// until SIGTERM or SIGINT (a second signal exits at once). Any error ends
// the process with status 1. With -describe it prints what the function
// serves (Describe, as JSON) instead, and exits without serving.
func Main(name string, setup func(f *Function) error) {
	describe := flag.Bool("describe", false, "print the function's routes, topics, cron bindings and jobs as JSON and exit")
	flag.Parse()
	f, err := New(name)
	if err != nil {
		slog.Error("start failed", "function", name, "error", err)
		os.Exit(1)
	}
	if err := setup(f); err != nil {
		f.Logger().Error("setup failed", "error", err)
		os.Exit(1)
	}
	if *describe {
		if err := printDescription(f); err != nil {
			f.Logger().Error("describe failed", "error", err)
			os.Exit(1)
		}
		return
	}
	flush, err := setupTracing(context.Background(), f.cfg)
	if err != nil {
		f.Logger().Error("tracing setup failed", "error", err)
		os.Exit(1)
	}
	defer func() { _ = flush(context.Background()) }()
	if err := f.Run(signals.NewContext()); err != nil {
		f.Logger().Error("stopped", "error", err)
		os.Exit(1)
	}
}

func printDescription(f *Function) error {
	if err := errors.Join(f.errs...); err != nil {
		return fmt.Errorf("%s: %w", f.cfg.Name, err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(f.Describe())
}
