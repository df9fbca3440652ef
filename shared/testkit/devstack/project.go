package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Functions lists every function of the project, in the order `make run`
// numbers their default ports: the order of knative/chart/values.yaml,
// where a new function is added at the end.
var Functions = mustChart(ChartFunctions)

// goMaxProcs is the chart's goMaxProcs of each function it lists.
var goMaxProcs = mustChart(ChartGoMaxProcs)

// ValuesFile is where the project lists its functions, once.
const ValuesFile = "knative/chart/values.yaml"

// mustChart reads the project's values file with read, once, when the
// package loads: without it no stack of the project can start.
func mustChart[T any](read func(path string) (T, error)) T {
	root, err := RepoRoot()
	if err == nil {
		var v T
		if v, err = read(filepath.Join(root, ValuesFile)); err == nil {
			return v
		}
	}
	panic("devstack: the project's chart values: " + err.Error())
}

// ChartFunctions reads the names under functions: in a chart values file,
// in their order there.
func ChartFunctions(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Functions yaml.Node `yaml:"functions"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Functions.Kind != yaml.MappingNode || len(doc.Functions.Content) == 0 {
		return nil, fmt.Errorf("%s: no functions: map", path)
	}
	var names []string
	for i := 0; i < len(doc.Functions.Content); i += 2 {
		names = append(names, doc.Functions.Content[i].Value)
	}
	return names, nil
}

// DeployedEnv is the environment the chart gives name's function and its
// daprd that changes how they run, not what they do: GOMAXPROCS
// (goMaxProcs in the values), so that local stacks and the benchmarks run
// with the parallelism a pod runs with. Empty for a name the chart does
// not list, or when it leaves Go's default.
func DeployedEnv(name string) []string {
	if n := goMaxProcs[name]; n != 0 {
		return []string{"GOMAXPROCS=" + strconv.Itoa(n)}
	}
	return nil
}

// ChartGoMaxProcs reads the goMaxProcs a chart values file gives each
// function it lists: the function's own, or the defaults'; 0 means Go's
// default.
func ChartGoMaxProcs(path string) (map[string]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	type procs struct {
		GoMaxProcs *int `yaml:"goMaxProcs"`
	}
	var doc struct {
		Defaults  procs            `yaml:"defaults"`
		Functions map[string]procs `yaml:"functions"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[string]int, len(doc.Functions))
	for name, f := range doc.Functions {
		switch {
		case f.GoMaxProcs != nil:
			out[name] = *f.GoMaxProcs
		case doc.Defaults.GoMaxProcs != nil:
			out[name] = *doc.Defaults.GoMaxProcs
		}
	}
	return out, nil
}

// Stores selects the state stores behind the benchmarks' stack
// (hack/bench); StartProject takes a Profile.
type Stores string

const (
	// SQLite is bindings/local as it is.
	SQLite Stores = "sqlite"
	// PostgresRedis puts tasks on PostgreSQL (127.0.0.1:5432) and the
	// short-lived records on Redis (127.0.0.1:6379), as in Kubernetes.
	PostgresRedis Stores = "postgres+redis"
)

// PostgresAddr and RedisAddr are where PostgresRedis and the profiles
// expect the servers (their default ports on this machine and in CI).
const (
	PostgresAddr = "127.0.0.1:5432"
	RedisAddr    = "127.0.0.1:6379"
)

// ProjectOptions configure StartProject.
type ProjectOptions struct {
	// Profile is the component set to run on (default Local).
	Profile Profile
	// Functions to start (default: all).
	Functions []string
	// Replicas of some functions (default: one each), each with its own
	// sidecar under the function's app-id.
	Replicas map[string]int
	// Schedulers and Brokers size the scheduler and broker clusters
	// (default: one node each).
	Schedulers, Brokers int
	// SweepSchedule of the reminder-sweep cron binding (default @every 1h,
	// so tests trigger sweeps themselves).
	SweepSchedule string
	// Env for every process.
	Env []string
	// Apps are more app-ids started as they are, after the functions. One
	// with no Binary runs only its sidecar, for an app the test serves
	// itself (a stand-in Chat API calling the functions through Dapr).
	Apps []Function
	// NotifyURL is where send-notification delivers, presenting Token
	// (default: the recording Webhook, with a token of its own).
	NotifyURL, Token string
}

// Project is a running project stack for a test.
type Project struct {
	*Stack
	Dir     string
	Run     *ProfileRun
	Webhook *Webhook
	// Token is the local webhook token, a secret the logs must never show.
	Token string
}

// ReceivedAt is the key under which Webhook stamps each delivery with the
// instant it arrived.
const ReceivedAt = "_received_at"

// TraceParent is the key under which Webhook records the traceparent
// header a delivery came with, when it had one.
const TraceParent = "_traceparent"

// Webhook is a local stand-in for the chat webhook that records what
// send-notification delivered. Like the real receiver it takes a delivery
// only with the bearer token and an Idempotency-Key equal to the
// notification's id; it records repeats, which a receiver drops by id.
type Webhook struct {
	mu    sync.Mutex
	got   []map[string]any
	fails int // deliveries refused: bad token, or no matching Idempotency-Key
	srv   *httptest.Server
}

// NewWebhook starts a stand-in webhook that accepts token; it stops when
// the test ends.
func NewWebhook(t TB, token string) *Webhook {
	hook := &Webhook{}
	hook.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &v) != nil || v == nil {
			v = map[string]any{"raw": string(body)}
		}
		hook.mu.Lock()
		defer hook.mu.Unlock()
		switch id, _ := v["id"].(string); {
		case r.Header.Get("Authorization") != "Bearer "+token:
			hook.fails++
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		case id == "" || r.Header.Get("Idempotency-Key") != id:
			hook.fails++
			http.Error(w, "Idempotency-Key must be the notification's id", http.StatusBadRequest)
			return
		}
		v[ReceivedAt] = time.Now().UTC().Format(time.RFC3339Nano)
		if tp := r.Header.Get("traceparent"); tp != "" {
			v[TraceParent] = tp
		}
		hook.got = append(hook.got, v)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.srv.Close)
	return hook
}

// URL is where notifications are posted.
func (w *Webhook) URL() string { return w.srv.URL + "/notify" }

// Refused is how many deliveries were refused.
func (w *Webhook) Refused() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fails
}

// Deliveries returns a copy of what was delivered so far.
func (w *Webhook) Deliveries() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]map[string]any(nil), w.got...)
}

// DeliveriesFor returns what was delivered so far for one task.
func (w *Webhook) DeliveriesFor(taskID string) []map[string]any {
	var out []map[string]any
	for _, d := range w.Deliveries() {
		if d["task_id"] == taskID {
			out = append(out, d)
		}
	}
	return out
}

// StartProject builds the functions and starts them, each with its
// sidecar, on a profile's components, with a recording webhook. It skips
// the test (or fails it, under REQUIRE_SERVICES=1) when the profile needs
// a service the machine does not run.
func StartProject(t TB, o ProjectOptions) *Project {
	t.Helper()
	SkipShort(t, "the project's stack")
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	if len(o.Functions) == 0 {
		o.Functions = Functions
	}
	if o.SweepSchedule == "" {
		o.SweepSchedule = "@every 1h"
	}
	if o.Profile == "" {
		o.Profile = Local
	}
	RequireProfile(t, o.Profile)
	dir := runDir(t)
	res := filepath.Join(dir, "resources")
	if err := o.Profile.WriteResources(root, res); err != nil {
		t.Fatalf("devstack: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := o.Profile.Prepare(ctx, root, dir, "t"+randomHex(6), 0)
	if err != nil {
		t.Fatalf("devstack: profile %s: %v", o.Profile, err)
	}
	t.Cleanup(func() {
		if err := run.Close(); err != nil {
			t.Logf("devstack: %v", err)
		}
	})
	env := append(append([]string(nil), o.Env...), run.Env...)
	token := o.Token
	if token == "" {
		token = "webhook-" + randomHex(12)
	}
	b, _ := json.Marshal(map[string]map[string]string{"notify-webhook": {"token": token}})
	if err := os.WriteFile(filepath.Join(dir, "secrets.json"), b, 0o600); err != nil {
		t.Fatalf("devstack: %v", err)
	}
	hook := NewWebhook(t, token)

	bins := BuildFunctions(t, filepath.Join(dir, "bin"), o.Functions...)
	var fns []Function
	for _, name := range o.Functions {
		env := append([]string{"LOG_LEVEL=debug", "DRAIN_QUIET_PERIOD=200ms"}, DeployedEnv(name)...)
		fns = append(fns, Replicate(Function{Name: name, Binary: bins[name], Env: env}, o.Replicas[name])...)
	}
	fns = append(fns, o.Apps...)
	notifyURL := o.NotifyURL
	if notifyURL == "" {
		notifyURL = hook.URL()
	}
	env = append(env, LocalEnv(dir, "", notifyURL, o.SweepSchedule)...)
	s := StartT(t, TestStack{Functions: fns, Resources: res, Dir: dir, Env: env, Services: run.Services, Schedulers: o.Schedulers, Brokers: o.Brokers})
	return &Project{Stack: s, Dir: dir, Run: run, Webhook: hook, Token: token}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Logs returns everything every process of the stack logged so far.
func (p *Project) Logs() string {
	var b strings.Builder
	for _, name := range p.Names() {
		data, _ := os.ReadFile(p.LogPath(name))
		b.Write(data)
	}
	return b.String()
}
