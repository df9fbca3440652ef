package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/todo-chatbot/functions/hack/bench/load"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

// Dapr's published service invocation figure: latency the two sidecars
// add at 1,000 requests/s, mTLS on (docs.dapr.io, "Service invocation
// performance").
const (
	daprPublishedP90 = 1.40
	daprPublishedP99 = 2.10
)

// Report is everything one run measured; benchmarks.json is this.
type Report struct {
	Date     string   `json:"date"`
	Mode     string   `json:"mode"`
	Stores   string   `json:"stores"` // behind the tasks and dedupe components
	Seconds  float64  `json:"run_seconds"`
	Machine  Machine  `json:"machine"`
	Versions Versions `json:"versions"`
	Sizes    sizes    `json:"sizes"`
	Goals    []Goal   `json:"goals"`

	Invocation []Pair        `json:"service_invocation"`
	Hop        []Pair        `json:"service_invocation_hop"`
	HopMTLS    []Pair        `json:"service_invocation_hop_mtls"`
	HopCPU     []HopCPU      `json:"service_invocation_hop_cpu"`
	State      []Pair        `json:"state"`
	Publish    *Pair         `json:"publish,omitempty"`
	Delivery   *Pair         `json:"publish_to_handler,omitempty"`
	Reminders  *Reminders    `json:"reminders,omitempty"`
	E2E        *E2E          `json:"end_to_end,omitempty"`
	E2ELadders []*E2ELadder  `json:"end_to_end_ladder,omitempty"` // one per variant of the reminder path
	Throughput []*Throughput `json:"throughput,omitempty"`
	Cold       *Cold         `json:"cold_start,omitempty"`
	Published  PublishedRef  `json:"dapr_published_invocation"`
	Notes      []string      `json:"notes,omitempty"`
}

// PublishedRef is Dapr's own figure, for comparison.
type PublishedRef struct {
	AddedP90 float64 `json:"added_p90_ms"`
	AddedP99 float64 `json:"added_p99_ms"`
	Setup    string  `json:"setup"`
}

// Goal is one target and what was measured against it.
type Goal struct {
	Area     string `json:"area"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Verdict  string `json:"verdict"` // met, not met, not measured, reference
}

func newReport(mode string, sz sizes, bin string, stores devstack.Stores) *Report {
	return &Report{
		Date: time.Now().UTC().Format(time.RFC3339), Mode: mode, Sizes: sz, Stores: string(stores),
		Machine: machine(), Versions: versions(bin),
		Published: PublishedRef{AddedP90: daprPublishedP90, AddedP99: daprPublishedP99,
			Setup: "two sidecars, 1,000 requests/s, mTLS on, Dapr's own test hardware"},
	}
}

// note adds s to the notes, once: every stack a run starts may tell the same.
func (r *Report) note(s string) {
	if !slices.Contains(r.Notes, s) {
		r.Notes = append(r.Notes, s)
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// f formats milliseconds with sensible precision.
func f(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "–"
	case a < 10:
		return fmt.Sprintf("%.2f", v)
	case a < 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// st formats a figure over rounds: median (min–max).
func st(s load.Stat) string {
	if s.Min == s.Max {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}

// evaluate fills the goals table from what was measured. A verdict uses
// the median of the rounds.
func (r *Report) evaluate() {
	add := func(area, target, measured, v string) {
		r.Goals = append(r.Goals, Goal{Area: area, Target: target, Measured: measured, Verdict: v})
	}
	// A saturated pair's "added" compares two queues: no verdict but "not
	// met", since the path did not keep up with the rate.
	pairVerdict := func(p Pair, ok bool) (string, string) {
		if p.Saturated {
			return " (in some round requests failed or the rate was not kept; see the table)", "not met"
		}
		return "", verdict(ok)
	}
	if len(r.Invocation) == 0 {
		add("Service invocation", "added P95 ≤ 2 ms at 500/s", "", "not measured")
	}
	for _, p := range r.Invocation {
		if p.Rate == 500 {
			why, v := pairVerdict(p, p.AddedP95.Median <= 2)
			add("Service invocation (create-task)", "Dapr adds ≤ 2 ms at P95, at 500/s", st(p.AddedP95)+" ms"+why, v)
		}
	}
	for _, p := range r.Hop {
		if p.Rate == 500 {
			why, v := pairVerdict(p, p.AddedP95.Median <= 2)
			add("Service invocation (sidecar hop only: no-op GET /healthz)", "Dapr adds ≤ 2 ms at P95, at 500/s", st(p.AddedP95)+" ms"+why, v)
		}
	}
	for _, p := range r.Invocation {
		why, v := pairVerdict(p, p.AddedP95.Median <= 10)
		add("Service invocation (create-task)", fmt.Sprintf("NFR: Dapr adds ≤ 10 ms at P95, at %.0f/s", p.Rate), st(p.AddedP95)+" ms"+why, v)
	}
	for _, p := range r.Hop {
		why, v := pairVerdict(p, p.AddedP95.Median <= 10)
		add("Service invocation (sidecar hop only)", fmt.Sprintf("NFR: Dapr adds ≤ 10 ms at P95, at %.0f/s", p.Rate), st(p.AddedP95)+" ms"+why, v)
	}
	// Like for like: Dapr's figure is measured with mTLS on.
	compare := fmt.Sprintf("compare: Dapr's published %.1f ms P90 / %.1f ms P99 added, at 1000/s, mTLS on", daprPublishedP90, daprPublishedP99)
	compared := false
	for _, p := range r.HopMTLS {
		if p.Rate != 1000 {
			continue
		}
		why, v := pairVerdict(p, p.AddedP90.Median <= daprPublishedP90 && p.AddedP99.Median <= daprPublishedP99)
		v = map[string]string{"met": "as good or better", "not met": "worse"}[v]
		add("Service invocation (sidecar hop, mTLS on)", compare, fmt.Sprintf("%s ms P90 / %s ms P99%s", st(p.AddedP90), st(p.AddedP99), why), v)
		compared = true
	}
	if !compared {
		add("Service invocation (sidecar hop, mTLS on)", compare, "", "not measured")
	}
	if len(r.State) == 0 {
		add("State", "added P95 ≤ 1 ms", "", "not measured")
	}
	worst := math.Inf(-1)
	for _, p := range r.State {
		why, v := pairVerdict(p, p.AddedP95.Median <= 1)
		add("State ("+p.Name+")", "Dapr adds ≤ 1 ms at P95", st(p.AddedP95)+" ms"+why, v)
		worst = math.Max(worst, p.AddedP95.Median)
	}
	if len(r.State) > 0 {
		add("State (every store and operation)", "NFR: Dapr adds ≤ 10 ms at P95", "worst "+f(worst)+" ms", verdict(worst <= 10))
	}
	if p := r.Publish; p != nil {
		why, v := pairVerdict(*p, p.AddedP95.Median <= 10)
		add("Pub/sub publish", "NFR: Dapr adds ≤ 10 ms at P95 (vs a Kafka client)", st(p.AddedP95)+" ms"+why, v)
	}
	if p := r.Delivery; p != nil {
		why, v := pairVerdict(*p, p.Dapr.P95.Median <= 20)
		add("Pub/sub publish → handler", fmt.Sprintf("P95 ≤ 20 ms at %.0f/s", p.Rate), st(p.Dapr.P95)+" ms"+why, v)
		why, v = pairVerdict(*p, p.AddedP95.Median <= 10)
		add("Pub/sub publish → handler", "NFR: Dapr adds ≤ 10 ms at P95 (vs Kafka client → consumer)", st(p.AddedP95)+" ms"+why, v)
		add("Pub/sub publish → handler", "no message lost or duplicated", fmt.Sprintf("%d lost, %d duplicated", p.Dapr.Errors, p.Dapr.Dups), verdict(p.Dapr.Errors == 0 && p.Dapr.Dups == 0))
	} else {
		add("Pub/sub publish → handler", "P95 ≤ 20 ms", "", "not measured")
	}
	if m := r.Reminders; m != nil {
		add("Reminders", fmt.Sprintf("lateness P99 ≤ 1 s (%d due within %.0f s)", m.Count, m.WindowSeconds), f(m.Late.P99)+" ms", verdict(m.Late.P99 <= 1000 && m.Fired > 0))
		add("Reminders", "none lost, none duplicated", fmt.Sprintf("%d fired of %d, %d lost, %d duplicated", m.Fired, m.Count, m.Lost+m.ScheduleErrors, m.Duplicated),
			verdict(m.Lost == 0 && m.ScheduleErrors == 0 && m.Duplicated == 0))
	} else {
		add("Reminders", "lateness P99 ≤ 1 s, none lost or duplicated", "", "not measured")
	}
	if e := r.E2E; e != nil {
		add("End to end (create → webhook)", "reference, the reminder goal: P99 ≤ 1 s, none lost or duplicated",
			fmt.Sprintf("P99 %s ms; %d lost, %d duplicated, %d create errors", f(e.Late.P99), e.Lost, e.Duplicated, e.CreateErrors),
			"reference: "+verdict(len(e.failures()) == 0))
	}
	ladderTarget := fmt.Sprintf("highest rate with webhook lateness P99 ≤ 1 s, none lost or duplicated: ≥ %.0f tasks/s", e2eGoalRate)
	shipped := false
	for _, l := range r.E2ELadders {
		// The goal is the reminder path as shipped; the other variants
		// are what it would reach if it changed so.
		v := verdict(l.MaxRate >= e2eGoalRate)
		if l.shipped() {
			shipped = true
		} else {
			v = "reference: " + v
		}
		add("End to end (create → webhook), rising rate, "+l.Name, ladderTarget, l.measured(), v)
	}
	if !shipped {
		add("End to end (create → webhook), rising rate", ladderTarget, "", "not measured")
	}
	for _, t := range r.Throughput {
		add("Throughput (create-task, "+storesName(t.Stores)+")", "highest rate with P99 < 50 ms (no target)", fmt.Sprintf("%.0f/s through Dapr, %.0f/s direct", t.MaxDapr, t.MaxDirect), "reference")
		if s := t.at(pathDapr, profileRate); s != nil {
			add("CPU per created task ("+storesName(t.Stores)+")", fmt.Sprintf("every process together ≤ 6.5 ms at %d/s through Dapr", profileRate),
				fmt.Sprintf("%.1f ms", s.CPUMsPerTask), verdict(s.CPUMsPerTask > 0 && s.CPUMsPerTask <= 6.5))
		}
	}
}

func (r *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "benchmarks.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := r.chart(filepath.Join(dir, "benchmarks.png")); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "benchmarks.md"), []byte(r.markdown()), 0o644)
}

func (r *Report) markdown() string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	p("# Benchmarks\n\n")
	cmd := "make bench"
	if r.Mode == "quick" {
		cmd = "make bench-quick"
	}
	p("Measured by `%s` (`hack/bench`) on %s, in %.0f s. Raw numbers: [benchmarks.json](benchmarks.json); latency distributions: [benchmarks.png](benchmarks.png). How the task layout's costs follow data size: [benchmarks-scale.md](benchmarks-scale.md) (`make bench-scale`).\n\n",
		cmd, r.Date, r.Seconds)
	m := r.Machine
	p("**Machine:** %d × %s, %.0f GiB, Linux %s. Load average %.2f at the start, %.2f at the end: the machine is shared, so other work ran alongside and every figure includes its noise.  \n",
		m.Cores, m.CPUModel, m.MemoryGiB, m.Kernel, m.LoadStart[0], m.LoadEnd[0])
	p("**Versions:** Dapr runtime %s (daprd, scheduler and sentry built from source), Dapr Go SDK %s, %s.\n\n", r.Versions.Dapr, r.Versions.GoSDK, r.Versions.Go)
	p("**Method.** Everything runs on this machine over loopback: the Kafka-protocol broker, the Dapr scheduler, create-task, fire-reminder and send-notification each with its own daprd (bindings/local, tasks on %s), and two bench apps with their sidecars — `bench-caller`, standing for the Chat API, and `bench-sub`, a tiny function on `shared/runtime/fn`. Service invocation resolves app-ids through devstack's SQLite name resolution. For the sidecar hop with mTLS on, a second, smaller stack runs beside it for a while (section 1). ", storesName(r.Stores))
	p("Load is open-loop: requests leave at a fixed rate whatever the latency of earlier ones, and each latency is measured from the instant the request was *meant* to leave, so a stall is charged to every request queued behind it (no coordinated omission). Latencies go to HdrHistograms (1 µs–1 h, 3 significant digits). ")
	p("Each Dapr figure is measured side by side with its baseline in the same round, alternating which runs first; rounds: %d; where there are several, tables show the median round and, in brackets, the lowest and highest. \"Added\" is Dapr minus baseline, computed round by round. Between phases the bench waits (up to %.0f s) until the reminder path's consumers have caught up and the stack's processes are idle. Verdicts use the median.\n\n",
		r.Sizes.Rounds, r.Sizes.Settle)

	p("## Goals\n\n| Area | Target | Measured | Verdict |\n|---|---|---|---|\n")
	for _, g := range r.Goals {
		v := g.Verdict
		switch v {
		case "met":
			v = "**met**"
		case "not met":
			v = "**NOT met**"
		}
		p("| %s | %s | %s | %s |\n", g.Area, g.Target, g.Measured, v)
	}
	p("\n")

	pairTable := func(pairs []Pair) {
		p("| | Path | P50 ms | P90 ms | P95 ms | P99 ms | max ms | requests | errors | achieved /s |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, x := range pairs {
			name := x.Name
			if x.Saturated {
				name += " *(saturated)*"
			}
			row := func(label string, s Series) {
				p("| %s | %s | %s | %s | %s | %s | %s | %d | %d | %s |\n", name, label, st(s.P50), st(s.P90), st(s.P95), st(s.P99), st(s.Max), s.Count, s.Errors, st(s.Achieved))
			}
			row(x.Base.Label, x.Base)
			row(x.Dapr.Label, x.Dapr)
			p("| %s | **added by Dapr** | %s | %s | **%s** | %s | | | | |\n", name, st(x.AddedP50), st(x.AddedP90), st(x.AddedP95), st(x.AddedP99))
		}
		p("\n")
		for _, x := range pairs {
			for _, s := range []Series{x.Base, x.Dapr} {
				if s.FirstErr != "" {
					p("- %s, %s: first error: `%s`\n", x.Name, s.Label, trim(s.FirstErr))
				}
			}
		}
		p("\n")
	}
	p("## 1. Service invocation\n\n")
	p("The same `POST /users/{id}/tasks` (create-task: validate, a state transaction, a publish) sent straight to the function (baseline), and through `bench-caller`'s sidecar to create-task's sidecar to the function, the way the Chat API calls it (`/v1.0/invoke/create-task/method/users/{id}/tasks`). %g s a round at each rate. Tasks are spread over %d users. This stack runs no Sentry, so its sidecars talk without mTLS, as under `make run` without `MTLS=1`; the sidecar hop is measured with mTLS on as well, below. A rate above what the stack sustains (section 6) makes both paths queue until requests time out (%g s): such rows are marked *saturated*, and their \"added\" compares two queues.\n\n",
		r.Sizes.InvokeSeconds, r.Sizes.Users, r.Sizes.Timeout)
	pairTable(r.Invocation)
	if len(r.Hop) > 0 {
		p("The sidecar hop alone: `GET /healthz` of create-task, which does no work, so the function never limits the rate; both paths are warmed for %g s first. Dapr's published figure is %.1f ms P90 / %.1f ms P99 added by two sidecars at 1,000 requests/s, mTLS on, on Dapr's own test hardware: at 1,000/s this table is that setup but for mTLS, the next one is it.\n\n",
			r.Sizes.Warm, daprPublishedP90, daprPublishedP99)
		pairTable(r.Hop)
		hopCPUTable(p, r.HopCPU)
		p("**Sidecar hop, mTLS on.** The same measurement on a second, small stack started for it: broker, scheduler, the Dapr sentry, and create-task and `bench-caller` with their sidecars (tasks on %s). Each sidecar gets its workload certificate from sentry and the two talk over mTLS, as in a cluster: at 1,000/s this is the setup of Dapr's published figure, and the goals compare with it here. The baseline is the same request straight to that stack's create-task, in the same rounds.\n\n", storesName(r.Stores))
		if len(r.HopMTLS) == 0 {
			p("Not measured (see the notes).\n\n")
		} else {
			pairTable(r.HopMTLS)
		}
	}

	p("## 2. State\n\n")
	if len(r.State) == 0 {
		p("Not measured (PostgreSQL and Redis not running).\n\n")
	} else {
		p("Through `bench-caller`'s sidecar with the go-sdk gRPC client (as `shared/runtime/state` does), on a `state.postgresql` v2 and a `state.redis` component; baseline: the same statements straight to the server — pgx (pool) with the component's own SQL on a table of the same shape, and go-redis with the component's own commands (HGETALL, its save script, the script twice in MULTI/EXEC). Values of %d bytes, keys cycling over %d; %.0f operations/s for %g s a round.\n\n",
			len(stateValue), stateKeys, r.Sizes.StateRate, r.Sizes.StateSeconds)
		pairTable(r.State)
	}

	p("## 3. Pub/sub\n\n")
	if r.Publish == nil {
		p("Not measured.\n\n")
	} else {
		p("%.0f messages/s for %g s a round. Through Dapr: `bench-caller` publishes with the go-sdk client to its sidecar (`pubsub.kafka`), the broker, `bench-sub`'s sidecar, which delivers to the handler of a function built on `shared/runtime/fn`. Baseline: a Kafka client (franz-go) producing to the same broker and a Kafka consumer in the bench process. Publish latency is until the broker acknowledged; publish → handler is from the intended send time to the handler.\n\n",
			r.Publish.Rate, r.Publish.Seconds)
		pubs := []Pair{*r.Publish, *r.Delivery}
		pairTable(pubs)
		p("Delivered through Dapr: %d, lost %d, duplicated %d.\n\n", r.Delivery.Dapr.Count, r.Delivery.Dapr.Errors, r.Delivery.Dapr.Dups)
	}

	p("## 4. Reminders\n\n")
	if m := r.Reminders; m == nil {
		p("Not measured.\n\n")
	} else {
		p("%d Dapr jobs scheduled directly on `bench-sub`'s sidecar with the go-sdk client, exactly as fire-reminder schedules `reminder-<task id>` (one-shot due time, JSON data, constant failure policy of 60 retries), due evenly over one %.0f s window starting %.0f s after scheduling began. Each is delivered by the scheduler to `bench-sub`'s sidecar and its `/job/{name}` handler (the `shared/runtime/fn` runtime fire-reminder uses), which, like fire-reminder, waits if a job fires before its instant. Lateness = handler time − remind_at. This isolates the scheduler and sidecar; the full create-task → fire-reminder → send-notification path is section 5.\n\n",
			m.Count, m.WindowSeconds, m.LeadSeconds)
		p("| Scheduled | Schedule rate | Fired | Lost | Duplicated | Fired early (waited) | P50 ms | P95 ms | P99 ms | max ms |\n|---|---|---|---|---|---|---|---|---|---|\n")
		p("| %d (%d errors, %d after their due time) | %.0f/s | %d | %d | %d | %d | %s | %s | %s | %s |\n\n",
			m.Scheduled, m.ScheduleErrors, m.ScheduledLate, m.ScheduleRate, m.Fired, m.Lost, m.Duplicated, m.Early, f(m.Late.P50), f(m.Late.P95), f(m.Late.P99), f(m.Late.Max))
		p("One round (the run is as large as the goal's scenario).\n\n")
		if m.FirstErr != "" {
			p("First scheduling error: `%s`\n\n", trim(m.FirstErr))
		}
	}

	p("## 5. End to end: task created → notification delivered\n\n")
	if e := r.E2E; e == nil {
		p("Not measured.\n\n")
	} else {
		p("%.0f tasks/s for %g s, created through Dapr (as the Chat API does), each with `remind_at` %g s after its intended creation. Path: create-task → `todo.tasks.events` → fire-reminder schedules `reminder-<id>` → scheduler → fire-reminder → `todo.reminders.events` → send-notification → `notify-webhook` binding → a recording webhook in the bench. Lateness = webhook arrival − remind_at. The phase starts once fire-reminder and send-notification have consumed every earlier event (their consumer groups' committed offsets reach the end of their topics). One round.\n\n",
			e.Rate, e.Seconds, e.LeadSeconds)
		p("| Created | Create errors | Create P99 ms | Delivered | Lost | Duplicated |\n|---|---|---|---|---|---|\n| %d | %d | %s | %d | %d | %d |\n\n",
			e.Created, e.CreateErrors, f(e.Create.P99), e.Delivered, e.Lost, e.Duplicated)
		p("| Lateness (ms) | P50 | P90 | P95 | P99 | max |\n|---|---|---|---|---|---|\n")
		for _, row := range []struct {
			name string
			v    Pcts
		}{{"fire-reminder published reminder.due (its log, `late_ms`)", e.Fired}, {"send-notification delivered (its log, `late_ms`)", e.Handled}, {"**webhook received**", e.Late}} {
			p("| %s | %s | %s | %s | %s | %s |\n", row.name, f(row.v.P50), f(row.v.P90), f(row.v.P95), f(row.v.P99), f(row.v.Max))
		}
		p("\n")
		if e.FirstErr != "" {
			p("First create error: `%s`\n\n", trim(e.FirstErr))
		}
	}

	r.ladderMarkdown(p)

	p("## 6. Throughput\n\n")
	if len(r.Throughput) == 0 {
		p("Not measured.\n\n")
	}
	for _, t := range r.Throughput {
		p("### Tasks on %s\n\n", storesName(t.Stores))
		p("create-task, stepping the rate up (%g s a step) until a step misses %s; through Dapr (bench-caller's sidecar) and direct. The whole reminder path runs meanwhile: fire-reminder consumes every task event (for a task with no reminder it still reads the task and deletes any job). One pass; with retries on (%v here), a step that fails is run once more before it counts as failed.\n\n", t.StepSeconds, t.Criterion, r.Sizes.RetrySteps)
		p("**Highest sustained rate: %.0f/s through Dapr, %.0f/s direct.**\n\n", t.MaxDapr, t.MaxDirect)
		p("| Path | Rate /s | Achieved /s | P50 ms | P95 ms | P99 ms | Errors | Sustained |\n|---|---|---|---|---|---|---|---|\n")
		for _, s := range t.Steps {
			ok := "yes"
			if !s.Pass {
				ok = "**no**"
			}
			p("| %s | %.0f | %.0f | %s | %s | %s | %d | %s |\n", s.Path, s.Rate, s.Achieved, f(s.Latency.P50), f(s.Latency.P95), f(s.Latency.P99), s.Errors, ok)
		}
		p("\n")
		if s := t.at(pathDapr, t.MaxDapr); s != nil {
			p("CPU (%% of one core, averaged over the step) and memory of each process at %.0f/s through Dapr:\n\n| Process | CPU %% | RSS MiB | Peak RSS MiB (whole run) |\n|---|---|---|---|\n", s.Rate)
			total := 0.0
			for _, u := range s.Usage {
				p("| %s | %.0f | %.0f | %.0f |\n", u.Process, u.CPU, u.RSSMiB, u.PeakMiB)
				total += u.CPU
			}
			p("| **total** | **%.0f** (of %d00) | | |\n\n", total, r.Machine.Cores)
		}
		if s := t.at(pathDapr, profileRate); s != nil {
			p("CPU time per created task at %d/s through Dapr, by process (its CPU over the step divided by the tasks created; the bench's own load generator is not counted in the total):\n\n| Process | CPU ms per task |\n|---|---|\n", profileRate)
			for _, u := range s.Usage {
				p("| %s | %.2f |\n", u.Process, u.CPUMsPerTask)
			}
			p("| **total** | **%.2f** |\n\n", s.CPUMsPerTask)
		}
		for _, name := range slices.Sorted(maps.Keys(t.Profiles)) {
			p("Where %s spent its CPU at %d/s through Dapr (its CPU profile over a run of its own after the ladder, `go tool pprof -top`, heaviest ten by own time):\n\n```\n%s\n```\n\n", name, profileRate, t.Profiles[name])
		}
	}

	p("## 7. Cold start\n\n")
	if c := r.Cold; c == nil {
		p("Not measured.\n\n")
	} else {
		p("*Alone*: a function binary's process start to its `/readyz` answering 200, with a sidecar already up (readiness asks the sidecar's outbound health). *With sidecar*: the function and a new daprd of its app-id (same components) started together, as in a Knative pod, until both the function's `/readyz` and daprd's `/v1.0/healthz` answer 2xx. Probed every 2 ms; RSS read when ready. daprd binary: %.0f MiB (all components).\n\n", c.DaprdMiB)
		p("| Function | Binary MiB | Alone: ready ms | RSS MiB | With sidecar: ready ms | daprd RSS MiB |\n|---|---|---|---|---|---|\n")
		for _, row := range c.Rows {
			ws, sr := "–", "–"
			if row.WithSidecar != nil {
				ws, sr = st(*row.WithSidecar), st(*row.SidecarRSSMiB)
			}
			p("| %s | %.1f | %s | %s | %s | %s |\n", row.Function, row.BinaryMiB, st(row.Alone), st(row.RSSMiB), ws, sr)
		}
		p("\n")
		for _, e := range c.ErrorsSeen {
			p("- %s\n", e)
		}
	}

	p("## Chart\n\n![Latency distributions](benchmarks.png)\n\nEach panel plots latency against percentile (every round merged).\n\n")
	if len(r.Notes) > 0 {
		p("## Notes\n\n")
		for _, n := range r.Notes {
			p("- %s\n", n)
		}
		p("\n")
	}
	p("## Reproduce\n\n`make bench` (about 18 minutes) or `make bench-quick` (under 2 minutes, small sizes, writes to `.run/bench-quick/`). Sizes used here: `%s`.\n", sizesJSON(r.Sizes))
	return w.String()
}

func storesName(s string) string {
	if s == string(devstack.PostgresRedis) {
		return "PostgreSQL, dedupe on Redis"
	}
	return "SQLite"
}

func sizesJSON(s sizes) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func trim(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// ladderMarkdown writes the end-to-end ladders: the variants side by
// side, then each ladder's steps.
func (r *Report) ladderMarkdown(p func(string, ...any)) {
	p("### Highest rate, and the reminder path's variants\n\n")
	if len(r.E2ELadders) == 0 {
		p("Not measured.\n\n")
		return
	}
	p("The same end-to-end path at rising rates (%s tasks/s, %g s a step, `remind_at` %g s after each task's intended creation), until a step misses the goal: webhook lateness P99 ≤ %.0f ms, none lost (not delivered within %g s of the last `remind_at`), none duplicated, no create error. One pass: a failing step ends the ladder without a retry. Each variant runs on a stack of its own, started alike (broker, scheduler, create-task, fire-reminder and send-notification with their sidecars, `bench-caller`; %d users), differing only as the table says.\n\n",
		joinRates(r.Sizes.E2ESteps), r.Sizes.E2EStepSeconds, r.Sizes.E2ELead, e2eGoalP99, r.Sizes.Grace, r.Sizes.Users)
	common := commonRate(r.E2ELadders)
	at := "no rate every variant ran"
	if common > 0 {
		at = fmt.Sprintf("%.0f/s, the highest rate every variant ran", common)
	}
	p("Partitions and bulk delivery are read from each stack: the partitions of `%s`, and whether send-notification's subscription asked daprd for batches.\n\n", reminder.Topic)
	p("| Variant | Set-up | Partitions | Bulk delivery | Highest passing rate | Lateness at %s: P50 ms | P95 ms | P99 ms | Lost | Duplicated |\n|---|---|---|---|---|---|---|---|---|---|\n", at)
	for _, l := range r.E2ELadders {
		row := fmt.Sprintf("| %s | %s | %d | %s | **%.0f/s** |", l.Name, l.Setup, l.TopicPartitions, map[bool]string{true: "yes", false: "no"}[l.Bulk], l.MaxRate)
		if s := l.at(common); s != nil {
			p("%s %s | %s | %s | %d | %d |\n", row, f(s.Late.P50), f(s.Late.P95), f(s.Late.P99), s.Lost, s.Duplicated)
		} else {
			p("%s – | – | – | – | – |\n", row)
		}
	}
	p("\n| Variant | Rate /s | Achieved /s | Created | Delivered | Lost | Duplicated | P50 ms | P95 ms | P99 ms | max ms | Passed |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range r.E2ELadders {
		for _, s := range l.Steps {
			ok := "yes"
			if !s.Pass {
				ok = "**no**: " + s.Reason
			}
			p("| %s | %.0f | %.0f | %d | %d | %d | %d | %s | %s | %s | %s | %s |\n",
				l.Name, s.Rate, s.Achieved, s.Created, s.Delivered, s.Lost, s.Duplicated, f(s.Late.P50), f(s.Late.P95), f(s.Late.P99), f(s.Late.Max), ok)
		}
	}
	p("\n")
	for _, l := range r.E2ELadders {
		for _, s := range l.Steps {
			if s.FirstErr != "" {
				p("- %s at %.0f/s: first create error: `%s`\n", l.Name, s.Rate, trim(s.FirstErr))
			}
		}
	}
	p("\n")
}

func joinRates(rates []float64) string {
	out := make([]string, len(rates))
	for i, v := range rates {
		out[i] = strconvG(v)
	}
	return strings.Join(out, ", ")
}

// hopCPUTable shows what each process spent per request of the hop through
// Dapr at each rate, and how many of the machine's cores were busy: what
// the sidecars cost, apart from what they add in time.
func hopCPUTable(p func(string, ...any), runs []HopCPU) {
	if len(runs) == 0 {
		return
	}
	last := runs[len(runs)-1].CPUMsPerRequest
	var names []string
	for n, ms := range last {
		if ms >= 0.005 {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return last[names[i]] > last[names[j]] })
	p("CPU per request of the hop through Dapr, in a run of its own after each rate's rounds (ms of CPU time; processes that spent under 0.005 ms left out):\n\n| process |")
	for _, h := range runs {
		p(" at %.0f/s |", h.Rate)
	}
	p("\n|---|")
	for range runs {
		p("---|")
	}
	p("\n")
	for _, n := range names {
		p("| %s |", n)
		for _, h := range runs {
			p(" %.3f |", h.CPUMsPerRequest[n])
		}
		p("\n")
	}
	p("| **cores busy**, every process |")
	for _, h := range runs {
		p(" **%.2f** |", h.BusyCores)
	}
	p("\n\n")
}
