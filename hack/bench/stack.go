package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/todo-chatbot/functions/hack/bench/proc"
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// App-ids of the bench's own sidecars. bench-caller stands for the Chat
// API: a caller with a sidecar and no function of its own (its app only
// answers daprd's start-up calls). bench-sub is a tiny function, built on
// shared/runtime/fn, that subscribes to the bench topic and receives the bench's
// Dapr jobs.
const (
	callerID   = "bench-caller"
	subID      = "bench-sub"
	benchPS    = "bench-pubsub"
	benchTopic = "bench.events"
	storePG    = "bench-pg"
	storeRedis = "bench-redis"
)

// stackSpec is what a bench stack runs besides the broker, the scheduler
// and bench-caller.
type stackSpec struct {
	functions []string // project functions, each with its sidecar
	// scenarios adds what the pub/sub, reminder and state benchmarks
	// drive: bench-sub, the bench's pub/sub and its state stores.
	scenarios bool
	mtls      bool // the Dapr sentry, and mTLS between every sidecar
	// partitions of each topic (0: the broker's default).
	partitions int
	env        []string // added to every project function's
}

var (
	// benchStack runs every benchmark: the project functions of the
	// create-task → fire-reminder → send-notification path and both
	// bench apps.
	benchStack = stackSpec{functions: []string{"create-task", "fire-reminder", "send-notification"}, scenarios: true}
	// hopStack is only what the sidecar hop needs, bench-caller →
	// create-task, with mTLS on as in a cluster and in Dapr's published
	// figure.
	hopStack = stackSpec{functions: []string{"create-task"}, mtls: true}
)

type stack struct {
	*devstack.Stack
	root, dir, bin, res string
	env                 []string // what every process of the stack gets
	caller, sub         devstack.Function
	callerDapr          dapr.Client // bench-caller's sidecar, gRPC
	subDapr             dapr.Client // bench-sub's sidecar, gRPC
	admin               *kgo.Client // offset queries to the broker
	hook                *webhook
	subApp              *subscriber
	pg, redis           bool
	spec                stackSpec
	stores              devstack.Stores // behind the tasks and dedupe components
	prefix              string          // of every table and key the bench creates
	servers             []*http.Server
	pprof               map[string]int // each project function's PPROF_PORT, and its daprd's profile port
	stopSub             context.CancelFunc
	subDone             chan struct{}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// freePort reserves one free loopback port (devstack never hands a port
// out twice).
func freePort() (int, error) {
	ps, err := devstack.FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// newFunction gives name free ports for itself and its sidecar.
func newFunction(name, binary string) (devstack.Function, error) {
	// A project function runs with the parallelism the chart gives its pod.
	f := devstack.Function{Name: name, Binary: binary, Env: devstack.DeployedEnv(name)}
	var err error
	if f.AppPort, err = freePort(); err != nil {
		return f, err
	}
	if f.HTTPPort, err = freePort(); err != nil {
		return f, err
	}
	f.GRPCPort, err = devstack.FreeGRPCPort()
	return f, err
}

// startStack starts the broker, the scheduler, the project functions of
// spec and the bench's own apps, each with its sidecar, on bindings/local
// (SQLite) plus the bench's components.
func startStack(ctx context.Context, root, bin string, stores devstack.Stores, spec stackSpec, keep bool) (*stack, error) {
	dir, err := os.MkdirTemp("", "todo-bench-")
	if err != nil {
		return nil, err
	}
	s := &stack{root: root, dir: dir, bin: bin, res: filepath.Join(dir, "resources"), prefix: "bench_" + randomHex(4) + "_", stores: stores, spec: spec}
	ok := false
	defer func() {
		if !ok {
			s.close(keep)
		}
	}()
	s.pg, s.redis = reachable(devstack.PostgresAddr), reachable(devstack.RedisAddr)
	if stores == devstack.PostgresRedis && (!s.pg || !s.redis) {
		return nil, fmt.Errorf("stores %s: PostgreSQL (%s) and Redis (%s) must both run", stores, devstack.PostgresAddr, devstack.RedisAddr)
	}
	if err := s.writeResources(); err != nil {
		return nil, err
	}
	sched, err := devstack.FreeBlock(6)
	if err != nil {
		return nil, err
	}
	var fns []devstack.Function
	s.pprof = map[string]int{}
	for _, name := range spec.functions {
		f, err := newFunction(name, filepath.Join(bin, name))
		if err != nil {
			return nil, err
		}
		if s.pprof[name], err = freePort(); err != nil {
			return nil, err
		}
		if f.DaprProfilePort, err = freePort(); err != nil {
			return nil, err
		}
		s.pprof[name+"-dapr"] = f.DaprProfilePort
		f.Env = append(f.Env, append([]string{"LOG_LEVEL=info", "DRAIN_QUIET_PERIOD=200ms", "PPROF_PORT=" + strconv.Itoa(s.pprof[name])}, spec.env...)...)
		fns = append(fns, f)
	}
	if s.caller, err = newFunction(callerID, ""); err != nil {
		return nil, err
	}
	fns = append(fns, s.caller)
	if spec.scenarios {
		if s.sub, err = newFunction(subID, ""); err != nil {
			return nil, err
		}
		fns = append(fns, s.sub)
	}

	token := "bench-" + randomHex(12)
	b, _ := json.Marshal(map[string]map[string]string{"notify-webhook": {"token": token}})
	if err := os.WriteFile(filepath.Join(dir, "secrets.json"), b, 0o600); err != nil {
		return nil, err
	}
	hookPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s.hook = newWebhook(token)
	if err := s.serve(hookPort, s.hook); err != nil {
		return nil, err
	}
	// bench-caller's app only answers daprd: no subscriptions, no config.
	if err := s.serve(s.caller.AppPort, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dapr/subscribe" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "[]")
			return
		}
		w.WriteHeader(http.StatusNotFound)
	})); err != nil {
		return nil, err
	}
	if spec.scenarios {
		if err := s.startSubscriber(); err != nil {
			return nil, err
		}
	}

	broker := "127.0.0.1:" + strconv.Itoa(sched+5)
	s.env = devstack.LocalEnv(dir, broker, fmt.Sprintf("http://127.0.0.1:%d/notify", hookPort), "@every 1h")
	if stores == devstack.PostgresRedis {
		// As devstack.StartProject's variant: tables of the run's own.
		s.env = append(s.env,
			"LOCAL_PG_CONNECTION="+pgConn,
			"LOCAL_PG_TABLE_PREFIX="+s.prefix+"t_",
			"LOCAL_PG_METADATA_TABLE="+s.prefix+"t_metadata",
			"LOCAL_REDIS_HOST="+devstack.RedisAddr,
		)
	}
	sentry := 0
	if spec.mtls {
		if sentry, err = devstack.FreeBlock(2); err != nil {
			return nil, err
		}
	}
	st, err := devstack.Start(ctx, devstack.Options{
		Dir:          dir,
		BinDir:       bin,
		ResourcesDir: s.res,
		BrokerPort:   sched + 5,
		Partitions:   spec.partitions,
		SchedPort:    sched,
		SentryPort:   sentry,
		Functions:    fns,
		Env:          s.env,
		ReadyTimeout: 3 * time.Minute,
	})
	if err != nil {
		return nil, err
	}
	s.Stack = st
	if s.callerDapr, err = sidecar.Dial(sidecar.Config{Host: "127.0.0.1", HTTPPort: s.caller.HTTPPort, GRPCPort: s.caller.GRPCPort}); err != nil {
		return nil, err
	}
	if spec.scenarios {
		if s.subDapr, err = sidecar.Dial(sidecar.Config{Host: "127.0.0.1", HTTPPort: s.sub.HTTPPort, GRPCPort: s.sub.GRPCPort}); err != nil {
			return nil, err
		}
	}
	if s.admin, err = newAdmin(broker); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// serve runs h on 127.0.0.1:port until the stack closes.
func (s *stack) serve(port int, h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return nil
}

func (s *stack) close(keep bool) {
	if s.callerDapr != nil {
		s.callerDapr.Close()
	}
	if s.subDapr != nil {
		s.subDapr.Close()
	}
	if s.admin != nil {
		s.admin.Close()
	}
	if s.Stack != nil {
		s.Stop()
	}
	s.cleanupStores()
	if s.stopSub != nil {
		s.stopSub()
		select {
		case <-s.subDone:
		case <-time.After(10 * time.Second):
		}
	}
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	if keep {
		fmt.Fprintln(os.Stderr, "bench: run folder kept:", s.dir)
		return
	}
	_ = os.RemoveAll(s.dir)
}

// writeResources copies bindings/local and, for the benchmarks that use
// them, adds the bench's components: a Kafka pub/sub for its two apps,
// and PostgreSQL and Redis state stores on bench-caller's sidecar when
// those servers run.
func (s *stack) writeResources() error {
	profile := devstack.Local
	if s.stores == devstack.PostgresRedis {
		profile = devstack.KafkaPostgres
	}
	if err := profile.WriteResources(s.root, s.res); err != nil {
		return err
	}
	if !s.spec.scenarios {
		return nil
	}
	files := map[string]string{"bench-pubsub.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ` + benchPS + `
spec:
  type: pubsub.kafka
  version: v1
  metadata:
    - name: brokers
      envRef: LOCAL_KAFKA_BROKERS
    - name: authType
      value: "none"
    - name: disableTls
      value: "true"
    - name: initialOffset
      value: "oldest"
    - name: consumeRetryInterval
      value: "200ms"
scopes:
  - ` + callerID + `
  - ` + subID + `
`}
	if s.pg {
		// As bindings/profiles/kafka-postgres/tasks.yaml, on tables of its own.
		files["bench-pg.yaml"] = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ` + storePG + `
spec:
  type: state.postgresql
  version: v2
  metadata:
    - name: connectionString
      value: "` + pgConn + `"
    - name: tablePrefix
      value: "` + s.prefix + `"
    - name: metadataTableName
      value: "` + s.prefix + `metadata"
    - name: keyPrefix
      value: none
scopes:
  - ` + callerID + `
`
	}
	if s.redis {
		// As bindings/profiles/kafka-postgres/dedupe.yaml.
		files["bench-redis.yaml"] = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ` + storeRedis + `
spec:
  type: state.redis
  version: v1
  metadata:
    - name: redisHost
      value: "` + devstack.RedisAddr + `"
    - name: keyPrefix
      value: none
scopes:
  - ` + callerID + `
`
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(s.res, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

const pgConn = "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable"

// procNames lists the stack's processes and the bench process itself.
func (s *stack) procNames() []string { return append(s.Names(), "bench") }

// samples reads the CPU and memory of the named processes; a process that
// cannot be read is left out.
func (s *stack) samples(names []string) map[string]proc.Sample {
	out := make(map[string]proc.Sample, len(names))
	for _, n := range names {
		if smp, err := proc.Read(s.pid(n)); err == nil {
			out[n] = smp
		}
	}
	return out
}

// pid of a stack process, or of the bench process itself ("bench").
func (s *stack) pid(name string) int {
	if name == "bench" {
		return os.Getpid()
	}
	return s.PID(name)
}

// webhook stands in for the chat webhook: it checks the bearer token
// send-notification read from the secret store and records when each
// reminder notification arrived.
type webhook struct {
	token string
	mu    sync.Mutex
	got   map[string][]delivery // by task id
	bad   int
}

type delivery struct {
	RemindAt time.Time
	At       time.Time
}

func newWebhook(token string) *webhook { return &webhook{token: token, got: map[string][]delivery{}} }

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	at := time.Now()
	if r.Header.Get("Authorization") != "Bearer "+w.token {
		w.mu.Lock()
		w.bad++
		w.mu.Unlock()
		http.Error(rw, "unauthorized", http.StatusUnauthorized)
		return
	}
	var n struct {
		TaskID   string     `json:"task_id"`
		RemindAt *time.Time `json:"remind_at"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if json.Unmarshal(body, &n) == nil && n.TaskID != "" && n.RemindAt != nil {
		w.mu.Lock()
		w.got[n.TaskID] = append(w.got[n.TaskID], delivery{RemindAt: *n.RemindAt, At: at})
		w.mu.Unlock()
	}
	rw.WriteHeader(http.StatusNoContent)
}

// deliveries returns what arrived for the given tasks.
func (w *webhook) deliveries(ids map[string]bool) map[string][]delivery {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]delivery{}
	for id, d := range w.got {
		if ids[id] {
			out[id] = append([]delivery(nil), d...)
		}
	}
	return out
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// profile starts a CPU profile of every project function and its daprd, lasting a
// second less than a step of seconds, and returns what waits for them and
// gives the top of each (go tool pprof -top), by function.
func (s *stack) profile(ctx context.Context, seconds float64, logf func(string, ...any)) func() map[string]string {
	secs := max(1, int(seconds)-1)
	type result struct{ name, top string }
	ch := make(chan result, len(s.pprof))
	for name, port := range s.pprof {
		go func() {
			url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", port, secs)
			top, err := profileTop(ctx, url, filepath.Join(s.dir, name+".pprof"))
			if err != nil {
				logf("profile of %s: %v", name, err)
			}
			ch <- result{name, top}
		}()
	}
	return func() map[string]string {
		out := map[string]string{}
		for range len(s.pprof) {
			if r := <-ch; r.top != "" {
				out[r.name] = r.top
			}
		}
		return out
	}
}

// profileTop fetches a CPU profile into file and returns its ten heaviest
// functions by own time, as go tool pprof -top lists them.
func profileTop(ctx context.Context, url, file string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=10", file).Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w", err)
	}
	// From the column headings on: the file's path and the time are noise.
	top := string(out)
	i := strings.Index(top, "      flat")
	if i < 0 || strings.Count(top[i:], "\n") < 2 {
		return "", nil // no sample: the function had nothing to do
	}
	return strings.TrimRight(top[i:], "\n"), nil
}
