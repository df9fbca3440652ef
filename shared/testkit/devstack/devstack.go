// Package devstack runs the local topology of the project: a Kafka-protocol
// broker cluster, the Dapr scheduler (one node or a cluster), and each
// function with its own daprd sidecar (one app-id per function, as in
// production; several replicas each with its own sidecar under that
// app-id). `make run` and the integration tests both use it.
package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Function is one function of the stack and its sidecar's ports.
type Function struct {
	Name     string
	Binary   string // empty: the app runs elsewhere (e.g. in the test process)
	AppPort  int
	HTTPPort int // daprd HTTP API
	GRPCPort int // daprd gRPC API
	// MetricsPort serves the function's Prometheus metrics; 0 turns them
	// off.
	MetricsPort int
	// DaprProfilePort, when not 0, serves the sidecar's Go profiles
	// (daprd --enable-profiling) on that port: where a function's
	// requests spend their CPU in daprd.
	DaprProfilePort int
	Env             []string
	// Replica numbers the replicas of one app-id from 0 (see Replicate).
	Replica int
}

// URL is the function's own base URL.
func (f Function) URL() string { return "http://127.0.0.1:" + strconv.Itoa(f.AppPort) }

// InternalGRPCPort is where its sidecar talks to other sidecars.
func (f Function) InternalGRPCPort() int { return f.GRPCPort + 1000 }

// DaprURL is its sidecar's HTTP API base URL.
func (f Function) DaprURL() string { return "http://127.0.0.1:" + strconv.Itoa(f.HTTPPort) }

// Options describe a stack.
type Options struct {
	Dir          string // run folder: logs/, data, generated files
	BinDir       string // daprd, scheduler, broker
	ResourcesDir string // Dapr components, subscriptions, resiliency
	// ConfigFile is an optional Dapr Configuration for every sidecar; the
	// stack's own name resolution is added to it unless it sets one.
	ConfigFile string
	BrokerPort int
	// Brokers in the broker cluster, on BrokerPort and the ports after it
	// (0 means 1); Partitions of each topic (0: the broker's default).
	Brokers    int
	Partitions int
	SchedPort  int
	// SchedPeerPorts are the base ports of further scheduler nodes: with
	// two, the scheduler is a three-node cluster (see scheduler.go).
	SchedPeerPorts []int
	// SentryPort, when set, runs the Dapr sentry from BinDir on it (and
	// its health endpoint on the next port) and turns mTLS on for the
	// scheduler and every sidecar, as in a cluster: sidecars then know
	// their callers' app-ids, which access-control policies need.
	SentryPort int
	Functions  []Function
	// Env is added to every process: LOCAL_* values the components read
	// through envRef, tokens, and so on.
	Env []string
	// BrokerDataDir keeps the broker's log on disk across restarts.
	BrokerDataDir string
	// ReadyTimeout bounds the wait for every process to be healthy.
	ReadyTimeout time.Duration
	// Services are more infrastructure a profile needs (a NATS server).
	Services []Service
}

// Stack is a running topology.
type Stack struct {
	opts      Options
	mu        sync.Mutex
	procs     map[string]*proc
	order     []string
	Functions map[string]Function
}

type proc struct {
	name    string
	args    []string
	env     []string
	logPath string
	health  string // URL answering 2xx when ready
	cmd     *exec.Cmd
	done    chan struct{}
}

// Start launches every process and waits until all are healthy. On error
// it stops what it started.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 90 * time.Second
	}
	for _, dir := range []string{o.Dir, filepath.Join(o.Dir, "logs")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	need := []string{"daprd", "scheduler", "broker"}
	if o.SentryPort != 0 {
		need = append(need, "sentry")
	}
	for _, b := range need {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return nil, fmt.Errorf("%s not built in %s (run `make tools`): %w", b, o.BinDir, err)
		}
	}
	if err := checkPorts(o); err != nil {
		return nil, err
	}
	var err error
	if o.ConfigFile, err = withNameResolution(o.Dir, o.ConfigFile); err != nil {
		return nil, err
	}
	s := &Stack{opts: o, procs: map[string]*proc{}, Functions: map[string]Function{}}
	var sidecarEnv []string
	if o.SentryPort != 0 {
		s.add(s.sentryProc())
		anchors, err := s.bootstrapCA(ctx)
		if err != nil {
			return nil, err
		}
		sidecarEnv = mtlsEnv(anchors)
	}
	s.add(s.brokerProc())
	// Every scheduler node starts before any is waited for: an etcd
	// member is healthy only once a quorum has formed.
	for _, p := range s.schedulerProcs() {
		s.add(p)
	}
	for _, svc := range o.Services {
		s.add(&proc{name: svc.Name, args: svc.Args, health: svc.Health})
	}
	infra := len(s.order) // what every sidecar needs at its start
	for _, f := range o.Functions {
		if f.Replica == 0 {
			s.Functions[f.Name] = f
		}
		if f.Binary != "" {
			s.add(s.appProc(f))
		}
		s.add(s.sidecarProc(f, sidecarEnv))
	}
	// Sentry, the broker and the scheduler first: sidecars fetch their
	// identity, load pub/sub components and connect to the scheduler at
	// start. Then the first sidecar alone: it creates the state stores'
	// tables, which many sidecars creating at once (a scaled-out stack)
	// can time out over on a busy machine.
	first := slices.IndexFunc(s.order[infra:], func(n string) bool { return strings.HasSuffix(n, "-dapr") }) + infra
	for i, name := range s.order {
		if err := s.start(name); err != nil {
			s.Stop()
			return nil, err
		}
		var wait []string
		switch i {
		case infra - 1:
			wait = s.order[:infra]
		case first:
			wait = s.order[infra : first+1]
		}
		if err := s.waitHealthy(ctx, wait); err != nil {
			s.Stop()
			return nil, err
		}
		if i == infra-1 {
			if err := servicesReady(ctx, o.Services); err != nil {
				s.Stop()
				return nil, err
			}
		}
	}
	if err := s.waitHealthy(ctx, s.order); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// NameResolution is the spec.nameResolution of a Dapr Configuration that
// resolves app-ids through a SQLite file of the stack's own, under dir.
// Dapr's default resolver (mDNS) answers across the whole machine, so two
// stacks at once (make run and a test, or two test packages) would share
// app-ids and serve each other's calls.
//
// A sidecar's entry expires updateInterval after its last renewal, and it
// renews every updateInterval - timeout - 1s. With the defaults (5s, 1s)
// a renewal that runs a second late on a busy machine makes the app-id
// unknown for a moment ("no host found"); these settings leave six.
func NameResolution(dir string) map[string]any {
	return map[string]any{
		"component": "sqlite",
		"version":   "v1",
		"configuration": map[string]any{
			"connectionString": filepath.Join(dir, "nameresolution.db"),
			"updateInterval":   "10s",
			"timeout":          "5s",
			"busyTimeout":      "2s",
		},
	}
}

func (s *Stack) add(p *proc) {
	p.logPath = filepath.Join(s.opts.Dir, "logs", p.name+".log")
	s.procs[p.name] = p
	s.order = append(s.order, p.name)
}

func (s *Stack) appProc(f Function) *proc {
	env := append([]string{
		"PORT=" + strconv.Itoa(f.AppPort),
		"METRICS_PORT=" + strconv.Itoa(f.MetricsPort),
		"DAPR_HTTP_PORT=" + strconv.Itoa(f.HTTPPort),
		"DAPR_GRPC_PORT=" + strconv.Itoa(f.GRPCPort),
	}, f.Env...)
	return &proc{name: f.Proc(), args: []string{f.Binary}, env: env, health: f.URL() + "/healthz"}
}

func (s *Stack) sidecarProc(f Function, env []string) *proc {
	return &proc{name: f.Proc() + "-dapr", args: s.SidecarArgs(f), env: append(append([]string(nil), env...), f.Env...), health: f.DaprURL() + "/v1.0/healthz"}
}

// SidecarArgs is the daprd command line (binary first) of f's sidecar in
// this stack, for a caller that starts one itself.
func (s *Stack) SidecarArgs(f Function) []string {
	args := []string{
		filepath.Join(s.opts.BinDir, "daprd"),
		"--app-id", f.Name,
		"--app-port", strconv.Itoa(f.AppPort),
		"--app-protocol", "http",
		"--app-channel-address", "127.0.0.1",
		"--dapr-listen-addresses", "127.0.0.1",
		"--dapr-http-port", strconv.Itoa(f.HTTPPort),
		"--dapr-grpc-port", strconv.Itoa(f.GRPCPort),
		"--dapr-internal-grpc-port", strconv.Itoa(f.InternalGRPCPort()),
		"--enable-metrics=false",
		"--resources-path", s.opts.ResourcesDir,
		"--scheduler-host-address", strings.Join(s.SchedulerAddrs(), ","),
		"--placement-host-address", "",
		"--log-as-json",
	}
	if s.opts.ConfigFile != "" {
		args = append(args, "--config", s.opts.ConfigFile)
	}
	if s.opts.SentryPort != 0 {
		args = append(args, "--enable-mtls", "--sentry-address", s.SentryAddr())
	}
	if f.DaprProfilePort != 0 {
		args = append(args, "--enable-profiling", "--profile-port", strconv.Itoa(f.DaprProfilePort))
	}
	return args
}

func (s *Stack) start(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[name]
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = append(append(os.Environ(), s.opts.Env...), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Children die with the supervisor, even on SIGKILL, so a crashed run
	// leaves no process holding a port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The child writes the log; closing the supervisor's copy of the file
	// can fail in no way that matters.
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		_ = logf.Close()
		close(done)
	}(p.done)
	return nil
}

func (s *Stack) waitHealthy(ctx context.Context, names []string) error {
	deadline := time.Now().Add(s.opts.ReadyTimeout)
	client := &http.Client{Timeout: time.Second}
	for _, name := range names {
		p := s.procs[name]
		for {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited during start-up; see %s:\n%s", name, p.logPath, Tail(p.logPath, 15))
			default:
			}
			if healthy(ctx, client, p.health) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not healthy after %s; see %s:\n%s", name, s.opts.ReadyTimeout, p.logPath, Tail(p.logPath, 15))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func healthy(ctx context.Context, c *http.Client, target string) bool {
	if addr, ok := strings.CutPrefix(target, "tcp://"); ok {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

// Kill sends SIGKILL to one process (e.g. "broker", "create-task",
// "create-task-dapr") and waits for it to die.
func (s *Stack) Kill(name string) error {
	p, err := s.started(name)
	if err != nil {
		return err
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return nil
}

// started is the named process, once it was started.
func (s *Stack) started(name string) (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.procs[name]
	if !ok || p.cmd == nil {
		return nil, fmt.Errorf("no process %q", name)
	}
	return p, nil
}

// Restart starts a killed process again and waits until it is healthy.
func (s *Stack) Restart(ctx context.Context, name string) error {
	if err := s.start(name); err != nil {
		return err
	}
	return s.waitHealthy(ctx, []string{name})
}

// Stop ends every process: SIGTERM, then SIGKILL after 10 s.
func (s *Stack) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.order) - 1; i >= 0; i-- {
		p := s.procs[s.order[i]]
		if p.cmd == nil {
			continue
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	}
	for _, name := range s.order {
		p := s.procs[name]
		if p.cmd == nil {
			continue
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

// PID is the process id of the named process, or 0 if it never started.
func (s *Stack) PID(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.procs[name]; ok && p.cmd != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

// LogPath is where the named process writes its log.
func (s *Stack) LogPath(name string) string { return s.procs[name].logPath }

// Names lists the processes in start order.
func (s *Stack) Names() []string { return append([]string(nil), s.order...) }

// Manifest is what `make run` writes to .run/stack.json. Broker,
// Scheduler and Functions name the first broker, scheduler node and
// replica, as they did before there could be more; Brokers, Schedulers
// and Replicas list them all.
type Manifest struct {
	Broker     string                        `json:"broker"`
	Brokers    []string                      `json:"brokers"`
	Scheduler  string                        `json:"scheduler"`
	Schedulers []string                      `json:"schedulers"`
	Sentry     string                        `json:"sentry,omitempty"` // set when mTLS is on
	Functions  map[string]ManifestFunction   `json:"functions"`
	Replicas   map[string][]ManifestFunction `json:"replicas"`
}

// ManifestFunction locates one function and its sidecar.
type ManifestFunction struct {
	URL      string `json:"url"`
	DaprHTTP string `json:"dapr_http"`
	DaprGRPC string `json:"dapr_grpc"`
	Log      string `json:"log"`
	AppLog   string `json:"app_log,omitempty"` // empty when the app runs elsewhere
}

// Manifest describes the running stack.
func (s *Stack) Manifest() Manifest {
	m := Manifest{
		Broker: s.BrokerAddr(), Brokers: s.BrokerAddrs(), Scheduler: s.SchedulerAddr(), Schedulers: s.SchedulerAddrs(), Sentry: s.SentryAddr(),
		Functions: map[string]ManifestFunction{}, Replicas: map[string][]ManifestFunction{},
	}
	for name := range s.Functions {
		for _, f := range s.Replicas(name) {
			mf := ManifestFunction{
				URL:      f.URL(),
				DaprHTTP: f.DaprURL(),
				DaprGRPC: "127.0.0.1:" + strconv.Itoa(f.GRPCPort),
				Log:      s.procs[f.Proc()+"-dapr"].logPath,
			}
			if p, ok := s.procs[f.Proc()]; ok {
				mf.AppLog = p.logPath
			}
			if f.Replica == 0 {
				m.Functions[name] = mf
			}
			m.Replicas[name] = append(m.Replicas[name], mf)
		}
	}
	return m
}

// WriteManifest writes the manifest as indented JSON.
func (s *Stack) WriteManifest(path string) error {
	b, err := json.MarshalIndent(s.Manifest(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Table renders what runs where, one replica a line.
func (s *Stack) Table() string {
	names := make([]string, 0, len(s.Functions))
	for n := range s.Functions {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %-24s %-24s %-16s %s\n", "FUNCTION", "URL", "DAPR HTTP", "DAPR gRPC", "METRICS")
	for _, n := range names {
		for _, f := range s.Replicas(n) {
			fmt.Fprintf(&b, "%-20s %-24s %-24s 127.0.0.1:%-6d %d\n", f.Proc(), f.URL(), f.DaprURL(), f.GRPCPort, f.MetricsPort)
		}
	}
	fmt.Fprintf(&b, "%-20s %s\n%-20s %s\n", "broker (Kafka)", strings.Join(s.BrokerAddrs(), ", "), "scheduler", strings.Join(s.SchedulerAddrs(), ", "))
	if s.opts.SentryPort != 0 {
		fmt.Fprintf(&b, "%-20s %s (mTLS on)\n", "sentry", s.SentryAddr())
	}
	return b.String()
}

// ports lists every port a stack listens on, with its owner.
func ports(o Options) map[int]string {
	m := map[int]string{}
	brokerPorts(o, m)
	if o.SentryPort != 0 {
		m[o.SentryPort], m[o.SentryPort+1] = "sentry", "sentry healthz"
	}
	schedulerPorts(o, m)
	for _, f := range o.Functions {
		if f.Binary != "" {
			m[f.AppPort] = f.Proc()
			if f.MetricsPort != 0 {
				m[f.MetricsPort] = f.Proc() + " metrics"
			}
		}
		m[f.HTTPPort] = f.Proc() + " sidecar HTTP"
		m[f.GRPCPort] = f.Proc() + " sidecar gRPC"
		m[f.InternalGRPCPort()] = f.Proc() + " sidecar internal gRPC"
	}
	return m
}

// ErrPortInUse is returned when a port the stack needs is taken.
var ErrPortInUse = errors.New("port in use")

func checkPorts(o Options) error {
	var taken []string
	for port, owner := range ports(o) {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			taken = append(taken, fmt.Sprintf("%d (%s)", port, owner))
			continue
		}
		ln.Close()
	}
	if len(taken) > 0 {
		sort.Strings(taken)
		return fmt.Errorf("%w: %s", ErrPortInUse, strings.Join(taken, ", "))
	}
	return nil
}

// Tail returns the last n lines of a file.
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }() // read only
	if st, err := f.Stat(); err == nil && st.Size() > 64<<10 {
		_, _ = f.Seek(-64<<10, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
