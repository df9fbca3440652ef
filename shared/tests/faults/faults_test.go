//go:build faults

package faults_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// The load: Tasks tasks over LoadFor, each reminding 4 to 9 s after it is
// created. Every tenth is completed and every tenth deleted right after.
const (
	Tasks   = 200
	Users   = 20
	LoadFor = 60 * time.Second
	Settle  = 45 * time.Second // after the last reminder is due
)

// The scale-out the suite runs at, as in Kubernetes: two replicas of every
// event-driven function (each with its own sidecar, under one app-id), a
// three-node scheduler and three brokers.
var (
	Replicas   = map[string]int{"fire-reminder": 2, "send-notification": 2, "sweep-reminders": 2}
	Schedulers = 3
	Brokers    = 3
)

// FailoverDown is how long a scheduler node stays down: long enough for
// the jobs it owned to move to the others, so the lateness measured
// around it is the failover's.
const FailoverDown = 8 * time.Second

// deliveries groups what the webhook received by task: the notification
// id of each delivery, repeats included.
func deliveries(hook *devstack.Webhook) map[string][]string {
	m := map[string][]string{}
	for _, d := range hook.Deliveries() {
		task, _ := d["task_id"].(string)
		id, _ := d["id"].(string)
		m[task] = append(m[task], id)
	}
	return m
}

// planned is one task of the load and what became of it.
type planned struct {
	i          int
	user, id   string
	remindAt   time.Time
	fate       string    // "remind", "complete" or "delete"
	fateDoneAt time.Time // when the completion or deletion succeeded
	createErr  error
}

// wants says whether the task's reminder must be delivered (1), must not
// be (0), or may be either (-1: it was completed or deleted so close to
// its reminder, after retrying through a fault, that both are right).
func (p *planned) wants() int {
	switch {
	case p.fate == "remind":
		return 1
	case p.fateDoneAt.Before(p.remindAt.Add(-time.Second)):
		return 0
	default:
		return -1
	}
}

type fault struct {
	kind, target string
	at           time.Duration // since the load started
	down         time.Duration
	note         string
	err          error
	from, to     time.Time // when it struck, and when the target was back
}

func TestFaults(t *testing.T) {
	devstack.RequireTCP(t, "PostgreSQL", devstack.PostgresAddr)
	devstack.RequireTCP(t, "Redis", devstack.RedisAddr)
	root, err := devstack.RepoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	if os.Getenv("FAULTS_KEEP") == "1" { // keep logs and data to read after
		dir, err = os.MkdirTemp("", "faults-")
		require.NoError(t, err)
		t.Logf("FAULTS_KEEP=1: the run's folder is %s", dir)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FAULTS_SEED"); s != "" {
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	t.Logf("FAULTS_SEED=%d", seed)
	// Said again after everything else (cleanups run last-registered
	// first, so after the stack's log tails), where a CI log's tail shows it.
	var verdict []string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("TestFaults FAILED (FAULTS_SEED=%d to replay):\n%s", seed, strings.Join(verdict, "\n"))
		}
	})

	// The project on PostgreSQL and Redis, as in Kubernetes, with the
	// broker's log on disk and a sweep every 10 s as the backstop it is.
	res := filepath.Join(dir, "resources")
	require.NoError(t, os.MkdirAll(res, 0o755))
	for _, f := range []string{"pubsub.yaml", "secrets.yaml", "notify-webhook.yaml", "reminder-sweep.yaml", "resiliency.yaml"} {
		copyFile(t, filepath.Join(root, "bindings", "local", f), filepath.Join(res, f))
	}
	copyFile(t, filepath.Join(root, "bindings", "profiles", "kafka-postgres", "tasks.yaml"), filepath.Join(res, "tasks.yaml"))
	copyFile(t, filepath.Join(root, "bindings", "profiles", "kafka-postgres", "dedupe.yaml"), filepath.Join(res, "dedupe.yaml"))
	token := fmt.Sprintf("faults-%x", rng.Uint64())
	b, _ := json.Marshal(map[string]map[string]string{"notify-webhook": {"token": token}})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets.json"), b, 0o600))
	hook := devstack.NewWebhook(t, token)

	names := []string{"create-task", "complete-task", "delete-task", "fire-reminder", "send-notification", "sweep-reminders"}
	bins := devstack.BuildFunctions(t, filepath.Join(dir, "bin"), names...)
	var fns []devstack.Function
	for _, n := range names {
		fns = append(fns, devstack.Replicate(devstack.Function{Name: n, Binary: bins[n], Env: []string{"LOG_LEVEL=info", "DRAIN_QUIET_PERIOD=200ms"}}, Replicas[n])...)
	}
	// The Chat API's sidecar, which the load goes through and no fault hits.
	fns = append(fns, devstack.Function{Name: "chat-api", AppPort: devstack.StubApp(t)})
	prefix := "f" + strconv.FormatInt(time.Now().UnixNano(), 36) + "_"
	env := append(devstack.LocalEnv(dir, "", hook.URL(), "@every 10s"),
		"LOCAL_PG_CONNECTION=host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable",
		"LOCAL_PG_TABLE_PREFIX="+prefix, "LOCAL_PG_METADATA_TABLE="+prefix+"metadata",
		"LOCAL_REDIS_HOST="+devstack.RedisAddr)
	s := devstack.StartT(t, devstack.TestStack{Functions: fns, Resources: res, Dir: dir, Env: env, BrokerDataDir: filepath.Join(dir, "broker-data"),
		Schedulers: Schedulers, Brokers: Brokers})
	chat := s.Functions["chat-api"].DaprURL()
	t.Cleanup(func() { dropTables(prefix) })

	// Warm up: a first reminder makes the whole trip.
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // user ids and keys of this run only
	warm := &planned{user: "fault-" + run + "-warmup", remindAt: time.Now().Add(2 * time.Second), fate: "remind"}
	require.NoError(t, create(chat, warm, "warm"))
	require.Eventually(t, func() bool { return len(deliveries(hook)[warm.id]) == 1 }, 90*time.Second, 100*time.Millisecond, "warm-up reminder")

	// The faults, one at a time, at random moments of the load. Where a
	// function runs several replicas, one of them is hit and the others
	// carry on.
	var faults []fault
	for _, n := range names { // every function process and every function's sidecar
		r := s.Replicas(n)
		p := r[rng.IntN(len(r))].Proc()
		faults = append(faults, fault{kind: "function process", target: p}, fault{kind: "sidecar", target: p + "-dapr"})
	}
	nodes := s.SchedulerNames()
	faults = append(faults, []fault{
		{kind: "scheduler node", target: nodes[rng.IntN(len(nodes))]},
		{kind: "broker node", target: strconv.Itoa(rng.IntN(Brokers))},
		{kind: "broker", target: "broker"},
		{kind: "rolling restart", target: "fire-reminder"},
		{kind: "postgresql", target: "postgresql"},
		{kind: "redis", target: "redis"},
	}...)
	rng.Shuffle(len(faults), func(i, j int) { faults[i], faults[j] = faults[j], faults[i] })
	slot := LoadFor / time.Duration(len(faults))
	for i := range faults {
		faults[i].at = time.Duration(i)*slot + time.Duration(rng.Int64N(int64(slot/2)))
		faults[i].down = 200*time.Millisecond + time.Duration(rng.Int64N(int64(1800*time.Millisecond)))
		if faults[i].kind == "scheduler node" {
			faults[i].down = FailoverDown
		}
	}

	start := time.Now()
	tasks := make([]*planned, Tasks)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the load
		defer wg.Done()
		sem := make(chan struct{}, 8)
		var inner sync.WaitGroup
		for i := range tasks {
			time.Sleep(time.Until(start.Add(time.Duration(i) * LoadFor / Tasks)))
			p := &planned{i: i, user: fmt.Sprintf("fault-%s-u%02d", run, i%Users), remindAt: time.Now().Add(4*time.Second + time.Duration(rng.Int64N(int64(5*time.Second)))).Truncate(time.Millisecond), fate: "remind"}
			switch i % 10 {
			case 3:
				p.fate = "complete"
			case 7:
				p.fate = "delete"
			}
			tasks[i] = p
			sem <- struct{}{}
			inner.Add(1)
			go func() {
				defer func() { <-sem; inner.Done() }()
				if p.createErr = create(chat, p, fmt.Sprintf("k%d", p.i)); p.createErr != nil || p.fate == "remind" {
					return
				}
				if err := finish(chat, p); err != nil {
					p.createErr = err
				}
			}()
		}
		inner.Wait()
	}()
	for _, f := range faults { // the faults
		time.Sleep(time.Until(start.Add(f.at)))
		t.Logf("%6.1fs  %s: %s (down %s)", time.Since(start).Seconds(), f.kind, f.target, f.down.Round(time.Millisecond))
		f.from = time.Now()
		f.note, f.err = inject(s, f)
		f.to = time.Now()
		if f.err != nil {
			t.Errorf("fault %s %s: %v", f.kind, f.target, f.err)
			verdict = append(verdict, fmt.Sprintf("fault %s %s: %v", f.kind, f.target, f.err))
		}
		recordFault(f)
	}
	wg.Wait()
	last := time.Time{}
	for _, p := range tasks {
		if p.remindAt.After(last) {
			last = p.remindAt
		}
	}
	time.Sleep(time.Until(last.Add(Settle)))

	// Everything recovered by itself: every process is up and healthy,
	// and a reminder set now makes the whole trip once.
	for _, name := range s.Names() {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", s.PID(name))) // exited processes are reaped
		if !assert.NoError(t, err, "%s is running", name) {
			verdict = append(verdict, name+" is not running after the faults")
		}
	}
	canary := &planned{user: "fault-" + run + "-canary", remindAt: time.Now().Add(3 * time.Second), fate: "remind"}
	if err := create(chat, canary, "canary"); err != nil {
		verdict = append(verdict, "the canary task was not created: "+err.Error())
		t.Fatalf("after the faults, creating a task: %v", err)
	}
	if !assert.Eventually(t, func() bool { return len(deliveries(hook)[canary.id]) == 1 }, 60*time.Second, 100*time.Millisecond, "after the faults, a new reminder is delivered") {
		verdict = append(verdict, "the canary reminder was not delivered once in 60 s")
	}

	// The figures.
	got := deliveries(hook)
	var expected, delivered, duplicated, repeated, lost, unwanted, either, createFailed int
	var lostIDs, dupIDs []string
	for _, p := range tasks {
		if p.createErr != nil {
			createFailed++
			t.Errorf("task %d: %v", p.i, p.createErr)
			verdict = append(verdict, fmt.Sprintf("task %d: %v", p.i, p.createErr))
			continue
		}
		ds := got[p.id]
		ids := map[string]bool{}
		for _, id := range ds {
			ids[id] = true
		}
		// The same notification again is the edge's at-least-once (the
		// webhook took it, its answer or the record was lost): the
		// receiver drops it by id. Two notifications for one reminder
		// are a duplicate no receiver can tell.
		repeated += len(ds) - len(ids)
		if len(ids) > 1 {
			duplicated++
			dupIDs = append(dupIDs, fmt.Sprintf("%s (%d deliveries, %d notification ids)", p.id, len(ds), len(ids)))
		}
		switch p.wants() {
		case 1:
			expected++
			if len(ds) == 0 {
				lost++
				lostIDs = append(lostIDs, p.id)
			} else {
				delivered++
			}
		case 0:
			if len(ds) > 0 {
				unwanted++
			}
		default:
			either++
			if len(ds) > 0 {
				delivered++
			}
		}
	}
	injected := 0
	for _, f := range faultLog {
		if f.err == nil {
			injected++
		}
	}
	report := figures{
		Seed: seed, Tasks: Tasks, Faults: injected, FaultList: faultLog, Expected: expected, Delivered: delivered,
		Duplicated: duplicated, Repeated: repeated, Lost: lost, Unwanted: unwanted, Either: either, CreateFailed: createFailed,
		WebhookRefused: hook.Refused(), Duration: time.Since(start).Round(time.Second),
		Recovery: recovery(s), Lateness: lateness(tasks, hook, faultLog),
	}
	t.Log("\n" + report.String())
	verdict = append(verdict, report.String())
	if lost+duplicated > 0 {
		verdict = append(verdict, fmt.Sprintf("lost: %v\nduplicated: %v", lostIDs, dupIDs))
	}
	if path := os.Getenv("FAULTS_REPORT"); path != "" {
		require.NoError(t, writeReport(filepath.Join(root, path), report))
	}
	assert.Zero(t, createFailed, "every create succeeded, retried through the faults")
	assert.Zero(t, lost, "reminders lost: %v", lostIDs)
	assert.Zero(t, duplicated, "reminders delivered more than once: %v", dupIDs)
	assert.Zero(t, unwanted, "reminders delivered for tasks completed or deleted well before")
	assert.Zero(t, hook.Refused(), "deliveries without the token or an Idempotency-Key of the notification's id")
	assert.LessOrEqual(t, repeated, injected, "repeats of a delivered notification: at most the deliveries a fault cut off")
}

var (
	faultMu  sync.Mutex
	faultLog []fault
)

func recordFault(f fault) {
	faultMu.Lock()
	defer faultMu.Unlock()
	faultLog = append(faultLog, f)
}

// inject runs one fault to its end: the target is back and healthy (or
// the connections were cut).
func inject(s *devstack.Stack, f fault) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	switch f.kind {
	case "postgresql", "redis":
		port := 5432
		if f.kind == "redis" {
			port = 6379
		}
		if os.Getenv("FAULTS_DB_RESTART") == "1" {
			return "server restarted, down " + f.down.Round(100*time.Millisecond).String(), restartServer(f.kind, f.down)
		}
		n, err := cutConnections(s, f.kind, port)
		return fmt.Sprintf("%d connections cut", n), err
	}
	switch f.kind {
	case "broker node":
		id, _ := strconv.Atoi(f.target)
		if err := s.StopBroker(id); err != nil {
			return "", err
		}
		time.Sleep(f.down)
		return "stopped (connections cut), started after " + f.down.Round(100*time.Millisecond).String(), s.StartBroker(id)
	case "rolling restart":
		// One replica at a time, each back and healthy before the next,
		// as a Deployment's rolling update does.
		for _, r := range s.Replicas(f.target) {
			for _, name := range []string{r.Proc(), r.Proc() + "-dapr"} {
				if err := s.Terminate(name, 30*time.Second); err != nil {
					return "", err
				}
			}
			// The app first: its sidecar is healthy only once the app listens.
			for _, name := range []string{r.Proc(), r.Proc() + "-dapr"} {
				if err := s.Restart(ctx, name); err != nil {
					return "", err
				}
			}
		}
		return fmt.Sprintf("SIGTERM and start of each of %d replicas in turn", len(s.Replicas(f.target))), nil
	}
	if err := s.Kill(f.target); err != nil {
		return "", err
	}
	time.Sleep(f.down)
	return "SIGKILL, restarted after " + f.down.Round(100*time.Millisecond).String(), s.Restart(ctx, f.target)
}

// cutConnections closes, on the server side, every connection this
// stack's sidecars hold to PostgreSQL or Redis, as a failover would; other
// stacks on the same servers are left alone.
func cutConnections(s *devstack.Stack, kind string, serverPort int) (int, error) {
	var ports []int
	for _, name := range s.Names() {
		if strings.HasSuffix(name, "-dapr") {
			ports = append(ports, clientPorts(s.PID(name), serverPort)...)
		}
	}
	if len(ports) == 0 {
		return 0, fmt.Errorf("no %s connection of this stack found", kind)
	}
	if kind == "redis" {
		for _, p := range ports {
			if out, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", "6379", "CLIENT", "KILL", "ADDR", "127.0.0.1:"+strconv.Itoa(p)).CombinedOutput(); err != nil {
				return 0, fmt.Errorf("redis-cli: %w: %s", err, out)
			}
		}
		return len(ports), nil
	}
	list := make([]string, len(ports))
	for i, p := range ports {
		list[i] = strconv.Itoa(p)
	}
	q := "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE client_port IN (" + strings.Join(list, ",") + ")"
	out, err := exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc", q).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("psql: %w: %s", err, out)
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}

// clientPorts lists the local ports of pid's TCP connections to
// 127.0.0.1:serverPort, read from /proc.
func clientPorts(pid, serverPort int) []int {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if m := regexp.MustCompile(`^socket:\[(\d+)\]$`).FindStringSubmatch(l); err == nil && m != nil {
			inodes[m[1]] = true
		}
	}
	var ports []int
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }() // read only
	want := fmt.Sprintf("0100007F:%04X", serverPort)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || fs[2] != want || !inodes[fs[9]] {
			continue
		}
		if p, err := strconv.ParseUint(fs[1][strings.IndexByte(fs[1], ':')+1:], 16, 16); err == nil {
			ports = append(ports, int(p))
		}
	}
	return ports
}

// restartServer stops and starts PostgreSQL or Redis (as root, with the
// distribution's commands): every stack on the server sees it.
func restartServer(kind string, down time.Duration) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("FAULTS_DB_RESTART=1 needs root")
	}
	if kind == "postgresql" {
		out, err := exec.Command("pg_lsclusters", "-h").Output()
		if err != nil {
			return err
		}
		fs := strings.Fields(string(out))
		if len(fs) < 2 {
			return fmt.Errorf("no PostgreSQL cluster")
		}
		if out, err := exec.Command("pg_ctlcluster", fs[0], fs[1], "stop", "-m", "immediate").CombinedOutput(); err != nil {
			return fmt.Errorf("stop: %w: %s", err, out)
		}
		time.Sleep(down)
		if out, err := exec.Command("pg_ctlcluster", fs[0], fs[1], "start").CombinedOutput(); err != nil {
			return fmt.Errorf("start: %w: %s", err, out)
		}
		return waitTCP(devstack.PostgresAddr)
	}
	// Started again with the settings it runs with (persistence above
	// all: a server that cannot write its snapshot refuses every write).
	cfg := map[string]string{}
	for _, k := range []string{"save", "appendonly", "dir", "stop-writes-on-bgsave-error"} {
		out, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", "6379", "CONFIG", "GET", k).Output()
		lines := strings.Split(string(out), "\n") // name, value (maybe empty)
		if err != nil {
			return fmt.Errorf("redis CONFIG GET %s: %w %q", k, err, out)
		}
		if len(lines) < 2 {
			return fmt.Errorf("redis CONFIG GET %s: no value in %q", k, out)
		}
		cfg[k] = lines[1]
	}
	if out, err := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", "6379", "SHUTDOWN", "NOSAVE").CombinedOutput(); err != nil && len(out) > 0 && !bytes.Contains(out, []byte("connect")) {
		return fmt.Errorf("redis shutdown: %w: %s", err, out)
	}
	if err := waitClosed(devstack.RedisAddr); err != nil {
		return err
	}
	time.Sleep(down)
	start := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", "6379", "--daemonize", "yes",
		"--save", cfg["save"], "--appendonly", cfg["appendonly"], "--dir", cfg["dir"],
		"--stop-writes-on-bgsave-error", cfg["stop-writes-on-bgsave-error"])
	if out, err := start.CombinedOutput(); err != nil {
		return fmt.Errorf("redis start: %w: %s", err, out)
	}
	return waitTCP(devstack.RedisAddr)
}

func waitClosed(addr string) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return nil
		}
		c.Close()
	}
	return fmt.Errorf("%s still open 30s after shutdown", addr)
}

func waitTCP(addr string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not back in 60s", addr)
}

// create creates p's task through the Chat API's sidecar, retrying with
// the same Idempotency-Key until it succeeds: a retry never makes a second
// task.
func create(chat string, p *planned, key string) error {
	body := fmt.Sprintf(`{"title":"fault %d","remind_at":%q}`, p.i, p.remindAt.UTC().Format(time.RFC3339Nano))
	r, err := retry(http.MethodPost, chat+"/v1.0/invoke/create-task/method/users/"+p.user+"/tasks", body, []int{201}, "Idempotency-Key", key)
	if err != nil {
		return err
	}
	var v struct{ ID string }
	if err := json.Unmarshal(r, &v); err != nil || v.ID == "" {
		return fmt.Errorf("create answered %s", r)
	}
	p.id = v.ID
	return nil
}

// finish completes or deletes p's task; a 404 after a retried delete means
// the first attempt did it.
func finish(chat string, p *planned) error {
	var err error
	base := chat + "/v1.0/invoke/"
	if p.fate == "complete" {
		_, err = retry(http.MethodPost, base+"complete-task/method/users/"+p.user+"/tasks/"+p.id+"/complete", "", []int{200})
	} else {
		_, err = retry(http.MethodDelete, base+"delete-task/method/users/"+p.user+"/tasks/"+p.id, "", []int{204, 404})
	}
	p.fateDoneAt = time.Now()
	return err
}

var client = &http.Client{Timeout: 15 * time.Second}

func retry(method, url, body string, ok []int, headers ...string) ([]byte, error) {
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, s := range ok {
				if resp.StatusCode == s {
					return b, nil
				}
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
			if resp.StatusCode/100 == 4 && resp.StatusCode != 404 && resp.StatusCode != 409 {
				return nil, fmt.Errorf("%s %s: %s", method, url, last)
			}
		} else {
			last = err.Error()
		}
		time.Sleep(time.Duration(200*(attempt%5+1)) * time.Millisecond)
	}
	return nil, fmt.Errorf("%s %s: no success in 2 min; last: %s", method, url, last)
}

// figures are what a run measured.
type figures struct {
	Seed                                      uint64
	Tasks, Faults                             int
	FaultList                                 []fault
	Expected, Delivered, Duplicated, Repeated int
	Lost, Unwanted                            int
	Either, CreateFailed, WebhookRefused      int
	Duration                                  time.Duration
	Recovery                                  map[string]int
	Lateness                                  []latenessRow
}

func (f figures) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| tasks created (%d users, over %s) | %d |\n", Users, LoadFor, f.Tasks-f.CreateFailed)
	fmt.Fprintf(&b, "| faults injected | %d |\n", f.Faults)
	fmt.Fprintf(&b, "| reminders expected | %d |\n", f.Expected)
	fmt.Fprintf(&b, "| reminders delivered | %d |\n", f.Delivered)
	fmt.Fprintf(&b, "| duplicated (a reminder notified under two ids) | %d |\n", f.Duplicated)
	fmt.Fprintf(&b, "| repeated (the same notification id again; the receiver drops it) | %d |\n", f.Repeated)
	fmt.Fprintf(&b, "| lost (expected, never delivered) | %d |\n", f.Lost)
	fmt.Fprintf(&b, "| delivered for a task completed or deleted well before | %d |\n", f.Unwanted)
	fmt.Fprintf(&b, "| completed or deleted within 1 s of the reminder (either is right) | %d |\n", f.Either)
	fmt.Fprintf(&b, "| webhook deliveries refused | %d |\n", f.WebhookRefused)
	fmt.Fprintf(&b, "| run time | %s |\n", f.Duration)
	fmt.Fprintf(&b, "\nReminder lateness (webhook receipt minus remind_at):\n\n| reminders due | count | P50 | P99 | max |\n|---|---|---|---|---|\n")
	for _, l := range f.Lateness {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", l.window, l.n, ms(l.p50), ms(l.p99), ms(l.max))
	}
	fmt.Fprintf(&b, "\nWhat absorbed the faults (log lines of the run):\n\n| log line | count |\n|---|---|\n")
	for _, k := range recoveryLines {
		fmt.Fprintf(&b, "| %s | %d |\n", k, f.Recovery[k])
	}
	fmt.Fprintf(&b, "\nFaults, in order (FAULTS_SEED=%d):\n\n| at | fault | target | what |\n|---|---|---|---|\n", f.Seed)
	list := append([]fault(nil), f.FaultList...)
	sort.Slice(list, func(i, j int) bool { return list[i].at < list[j].at })
	for _, x := range list {
		status := x.note
		if x.err != nil {
			status = "FAILED: " + x.err.Error()
		}
		fmt.Fprintf(&b, "| %.1f s | %s | %s | %s |\n", x.at.Seconds(), x.kind, x.target, status)
	}
	return b.String()
}

// latenessRow is how late the reminders due in one window arrived.
type latenessRow struct {
	window        string
	n             int
	p50, p99, max time.Duration
}

// SchedulerFailoverWindow is how long after a scheduler node is back its
// reminders still count as due during the failover: the surviving nodes
// take its jobs over while it is down, and it takes a share back after.
const SchedulerFailoverWindow = 10 * time.Second

// lateness measures, from the webhook's receipt of each reminder's first
// delivery, how late reminders were: all of them, and those due while a
// scheduler node was down or had just come back.
func lateness(tasks []*planned, hook *devstack.Webhook, faults []fault) []latenessRow {
	first := map[string]time.Time{}
	for _, d := range hook.Deliveries() {
		id, _ := d["task_id"].(string)
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(d[devstack.ReceivedAt]))
		if err == nil && (first[id].IsZero() || at.Before(first[id])) {
			first[id] = at
		}
	}
	var all, failover []time.Duration
	for _, p := range tasks {
		at, ok := first[p.id]
		if p.createErr != nil || p.fate != "remind" || !ok {
			continue
		}
		late := at.Sub(p.remindAt)
		all = append(all, late)
		for _, f := range faults {
			if f.kind == "scheduler node" && !p.remindAt.Before(f.from) && p.remindAt.Before(f.to.Add(SchedulerFailoverWindow)) {
				failover = append(failover, late)
			}
		}
	}
	return []latenessRow{
		percentiles("all", all),
		percentiles(fmt.Sprintf("while a scheduler node was down or within %s of its return", SchedulerFailoverWindow), failover),
	}
}

func percentiles(window string, ds []time.Duration) latenessRow {
	r := latenessRow{window: window, n: len(ds)}
	if len(ds) == 0 {
		return r
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	r.p50, r.p99, r.max = at(0.50), at(0.99), ds[len(ds)-1]
	return r
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// recoveryLines are the log lines that show a fault being absorbed. A
// request that failed (a change stored but not announced among them) is
// answered and logged by the runtime as "request failed".
var recoveryLines = []string{
	"duplicate notification skipped",
	"event failed; asking for redelivery",
	"job failed; the scheduler will retry",
	"could not record fired reminder",
	"request failed",
}

// recovery counts recoveryLines in the functions' logs.
func recovery(s *devstack.Stack) map[string]int {
	m := map[string]int{}
	for _, name := range s.Names() {
		b, _ := os.ReadFile(s.LogPath(name))
		for _, k := range recoveryLines {
			m[k] += bytes.Count(b, []byte(`"msg":"`+k+`"`))
		}
	}
	return m
}

// writeReport writes the figures as the Markdown docs/reliability.md shows
// between its faults markers; `make test-faults` has them written under the
// gitignored .run/, and `make reports` copies them into the doc.
func writeReport(path string, f figures) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	doc := fmt.Sprintf("Measured by `make test-faults` on %s.\n\n%s", time.Now().UTC().Format("2006-01-02"), f.String())
	return os.WriteFile(path, []byte(doc), 0o644)
}

func dropTables(prefix string) {
	q := fmt.Sprintf(`DO $$ DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables WHERE tablename LIKE '%s%%' LOOP EXECUTE 'DROP TABLE IF EXISTS ' || quote_ident(r.tablename); END LOOP; END $$`, prefix)
	_ = exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", q).Run()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o644))
}
