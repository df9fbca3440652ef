package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/todo-chatbot/functions/hack/bench/load"
	"github.com/todo-chatbot/functions/hack/bench/proc"
)

// httpClient keeps connections open for every worker of the load
// generator, so no request pays for a TCP handshake.
var httpClient = &http.Client{Transport: &http.Transport{
	DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:        4096,
	MaxIdleConnsPerHost: 2048,
	IdleConnTimeout:     90 * time.Second,
	DisableCompression:  true,
}}

// do sends one request and wants the given status.
func do(ctx context.Context, method, url, body string, want int) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != want {
		if len(b) > 200 {
			b = b[:200]
		}
		return fmt.Errorf("%s %s: %d: %s", method, url, resp.StatusCode, b)
	}
	return nil
}

// directURL is create-task's own address; daprURL reaches it through
// bench-caller's sidecar and create-task's sidecar, as the Chat API does.
func (b *bench) directURL(path string) string {
	return b.s.Functions["create-task"].URL() + path
}

func (b *bench) daprURL(path string) string {
	return b.s.caller.DaprURL() + "/v1.0/invoke/create-task/method" + path
}

var userSeq atomic.Uint64

// nextUser spreads tasks over the bench users, so that no user's task
// index grows large and no two concurrent requests often share one.
func (b *bench) nextUser() string {
	return b.users[int(userSeq.Add(1)%uint64(len(b.users)))] //nolint:gosec // the remainder is below len(b.users)
}

func taskBody(i int, remindAt time.Time) string {
	if remindAt.IsZero() {
		return `{"title":"bench task ` + strconv.Itoa(i) + `"}`
	}
	return `{"title":"bench task ` + strconv.Itoa(i) + `","remind_at":"` + remindAt.UTC().Format(time.RFC3339Nano) + `"}`
}

// warmUsers gives each bench user a first task, one at a time: a user's
// first task also adds them to the list of all users, a single record
// every first task writes.
func (b *bench) warmUsers(ctx context.Context) error {
	t0 := time.Now()
	for i := 0; i < b.sz.Users; i++ {
		u := fmt.Sprintf("bench-u%04d", i)
		if err := do(ctx, http.MethodPost, b.directURL("/users/"+u+"/tasks"), taskBody(i, time.Time{}), http.StatusCreated); err != nil {
			return err
		}
		b.users = append(b.users, u)
	}
	b.log("%d users created in %s", len(b.users), time.Since(t0).Round(time.Millisecond))
	return nil
}

// createFunc posts a task to url(user) for each request.
func (b *bench) createFunc(url func(path string) string) load.Func {
	return func(ctx context.Context, i int, _ time.Time) error {
		return do(ctx, http.MethodPost, url("/users/"+b.nextUser()+"/tasks"), taskBody(i, time.Time{}), http.StatusCreated)
	}
}

// settle waits until the work left from the last phase is done — the
// reminder path's consumers have caught up and the stack's processes are
// close to idle — for at most the configured time.
func (b *bench) settle() {
	deadline := time.Now().Add(secs(b.sz.Settle))
	b.drain(context.Background(), secs(b.sz.Settle))
	names := b.s.Names()
	read := func() []proc.Sample {
		out := make([]proc.Sample, len(names))
		for i, n := range names {
			out[i], _ = proc.Read(b.s.pid(n))
		}
		return out
	}
	prev := read()
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		cur := read()
		total := 0.0
		for i := range cur {
			total += proc.CPUPercent(prev[i], cur[i])
		}
		prev = cur
		if total < 15 {
			return
		}
	}
}

func (b *bench) rounds() int { return b.sz.Rounds }

// cfg is a load phase at rate for the given seconds, with the run's
// request timeout.
func (b *bench) cfg(rate, seconds float64) load.Config {
	return load.Config{Rate: rate, Duration: secs(seconds), Workers: 1024, Timeout: secs(b.sz.Timeout)}
}

// invocation: the same create-task request straight to the function and
// through two sidecars; then the pure hop (GET /healthz) at Dapr's
// published rates, on this stack and on one with mTLS on.
func (b *bench) invocation(ctx context.Context) error {
	// Warm both paths: connections, name resolution, caches.
	warm := b.cfg(100, b.sz.Warm)
	load.Run(ctx, warm, b.createFunc(b.directURL))
	load.Run(ctx, warm, b.createFunc(b.daprURL))
	for _, rate := range b.sz.InvokeRates {
		cfg := b.cfg(rate, b.sz.InvokeSeconds)
		p := pairRounds(fmt.Sprintf("create-task at %.0f/s", rate), rate, b.sz.InvokeSeconds, b.rounds(), b.settle,
			func(int) measurement { return fromResult(load.Run(ctx, cfg, b.createFunc(b.directURL))) },
			func(int) measurement { return fromResult(load.Run(ctx, cfg, b.createFunc(b.daprURL))) })
		b.log("%s: P95 direct %.2f ms, through Dapr %.2f ms, added %.2f ms (errors %d / %d, saturated %v)", p.Name,
			p.Base.P95.Median, p.Dapr.P95.Median, p.AddedP95.Median, p.Base.Errors, p.Dapr.Errors, p.Saturated)
		b.rep.Invocation = append(b.rep.Invocation, p)
	}
	b.rep.Hop = b.hop(ctx, "")
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := b.hopMTLS(ctx); err != nil {
		return fmt.Errorf("sidecar hop with mTLS: %w", err)
	}
	return ctx.Err()
}

// hop measures GET /healthz of create-task, which does no work, straight
// and through the two sidecars at each hop rate; suffix ends each
// measurement's name.
func (b *bench) hop(ctx context.Context, suffix string) []Pair {
	get := func(url string) load.Func {
		return func(ctx context.Context, _ int, _ time.Time) error {
			return do(ctx, http.MethodGet, url, "", http.StatusOK)
		}
	}
	// Warm both paths: on a stack of its own nothing has called them yet
	// (connections, name resolution and, with mTLS, the handshake between
	// the sidecars).
	warm := b.cfg(100, b.sz.Warm)
	load.Run(ctx, warm, get(b.directURL("/healthz")))
	load.Run(ctx, warm, get(b.daprURL("/healthz")))
	var pairs []Pair
	for _, rate := range b.sz.HopRates {
		cfg := b.cfg(rate, b.sz.HopSeconds)
		p := pairRounds(fmt.Sprintf("GET /healthz at %.0f/s%s", rate, suffix), rate, b.sz.HopSeconds, b.rounds(), b.settle,
			func(int) measurement { return fromResult(load.Run(ctx, cfg, get(b.directURL("/healthz")))) },
			func(int) measurement { return fromResult(load.Run(ctx, cfg, get(b.daprURL("/healthz")))) })
		b.log("%s: added P90 %.2f ms, P95 %.2f ms, P99 %.2f ms", p.Name, p.AddedP90.Median, p.AddedP95.Median, p.AddedP99.Median)
		pairs = append(pairs, p)
		if suffix == "" {
			b.rep.HopCPU = append(b.rep.HopCPU, b.hopCPU(ctx, cfg, get(b.daprURL("/healthz"))))
		}
	}
	return pairs
}

// HopCPU is the CPU the processes spent per request of the hop through
// Dapr at one rate, in a run of its own after that rate's rounds: what
// the two sidecars cost, and how busy the machine's cores were.
type HopCPU struct {
	Rate float64 `json:"rate_per_s"`
	// CPUMsPerRequest by process, for those that spent any.
	CPUMsPerRequest map[string]float64 `json:"cpu_ms_per_request"`
	// BusyCores is every process's CPU time over the run divided by its
	// length, the bench's load generator included.
	BusyCores float64 `json:"busy_cores"`
}

func (b *bench) hopCPU(ctx context.Context, cfg load.Config, f load.Func) HopCPU {
	b.settle()
	names := b.s.procNames()
	before := b.s.samples(names)
	t0 := time.Now()
	res := load.Run(ctx, cfg, f)
	elapsed := time.Since(t0).Seconds()
	after := b.s.samples(names)
	h := HopCPU{Rate: cfg.Rate, CPUMsPerRequest: map[string]float64{}}
	done := float64(res.Sent - res.Errors)
	for _, n := range names {
		a, ok := after[n]
		if !ok {
			continue
		}
		spent := proc.CPUSeconds(before[n], a)
		h.BusyCores += spent / elapsed
		if done > 0 && spent > 0 {
			h.CPUMsPerRequest[n] = spent * 1000 / done
		}
	}
	b.log("hop through Dapr at %.0f/s: %.2f cores busy, CPU ms per request %v", cfg.Rate, h.BusyCores, h.CPUMsPerRequest)
	return h
}

// hopMTLS measures the hop again with mTLS on, as Dapr's published figure
// is, on a second, small stack: the scenarios' stack runs without mTLS,
// as `make run` does. The baseline is that stack's own create-task, in
// the same rounds.
func (b *bench) hopMTLS(ctx context.Context) error {
	t0 := time.Now()
	s, err := startStack(ctx, b.s.root, b.s.bin, b.s.stores, hopStack, b.keep)
	if err != nil {
		return fmt.Errorf("starting its stack: %w", err)
	}
	defer s.close(b.keep)
	b.log("mTLS stack ready in %s: %s", time.Since(t0).Round(100*time.Millisecond), strings.Join(s.Names(), ", "))
	m := &bench{sz: b.sz, s: s, rep: b.rep, log: b.log, keep: b.keep}
	b.rep.HopMTLS = m.hop(ctx, ", mTLS on")
	return ctx.Err()
}
