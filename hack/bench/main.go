// Command bench measures what the Dapr sidecars add to the project's
// critical paths (service invocation, state, pub/sub), how late reminders
// fire, how much create-task load the local stack sustains, and how fast
// functions start. It starts the real stack (broker, scheduler, functions
// and daprd sidecars, on free loopback ports), drives it with an open-loop
// load generator at fixed rates, and writes docs/benchmarks.md, .json and
// .png. `make bench` runs it in full, `make bench-quick` at small sizes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/todo-chatbot/functions/hack/bench/proc"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// sizes are how long and how hard each benchmark runs.
type sizes struct {
	Rounds         int       `json:"rounds"`
	Timeout        float64   `json:"request_timeout_seconds"`
	Warm           float64   `json:"warm_up_seconds"`
	InvokeRates    []float64 `json:"invoke_rates"`
	InvokeSeconds  float64   `json:"invoke_seconds"`
	HopRates       []float64 `json:"hop_rates"`
	HopSeconds     float64   `json:"hop_seconds"`
	StateRate      float64   `json:"state_rate"`
	StateSeconds   float64   `json:"state_seconds"`
	PubRate        float64   `json:"pubsub_rate"`
	PubSeconds     float64   `json:"pubsub_seconds"`
	Reminders      int       `json:"reminders"`
	ReminderWindow float64   `json:"reminder_window_seconds"`
	E2ERate        float64   `json:"e2e_rate"`
	E2ESeconds     float64   `json:"e2e_seconds"`
	E2ELead        float64   `json:"e2e_lead_seconds"`
	E2ESteps       []float64 `json:"e2e_ladder_steps"`
	E2EStepSeconds float64   `json:"e2e_ladder_step_seconds"`
	Steps          []float64 `json:"throughput_steps"`
	StepSeconds    float64   `json:"throughput_step_seconds"`
	RetrySteps     bool      `json:"throughput_retry_failed_step"`
	ColdRounds     int       `json:"cold_rounds"`
	ColdPairs      []string  `json:"cold_with_sidecar"`
	Users          int       `json:"users"`
	Settle         float64   `json:"settle_max_seconds"`
	Grace          float64   `json:"grace_seconds"`
}

var full = sizes{
	Rounds: 5, Timeout: 3, Warm: 1,
	InvokeRates: []float64{100, 500, 1000}, InvokeSeconds: 3,
	HopRates: []float64{100, 500, 1000}, HopSeconds: 2,
	StateRate: 300, StateSeconds: 2,
	PubRate: 200, PubSeconds: 3,
	Reminders: 10000, ReminderWindow: 60,
	E2ERate: 50, E2ESeconds: 60, E2ELead: 5,
	E2ESteps: []float64{50, 100, 125, 150, 200}, E2EStepSeconds: 15,
	Steps:       []float64{50, 100, 150, 175, 200, 250, 300, 400, 500, 600, 800, 1000},
	StepSeconds: 4, RetrySteps: true,
	ColdRounds: 3, ColdPairs: []string{"create-task", "fire-reminder", "send-notification"},
	Users:  1000,
	Settle: 15, Grace: 30,
}

var quick = sizes{
	Rounds: 1, Timeout: 1, Warm: 0.5,
	InvokeRates: []float64{100, 500, 1000}, InvokeSeconds: 1,
	HopRates: []float64{100, 500, 1000}, HopSeconds: 1,
	StateRate: 200, StateSeconds: 0.5,
	PubRate: 100, PubSeconds: 1,
	Reminders: 500, ReminderWindow: 2,
	E2ERate: 50, E2ESeconds: 2, E2ELead: 2,
	E2ESteps: []float64{20, 40}, E2EStepSeconds: 2,
	Steps:       []float64{50, 100, 200, 300, 400},
	StepSeconds: 1,
	ColdRounds:  1, ColdPairs: []string{"create-task"},
	Users:  100,
	Settle: 2, Grace: 10,
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

type bench struct {
	sz    sizes
	s     *stack
	users []string
	rep   *Report
	log   func(format string, args ...any)
	keep  bool // the run folders of the stacks it starts
}

// scenarios in the order they run: the light, latency-sensitive ones
// first, before the saturating ones leave work behind them; cold start
// last, as it starts second instances of functions; then the throughput
// ladder again on a SQLite stack, and the end-to-end ladder on a stack
// of its own for each variant of the reminder path.
var scenarios = []string{"e2e", "reminders", "pubsub", "state", "invoke", "throughput", "cold", "throughput-sqlite", "e2e-ladder"}

func main() {
	quickRun := flag.Bool("quick", false, "small sizes (under two minutes)")
	out := flag.String("out", "docs", "folder for benchmarks.md, .json and .png")
	only := flag.String("only", "", "comma-separated subset of: "+strings.Join(scenarios, ","))
	rounds := flag.Int("rounds", 0, "rounds per figure (default 5, quick 1)")
	stores := flag.String("stores", "auto", "stores of the stack: sqlite, postgres+redis, or auto (postgres+redis when both run)")
	keep := flag.Bool("keep", false, "keep the run folders (logs, data) afterwards")
	steps := flag.String("steps", "", "comma-separated rates (/s) of the throughput ladder, instead of the size's")
	e2eSteps := flag.String("e2e-steps", "", "comma-separated rates (/s) of the end-to-end ladder, instead of the size's")
	flag.Parse()

	sz := full
	mode := "full"
	if *quickRun {
		sz, mode = quick, "quick"
	}
	if *rounds > 0 {
		sz.Rounds = *rounds
	}
	for _, o := range []struct {
		flag, value string
		rates       *[]float64
	}{{"-steps", *steps, &sz.Steps}, {"-e2e-steps", *e2eSteps, &sz.E2ESteps}} {
		if o.value == "" {
			continue
		}
		*o.rates = nil
		for _, v := range strings.Split(o.value, ",") {
			rate, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || rate <= 0 {
				fmt.Fprintf(os.Stderr, "bench: %s %q: want rates like 50,100,200\n", o.flag, o.value)
				os.Exit(2)
			}
			*o.rates = append(*o.rates, rate)
		}
	}
	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			if !slices.Contains(scenarios, n) {
				fmt.Fprintf(os.Stderr, "bench: unknown scenario %q (want %s)\n", n, strings.Join(scenarios, ","))
				os.Exit(2)
			}
			want[n] = true
		}
	}
	st := devstack.Stores(*stores)
	switch st {
	case "auto":
		st = devstack.SQLite
		if reachable(devstack.PostgresAddr) && reachable(devstack.RedisAddr) {
			st = devstack.PostgresRedis
		}
	case devstack.SQLite, devstack.PostgresRedis:
	default:
		fmt.Fprintf(os.Stderr, "bench: -stores %q: want sqlite, postgres+redis or auto\n", *stores)
		os.Exit(2)
	}
	if err := run(sz, mode, *out, st, want, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(sz sizes, mode, out string, stores devstack.Stores, want map[string]bool, keep bool) error {
	began := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
	root, err := devstack.RepoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(root, "bin")
	for _, b := range append([]string{"daprd", "scheduler", "broker"}, devstack.Functions...) {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return fmt.Errorf("%s not built (run `make build`): %w", b, err)
		}
	}
	selected := func(name string) bool { return len(want) == 0 || want[name] }
	// The stack of the sidecar hop with mTLS starts minutes into the run:
	// a missing sentry is better told now.
	if selected("invoke") {
		if _, err := os.Stat(filepath.Join(bin, "sentry")); err != nil {
			return fmt.Errorf("sentry not built, the sidecar hop with mTLS needs it (run `make tools`): %w", err)
		}
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	rep := newReport(mode, sz, bin, stores)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	steps := []struct {
		name string
		run  func(*bench, context.Context) error
	}{
		{"e2e", (*bench).endToEnd},
		{"reminders", (*bench).reminders},
		{"pubsub", (*bench).pubsub},
		{"state", (*bench).state},
		{"invoke", (*bench).invocation},
		{"throughput", (*bench).throughput},
		{"cold", (*bench).coldStart},
	}
	need := false
	for _, st := range steps {
		need = need || selected(st.name)
	}
	if need {
		logf("starting the stack on %s (%s sizes; machine load average %.2f)", stores, mode, rep.Machine.LoadStart[0])
		b, err := startBench(ctx, root, bin, stores, benchStack, sz, rep, logf, keep)
		if err != nil {
			return err
		}
		for _, st := range steps {
			if !selected(st.name) || ctx.Err() != nil {
				continue
			}
			t0 := time.Now()
			logf("== %s (load average %.2f)", st.name, proc.LoadAvg()[0])
			if err := st.run(b, ctx); err != nil {
				logf("%s failed: %v", st.name, err)
				rep.note(fmt.Sprintf("%s: not completed: %v", st.name, err))
			}
			logf("== %s done in %s", st.name, time.Since(t0).Round(time.Second))
		}
		// Stopping takes a few seconds (each daprd drains); let it happen
		// while the next stack starts.
		closed := make(chan struct{})
		go func() { b.s.close(keep); close(closed) }()
		defer func() { <-closed }()
	}
	// ownStack runs one phase on a stack started for it, closed after.
	ownStack := func(name string, stores devstack.Stores, spec stackSpec, phase func(*bench) error) {
		t0 := time.Now()
		b, err := startBench(ctx, root, bin, stores, spec, sz, rep, logf, keep)
		if err == nil {
			err = phase(b)
			b.s.close(keep)
		}
		if err != nil {
			rep.note(fmt.Sprintf("%s: not completed: %v", name, err))
		}
		logf("== %s done in %s", name, time.Since(t0).Round(time.Second))
	}
	if selected("throughput-sqlite") && stores != devstack.SQLite && ctx.Err() == nil {
		logf("== throughput-sqlite: starting a stack on SQLite (bindings/local as it is)")
		ownStack("throughput on SQLite", devstack.SQLite, benchStack, func(b *bench) error { return b.throughput(ctx) })
	}
	for _, v := range e2eVariants {
		if !selected("e2e-ladder") || ctx.Err() != nil {
			break
		}
		logf("== e2e-ladder, %s: starting a stack (%s)", v.Name, v.Setup)
		ownStack("end-to-end ladder, "+v.Name, stores, v.spec(), func(b *bench) error { return b.e2eLadder(ctx, v) })
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep.Machine.LoadEnd = proc.LoadAvg()
	rep.Seconds = time.Since(began).Seconds()
	rep.evaluate()
	if err := rep.write(out); err != nil {
		return err
	}
	logf("wrote %s", strings.Join([]string{filepath.Join(out, "benchmarks.md"), "benchmarks.json", "benchmarks.png"}, ", "))
	return nil
}

// startBench starts a stack and creates the bench users on it.
func startBench(ctx context.Context, root, bin string, stores devstack.Stores, spec stackSpec, sz sizes, rep *Report, logf func(string, ...any), keep bool) (*bench, error) {
	t0 := time.Now()
	s, err := startStack(ctx, root, bin, stores, spec, keep)
	if err != nil {
		return nil, err
	}
	if !s.pg || !s.redis {
		rep.note(fmt.Sprintf("PostgreSQL reachable: %v, Redis reachable: %v; state benchmarks run only against what is.", s.pg, s.redis))
	}
	logf("stack ready in %s: %s", time.Since(t0).Round(100*time.Millisecond), strings.Join(s.Names(), ", "))
	b := &bench{sz: sz, s: s, rep: rep, log: logf, keep: keep}
	if err := b.warmUsers(ctx); err != nil {
		s.close(keep)
		return nil, fmt.Errorf("creating the bench users: %w", err)
	}
	return b, nil
}

// Machine is where the numbers were measured.
type Machine struct {
	CPUModel   string     `json:"cpu_model"`
	Cores      int        `json:"cores"` // processors in /proc/cpuinfo
	GoMaxProcs int        `json:"gomaxprocs"`
	MemoryGiB  float64    `json:"memory_gib"`
	Kernel     string     `json:"kernel"`
	LoadStart  [3]float64 `json:"load_average_start"`
	LoadEnd    [3]float64 `json:"load_average_end"`
}

// Versions of what was measured.
type Versions struct {
	Go    string `json:"go"`
	Dapr  string `json:"dapr_runtime"`
	GoSDK string `json:"dapr_go_sdk"`
}

func machine() Machine {
	model, n := proc.CPUModel()
	m := Machine{CPUModel: model, Cores: n, GoMaxProcs: runtime.GOMAXPROCS(0), MemoryGiB: float64(proc.MemTotal()) / (1 << 30), LoadStart: proc.LoadAvg()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func versions(bin string) Versions {
	v := Versions{Go: runtime.Version(), Dapr: "unknown", GoSDK: "unknown"}
	if out, err := exec.Command(filepath.Join(bin, "daprd"), "--version").Output(); err == nil {
		v.Dapr = strings.TrimSpace(string(out))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/dapr/go-sdk" {
				v.GoSDK = d.Version
			}
		}
	}
	return v
}
