package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	dapr "github.com/dapr/go-sdk/client"

	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

const jobPrefix = "bench-reminder-"

// scheduleJob schedules a one-shot job as fire-reminder does.
func scheduleJob(ctx context.Context, c dapr.Client, name string, at time.Time) error {
	job, err := reminder.DaprJob(name, jobData{RemindAt: at}, at)
	if err != nil {
		return err
	}
	return c.ScheduleJobAlpha1(ctx, job)
}

// Reminders is what the reminder benchmark measured.
type Reminders struct {
	Count          int     `json:"count"`
	WindowSeconds  float64 `json:"window_seconds"`
	LeadSeconds    float64 `json:"lead_seconds"`
	Scheduled      int     `json:"scheduled"`
	ScheduleErrors int     `json:"schedule_errors"`
	ScheduledLate  int     `json:"scheduled_after_due"`
	ScheduleSecs   float64 `json:"schedule_seconds"`
	ScheduleRate   float64 `json:"schedule_per_s"`
	Fired          int     `json:"fired"`
	Lost           int     `json:"lost"`
	Duplicated     int     `json:"duplicated"`
	Early          int     `json:"fired_early_and_waited"`
	Late           Pcts    `json:"lateness_ms"`
	FirstErr       string  `json:"first_error,omitempty"`

	hist *hdrhistogram.Histogram
}

// scheduleAll schedules jobs name(i) due at due(i), i < n, with a few
// calls in flight, and returns how many failed, how many were scheduled
// only after their due time, and the first error.
func scheduleAll(ctx context.Context, c dapr.Client, n, workers int, name func(int) string, due func(int) time.Time) (errs, late int, first string) {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		nErr  atomic.Int64
		nLate atomic.Int64
		once  sync.Once
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				at := due(i)
				if err := scheduleJob(ctx, c, name(i), at); err != nil {
					nErr.Add(1)
					once.Do(func() { first = err.Error() })
					continue
				}
				if time.Now().After(at) {
					nLate.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(nErr.Load()), int(nLate.Load()), first
}

// reminders: N Dapr jobs scheduled on bench-sub's sidecar, due spread over
// one window, delivered to bench-sub's job handler (which, like
// fire-reminder, never acts before remind_at).
func (b *bench) reminders(ctx context.Context) error {
	c := b.s.subDapr
	run := randomHex(4)
	const workers = 16
	// How fast does the scheduler take jobs? Probe with jobs due in an hour
	// (after the run: they never fire).
	const probe = 100
	t0 := time.Now()
	if errs, _, first := scheduleAll(ctx, c, probe, workers,
		func(i int) string { return jobPrefix + "probe-" + run + "-" + strconv.Itoa(i) },
		func(int) time.Time { return t0.Add(time.Hour) }); errs > 0 {
		return fmt.Errorf("scheduling probe jobs: %d failed: %s", errs, first)
	}
	rate := probe / time.Since(t0).Seconds()
	n, window := b.sz.Reminders, secs(b.sz.ReminderWindow)
	lead := max(2*time.Second, time.Duration(1.5*float64(n)/rate*float64(time.Second))+time.Second)
	b.log("scheduler takes about %.0f jobs/s; scheduling %d reminders due %s from now, over %s", rate, n, lead.Round(time.Second), window)

	f := b.s.subApp.resetJobs()
	start := time.Now().Add(lead)
	due := func(i int) time.Time { return start.Add(time.Duration(float64(window) * float64(i) / float64(n))) }
	t1 := time.Now()
	errs, late, first := scheduleAll(ctx, c, n, workers, func(i int) string { return jobPrefix + run + "-" + strconv.Itoa(i) }, due)
	r := Reminders{Count: n, WindowSeconds: window.Seconds(), LeadSeconds: lead.Seconds(), Scheduled: n - errs,
		ScheduleErrors: errs, ScheduledLate: late, ScheduleSecs: time.Since(t1).Seconds(), FirstErr: first}
	r.ScheduleRate = float64(n) / r.ScheduleSecs
	b.log("scheduled %d in %.1f s (%d errors, %d after their due time)", r.Scheduled, r.ScheduleSecs, errs, late)

	deadline := start.Add(window).Add(secs(b.sz.Grace))
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if u, _, _, _, _ := f.snapshot(); u >= r.Scheduled {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // a duplicate would come soon after
	unique, dups, early, h, _ := f.snapshot()
	r.Fired, r.Duplicated, r.Early, r.Lost = unique, dups, early, r.Scheduled-unique
	r.Late, r.hist = pcts(h), h
	b.log("reminders: fired %d of %d, lost %d, duplicated %d; lateness P50 %.0f ms, P99 %.0f ms, max %.0f ms",
		r.Fired, r.Scheduled, r.Lost, r.Duplicated, r.Late.P50, r.Late.P99, r.Late.Max)
	b.rep.Reminders = &r
	return ctx.Err()
}
