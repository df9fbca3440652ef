package main

import (
	"context"
	"fmt"

	"github.com/todo-chatbot/functions/hack/bench/load"
	"github.com/todo-chatbot/functions/hack/bench/proc"
)

// sustainP99 is the latency a rate must keep to count as sustained.
const sustainP99 = 50.0 // ms

// Usage is one process's CPU and memory over a step.
type Usage struct {
	Process string  `json:"process"`
	CPU     float64 `json:"cpu_percent_of_one_core"`
	// CPUMsPerTask is the process's CPU time over the step divided by the
	// tasks created in it.
	CPUMsPerTask float64 `json:"cpu_ms_per_task"`
	RSSMiB       float64 `json:"rss_mib"`
	PeakMiB      float64 `json:"peak_rss_mib"`
}

// Step is one rate of the throughput ladder on one path.
type Step struct {
	Path     string  `json:"path"`
	Rate     float64 `json:"rate_per_s"`
	Achieved float64 `json:"achieved_per_s"`
	Latency  Pcts    `json:"latency_ms"`
	Errors   int     `json:"errors"`
	Count    int     `json:"count"`
	Pass     bool    `json:"sustained"`
	Retried  bool    `json:"retried"` // failed once, measured again
	FirstErr string  `json:"first_error,omitempty"`
	Usage    []Usage `json:"usage"`
	// CPUMsPerTask is every process's CPU time over the step (the bench's
	// own load generator aside) divided by the tasks created in it.
	CPUMsPerTask float64 `json:"cpu_ms_per_task"`
}

// profileRate is the rate of the CPU-per-task goal, and the one at which
// the functions are profiled, in a run of its own after the ladder:
// profiling costs CPU, which would weigh on the step it measured.
const profileRate = 100

// Throughput is the create-task ladder.
type Throughput struct {
	Stores      string  `json:"stores"`
	Criterion   string  `json:"criterion"`
	StepSeconds float64 `json:"step_seconds"`
	Steps       []Step  `json:"steps"`
	MaxDapr     float64 `json:"max_sustained_dapr_per_s"`
	MaxDirect   float64 `json:"max_sustained_direct_per_s"`
	// Profiles: the top of each function's CPU profile (go tool pprof
	// -top) over a run at profileRate through Dapr.
	Profiles map[string]string `json:"profiles,omitempty"`
}

const (
	pathDirect = "direct"
	pathDapr   = "through Dapr"
)

// throughput steps the create-task rate up, on each path, until a step
// misses P99 < 50 ms (or errs, or falls behind the rate), and records every
// process's CPU and memory at each step.
func (b *bench) throughput(ctx context.Context) error {
	t := Throughput{Stores: string(b.s.stores), Criterion: fmt.Sprintf("P99 < %.0f ms, no errors, at least 95%% of the rate achieved", sustainP99), StepSeconds: b.sz.StepSeconds}
	alive := map[string]bool{pathDirect: true, pathDapr: true}
	urls := map[string]func(string) string{pathDirect: b.directURL, pathDapr: b.daprURL}
	for _, rate := range b.sz.Steps {
		for _, path := range []string{pathDapr, pathDirect} {
			if !alive[path] || ctx.Err() != nil {
				continue
			}
			st := b.step(ctx, path, rate, urls[path])
			if !st.Pass && b.sz.RetrySteps {
				// One bad step may be a burst of other work on the machine:
				// a rate fails only if it fails twice.
				st = b.step(ctx, path, rate, urls[path])
				st.Retried = true
			}
			b.log("throughput %s %.0f/s: P99 %.1f ms, achieved %.0f/s, errors %d → %v", path, rate, st.Latency.P99, st.Achieved, st.Errors, st.Pass)
			if st.Pass {
				if path == pathDapr {
					t.MaxDapr = rate
				} else {
					t.MaxDirect = rate
				}
			} else {
				alive[path] = false
			}
			t.Steps = append(t.Steps, st)
		}
		if !alive[pathDirect] && !alive[pathDapr] {
			break
		}
	}
	if ctx.Err() == nil {
		b.settle()
		profiles := b.s.profile(ctx, b.sz.StepSeconds, b.log)
		load.Run(ctx, b.cfg(profileRate, b.sz.StepSeconds), b.createFunc(b.daprURL))
		t.Profiles = profiles()
	}
	b.rep.Throughput = append(b.rep.Throughput, &t)
	return ctx.Err()
}

// step runs one rate on one path and records every process's CPU and
// memory meanwhile.
func (b *bench) step(ctx context.Context, path string, rate float64, url func(string) string) Step {
	b.settle()
	names := b.s.procNames()
	before := b.s.samples(names)
	res := load.Run(ctx, b.cfg(rate, b.sz.StepSeconds), b.createFunc(url))
	after := b.s.samples(names)
	st := Step{Path: path, Rate: rate, Achieved: res.Achieved(), Latency: pcts(res.Latency), Errors: res.Errors, Count: res.Sent, FirstErr: res.FirstErr}
	created := float64(res.Sent - res.Errors)
	for _, n := range names {
		a, ok := after[n]
		if !ok {
			continue
		}
		u := Usage{Process: n, CPU: proc.CPUPercent(before[n], a),
			RSSMiB: float64(a.RSS) / (1 << 20), PeakMiB: float64(a.HWM) / (1 << 20)}
		if created > 0 {
			u.CPUMsPerTask = proc.CPUSeconds(before[n], a) * 1000 / created
			if n != "bench" {
				st.CPUMsPerTask += u.CPUMsPerTask
			}
		}
		st.Usage = append(st.Usage, u)
	}
	st.Pass = st.Latency.P99 < sustainP99 && st.Errors == 0 && st.Achieved >= 0.95*rate
	return st
}

// at returns the step of path at rate.
func (t *Throughput) at(path string, rate float64) *Step {
	for i := range t.Steps {
		if t.Steps[i].Path == path && t.Steps[i].Rate == rate {
			return &t.Steps[i]
		}
	}
	return nil
}
