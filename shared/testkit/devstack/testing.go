package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
)

// TB is the part of testing.TB the helpers use (so this package does not
// link the testing package into `make run`).
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	TempDir() string
	Cleanup(func())
}

// RequireServicesEnv, when set to 1, turns every "service not running" skip
// into a failure. CI sets it.
const RequireServicesEnv = "REQUIRE_SERVICES"

// SkipShort skips the test under `go test -short`, which runs the unit
// tests alone: what needs runs daprd, a broker, a built function or a
// service. Every helper here that starts or reaches one calls it first.
func SkipShort(t TB, needs string) {
	t.Helper()
	if short() {
		t.Skipf("SKIPPED under -short: needs %s", needs)
	}
}

// short reads the testing package's -test.short flag through the flag
// set, so that this package does not link testing into `make run`.
func short() bool {
	f := flag.Lookup("test.short")
	return f != nil && f.Value.String() == "true"
}

// RepoRoot finds the module root (the folder holding the root go.mod).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/todo-chatbot/functions\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("module root not found above the working directory")
		}
		dir = parent
	}
}

// portRange is where test stacks take their ports: below the kernel's
// ephemeral range. Outgoing connections (a sidecar dialling the broker)
// take ports from that range at any moment, so a port found free there
// could be taken before the process meant for it binds it.
func portRange() (lo, hi int) {
	lo, hi = 15000, 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	var eLo, eHi int
	if _, err := fmt.Sscan(string(b), &eLo, &eHi); err == nil && eLo > lo+5000 {
		hi = eLo
	}
	return lo, hi
}

// Ports handed out stay reserved: for the life of this process in
// memory, and for portClaimTTL across processes through a file per port,
// so that two stacks starting at once (in this test binary or in another
// package's) never get the same port before their processes bind it.
var (
	portsMu  sync.Mutex
	claimed  = map[int]bool{}
	claimDir = filepath.Join(os.TempDir(), "devstack-ports")
)

// portClaimTTL bounds how long another process's claim on a port is
// honoured: by then the process it was meant for has bound it, or never
// will.
const portClaimTTL = 5 * time.Minute

// claim reserves port for this process, if it is free and unclaimed.
func claim(port int) bool {
	if claimed[port] || !isFree(port) {
		return false
	}
	path := filepath.Join(claimDir, strconv.Itoa(port))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, fs.ErrExist) {
		if st, serr := os.Stat(path); serr != nil || time.Since(st.ModTime()) < portClaimTTL {
			return false
		}
		// A stale claim: take it over.
		if os.Remove(path) != nil {
			return false
		}
		f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	}
	if err != nil {
		return false
	}
	if f.Close() != nil {
		return false
	}
	claimed[port] = true
	return true
}

// freeAt reserves and returns a port p such that p+off is free on
// 127.0.0.1 for every offset.
func freeAt(offsets ...int) (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	if err := os.MkdirAll(claimDir, 0o755); err != nil {
		return 0, fmt.Errorf("port claims: %w", err)
	}
	lo, hi := portRange()
	span := slices.Max(offsets)
	for try := 0; try < 200; try++ {
		p := lo + rand.IntN(hi-lo-span)
		var got []int
		for _, off := range offsets {
			if !claim(p + off) {
				break
			}
			got = append(got, p+off)
		}
		if len(got) == len(offsets) {
			return p, nil
		}
		for _, q := range got {
			delete(claimed, q)
			// A claim left behind expires after portClaimTTL.
			_ = os.Remove(filepath.Join(claimDir, strconv.Itoa(q)))
		}
	}
	return 0, fmt.Errorf("no free ports at offsets %v in %d-%d", offsets, lo, hi)
}

// FreePorts returns n distinct ports free on 127.0.0.1 right now, outside
// the ephemeral range, and reserves them.
func FreePorts(n int) ([]int, error) {
	out := make([]int, n)
	for i := range out {
		p, err := freeAt(0)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// FreeBlock returns a base port p such that p..p+size-1 are free.
func FreeBlock(size int) (int, error) {
	offsets := make([]int, size)
	for i := range offsets {
		offsets[i] = i
	}
	return freeAt(offsets...)
}

// FreeGRPCPort returns a port p free together with p+1000, which a
// stack's sidecar takes as its internal gRPC port.
func FreeGRPCPort() (int, error) { return freeAt(0, 1000) }

// LocalEnv is the environment bindings/local's components read through
// envRef, for a stack whose data lives under dir.
func LocalEnv(dir, broker, notifyURL, sweepSchedule string) []string {
	return []string{
		"LOCAL_KAFKA_BROKERS=" + broker,
		"LOCAL_TASKS_DB=" + filepath.Join(dir, "tasks.db"),
		"LOCAL_DEDUPE_DB=" + filepath.Join(dir, "dedupe.db"),
		"LOCAL_SECRETS_FILE=" + filepath.Join(dir, "secrets.json"),
		"LOCAL_NOTIFY_URL=" + notifyURL,
		"LOCAL_SWEEP_SCHEDULE=" + sweepSchedule,
	}
}

// TestStack is what StartT takes: the functions by name, and how to run
// them.
type TestStack struct {
	// Functions to start with a sidecar each (several replicas of one are
	// entries of the same Name, see Replicate). A name with no Binary runs
	// only its sidecar, for an app the test serves itself. Zero ports are
	// picked free.
	Functions []Function
	// Resources is the folder of Dapr resources to load as they are.
	Resources string
	// Config is an optional Dapr Configuration file for every sidecar.
	Config string
	Env    []string
	// Dir, if set, is the run folder; otherwise a fresh temporary one.
	Dir           string
	BrokerDataDir string
	// Schedulers is the scheduler's node count and Brokers the broker
	// cluster's size (0 means 1); Partitions of each topic (0: the
	// broker's default).
	Schedulers, Brokers, Partitions int
	// Services are more infrastructure processes (a profile's).
	Services []Service
}

// StartT starts a stack for a test on free ports and stops it when the test
// ends, printing the tail of every log if the test failed.
func StartT(t TB, ts TestStack) *Stack {
	t.Helper()
	SkipShort(t, "a stack of daprd sidecars")
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	if ts.Dir == "" {
		ts.Dir = runDir(t)
	}
	base, err := FreeBlock(5)
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	var peers []int
	for i := 1; i < ts.Schedulers; i++ {
		p, err := FreeBlock(5)
		if err != nil {
			t.Fatalf("devstack: %v", err)
		}
		peers = append(peers, p)
	}
	// The brokers, and the admin port after them when there are several.
	span := max(ts.Brokers, 1)
	if span > 1 {
		span++
	}
	broker, err := FreeBlock(span)
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	fns := make([]Function, len(ts.Functions))
	for i, f := range ts.Functions {
		p, err := FreePorts(3)
		if err != nil {
			t.Fatalf("devstack: %v", err)
		}
		if f.AppPort == 0 {
			f.AppPort = p[0]
		}
		if f.HTTPPort == 0 {
			f.HTTPPort = p[1]
		}
		if f.MetricsPort == 0 && f.Binary != "" {
			f.MetricsPort = p[2]
		}
		if f.GRPCPort == 0 {
			if f.GRPCPort, err = FreeGRPCPort(); err != nil {
				t.Fatalf("devstack: %v", err)
			}
		}
		fns[i] = f
	}
	o := Options{
		Dir:            ts.Dir,
		BinDir:         filepath.Join(root, "bin"),
		ResourcesDir:   ts.Resources,
		ConfigFile:     ts.Config,
		BrokerPort:     broker,
		Brokers:        ts.Brokers,
		Partitions:     ts.Partitions,
		SchedPort:      base,
		SchedPeerPorts: peers,
		Functions:      fns,
		BrokerDataDir:  ts.BrokerDataDir,
		Services:       ts.Services,
	}
	// The brokers' addresses are known only here; later entries win.
	o.Env = append(append([]string(nil), ts.Env...), "LOCAL_KAFKA_BROKERS="+strings.Join(o.BrokerAddrs(), ","))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			for _, name := range s.Names() {
				t.Logf("---- last lines of %s ----\n%s", name, Tail(s.LogPath(name), 40))
			}
		}
	})
	return s
}

// KeepEnv, set to 1, keeps each test stack's folder (logs, data) after the
// test instead of removing it, and says where it is.
const KeepEnv = "DEVSTACK_KEEP"

func runDir(t TB) string {
	if os.Getenv(KeepEnv) != "1" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "devstack-")
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	t.Logf("devstack: %s=1, keeping the stack folder %s", KeepEnv, dir)
	return dir
}

func isFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// BuildFunctions compiles the named functions into dir and returns their
// paths by name.
func BuildFunctions(t TB, dir string, names ...string) map[string]string {
	t.Helper()
	SkipShort(t, "the functions built")
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, n := range names {
		args = append(args, "./functions/"+n)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building functions: %v\n%s", err, out)
	}
	bins := map[string]string{}
	for _, n := range names {
		bins[n] = filepath.Join(dir, n)
	}
	return bins
}

// Describe builds the named functions and asks each what it serves (its
// binary's -describe), as its code declared it.
func Describe(t TB, names ...string) map[string]fn.Description {
	t.Helper()
	out := map[string]fn.Description{}
	for name, bin := range BuildFunctions(t, runDir(t), names...) {
		b, err := exec.Command(bin, "-describe").Output()
		if err != nil {
			t.Fatalf("devstack: %s -describe: %v", name, err)
		}
		var d fn.Description
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("devstack: %s -describe: %v", name, err)
		}
		out[name] = d
	}
	return out
}

// RequireTCP skips the test when nothing listens on addr, unless
// REQUIRE_SERVICES=1, where it fails instead.
func RequireTCP(t TB, service, addr string) {
	t.Helper()
	SkipShort(t, service)
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
		return
	}
	Unavailable(t, fmt.Sprintf("%s not reachable at %s (%v)", service, addr, err))
}

// Unavailable skips the test because what it needs is missing, or fails
// it under REQUIRE_SERVICES=1.
func Unavailable(t TB, what string) {
	t.Helper()
	if os.Getenv(RequireServicesEnv) == "1" {
		t.Fatalf("%s, and %s=1 requires it", what, RequireServicesEnv)
	}
	t.Skipf("SKIPPED: %s. Start or install it, or set %s=1 to make this a failure.", what, RequireServicesEnv)
}

// StubApp serves 404 to everything until the test ends, and returns its
// port: the app behind a sidecar-only app-id.
func StubApp(t TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("devstack: %v", err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}
