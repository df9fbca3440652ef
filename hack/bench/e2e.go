package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/todo-chatbot/functions/hack/bench/load"
)

// E2E is what one end-to-end run measured.
type E2E struct {
	Rate         float64 `json:"rate_per_s"`
	Seconds      float64 `json:"seconds"`
	LeadSeconds  float64 `json:"lead_seconds"`
	Achieved     float64 `json:"achieved_per_s"` // tasks sent per second, until the last answer
	Created      int     `json:"created"`
	CreateErrors int     `json:"create_errors"`
	Create       Pcts    `json:"create_latency_ms"`
	Delivered    int     `json:"delivered"`
	Lost         int     `json:"lost"`
	Duplicated   int     `json:"duplicated"`
	Late         Pcts    `json:"lateness_ms"`           // webhook arrival - remind_at
	Fired        Pcts    `json:"fire_reminder_late_ms"` // fire-reminder's "reminder due" late_ms
	Handled      Pcts    `json:"send_notification_late_ms"`
	FirstErr     string  `json:"first_error,omitempty"`

	hist *hdrhistogram.Histogram
}

// e2eGoalP99 is the end-to-end lateness goal: webhook arrival − remind_at.
const e2eGoalP99 = 1000.0 // ms

// failures says why r misses the end-to-end goal (P99 ≤ 1 s, nothing
// lost, duplicated or failed to create); empty if it meets it. A create
// path that falls behind the rate needs no test of its own: lateness
// counts from each task's intended creation.
func (r *E2E) failures() []string {
	var why []string
	if r.Delivered == 0 {
		why = append(why, "nothing delivered")
	} else if r.Late.P99 > e2eGoalP99 {
		why = append(why, fmt.Sprintf("lateness P99 %s ms > %.0f ms", f(r.Late.P99), e2eGoalP99))
	}
	if r.Lost > 0 {
		why = append(why, fmt.Sprintf("%d lost", r.Lost))
	}
	if r.Duplicated > 0 {
		why = append(why, fmt.Sprintf("%d duplicated", r.Duplicated))
	}
	if r.CreateErrors > 0 {
		why = append(why, fmt.Sprintf("%d create errors", r.CreateErrors))
	}
	return why
}

// endToEnd is one run of the end-to-end path at the configured rate.
func (b *bench) endToEnd(ctx context.Context) error {
	r := b.e2eRun(ctx, "end to end", b.sz.E2ERate, b.sz.E2ESeconds)
	b.rep.E2E = &r
	return ctx.Err()
}

// e2eRun: tasks with a reminder created through Dapr at a steady rate for
// seconds, each reminding a few seconds after it was created; lateness is
// when the notification reached the webhook, minus remind_at. The path is
// create-task → todo.tasks.events → fire-reminder (schedules the job) →
// scheduler → fire-reminder → todo.reminders.events → send-notification →
// notify-webhook binding → webhook. label names the run in logs and notes.
func (b *bench) e2eRun(ctx context.Context, label string, rate, seconds float64) E2E {
	lead := secs(b.sz.E2ELead)
	var (
		mu  sync.Mutex
		ids = map[string]time.Time{}
	)
	cfg := b.cfg(rate, seconds)
	// Nothing queued ahead of this run's events: the task events of the
	// bench users' first tasks, and of any earlier run, must have been
	// consumed.
	t0 := time.Now()
	left := b.drain(ctx, 2*time.Minute)
	b.log("%s: reminder path consumers caught up in %s (%d events left)", label, time.Since(t0).Round(10*time.Millisecond), left)
	if left > 0 {
		b.rep.note(fmt.Sprintf("%s: %d events were still queued for fire-reminder or send-notification when the run began.", label, left))
	}
	b.settle()
	res := load.Run(ctx, cfg, func(ctx context.Context, i int, intended time.Time) error {
		at := intended.Add(lead)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.daprURL("/users/"+b.nextUser()+"/tasks"), strings.NewReader(taskBody(i, at)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("create: %d: %s", resp.StatusCode, body)
		}
		var t struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &t); err != nil || t.ID == "" {
			return fmt.Errorf("create: no task id in %s", body)
		}
		mu.Lock()
		ids[t.ID] = at
		mu.Unlock()
		return nil
	})
	r := E2E{Rate: cfg.Rate, Seconds: cfg.Duration.Seconds(), LeadSeconds: lead.Seconds(), Achieved: res.Achieved(), Created: len(ids),
		CreateErrors: res.Errors, Create: pcts(res.Latency), FirstErr: res.FirstErr}
	want := map[string]bool{}
	var last time.Time
	for id, at := range ids {
		want[id] = true
		if at.After(last) {
			last = at
		}
	}
	deadline := last.Add(secs(b.sz.Grace))
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if len(b.s.hook.deliveries(want)) >= len(want) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	got := b.s.hook.deliveries(want)
	h := load.NewHistogram()
	for _, ds := range got {
		load.Record(h, ds[0].At.Sub(ds[0].RemindAt))
		r.Duplicated += len(ds) - 1
	}
	r.Delivered, r.Lost = len(got), len(want)-len(got)
	r.Late, r.hist = pcts(h), h
	r.Fired = pcts(logLateness(b.s.LogPath("fire-reminder"), "reminder due", want))
	r.Handled = pcts(logLateness(b.s.LogPath("send-notification"), "reminder notification handled", want))
	b.log("%s at %.0f/s: created %d (%d errors), delivered %d, lost %d, duplicated %d; lateness P50 %.0f ms, P99 %.0f ms, max %.0f ms",
		label, rate, r.Created, r.CreateErrors, r.Delivered, r.Lost, r.Duplicated, r.Late.P50, r.Late.P99, r.Late.Max)
	return r
}

// logLateness collects late_ms from the log lines with message msg about
// the given tasks.
func logLateness(path, msg string, tasks map[string]bool) *hdrhistogram.Histogram {
	h := load.NewHistogram()
	f, err := os.Open(path)
	if err != nil {
		return h
	}
	defer func() { _ = f.Close() }() // read only
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	needle := []byte(`"` + msg + `"`)
	for sc.Scan() {
		if !bytes.Contains(sc.Bytes(), needle) {
			continue
		}
		var l struct {
			Msg    string   `json:"msg"`
			TaskID string   `json:"task_id"`
			LateMS *float64 `json:"late_ms"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != msg || !tasks[l.TaskID] || l.LateMS == nil {
			continue
		}
		load.Record(h, time.Duration(*l.LateMS*float64(time.Millisecond)))
	}
	return h
}
