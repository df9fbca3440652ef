// Package load is an open-loop load generator: it issues requests at a
// fixed rate whatever the latency of earlier ones, and measures each
// request's latency from the instant it was meant to be sent. A request
// that waits because the system under test (or the generator's own worker
// pool) is behind is charged that wait, so a stall shows in the
// percentiles as it would to users (no coordinated omission).
package load

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 µs to 1 hour, three significant digits.
const (
	lowest  = 1
	highest = int64(time.Hour / time.Microsecond)
	digits  = 3
)

// NewHistogram returns an empty latency histogram in microseconds.
func NewHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(lowest, highest, digits) }

// Record adds d to h, clamped to the histogram's range.
func Record(h *hdrhistogram.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < lowest {
		us = lowest
	}
	if us > highest {
		us = highest
	}
	_ = h.RecordValue(us)
}

// Config is one load phase.
type Config struct {
	Rate     float64       // requests per second
	Duration time.Duration // how long requests are issued
	// Workers bounds the requests in flight (default 256). When all are
	// busy, due requests queue and their wait counts in their latency.
	Workers int
	// Timeout bounds each request, counted from its intended send time
	// (default 10 s); a request still queued then fails without being sent.
	// It also bounds how long the phase runs past Duration.
	Timeout time.Duration
}

// Func sends request i, meant to be sent at intended.
type Func func(ctx context.Context, i int, intended time.Time) error

// Result is what one phase measured.
type Result struct {
	Rate     float64
	Duration time.Duration
	Sent     int // requests issued
	Errors   int
	FirstErr string
	// Elapsed is from the first intended send to the last completion.
	Elapsed time.Duration
	// Latency is from each request's intended send time to its completion,
	// errors included: the corrected figure this package reports.
	Latency *hdrhistogram.Histogram
	// Service is from the actual send to the completion: what a closed-loop
	// tool would report, kept only to show the difference.
	Service *hdrhistogram.Histogram
}

// Achieved is the completed requests per second over the phase.
func (r *Result) Achieved() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// Count is the number of requests the phase intended to send.
func (c Config) Count() int { return int(c.Rate*c.Duration.Seconds() + 0.5) }

// Schedule is the intended send time of each request: evenly spaced from
// start at the configured rate.
func (c Config) Schedule(start time.Time) []time.Time {
	n := c.Count()
	out := make([]time.Time, n)
	for i := range out {
		out[i] = start.Add(time.Duration(float64(i) * float64(time.Second) / c.Rate))
	}
	return out
}

// Run issues the phase's requests and waits for all of them.
func Run(ctx context.Context, c Config, do Func) *Result {
	if c.Workers <= 0 {
		c.Workers = 256
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	res := &Result{Rate: c.Rate, Duration: c.Duration, Latency: NewHistogram(), Service: NewHistogram()}
	start := time.Now().Add(5 * time.Millisecond)
	plan := c.Schedule(start)
	type job struct {
		i        int
		intended time.Time
	}
	queue := make(chan job, len(plan))
	var (
		mu   sync.Mutex
		last time.Time
		wg   sync.WaitGroup
	)
	for w := 0; w < c.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				deadline := j.intended.Add(c.Timeout)
				sent := time.Now()
				var err error
				if sent.After(deadline) {
					err = context.DeadlineExceeded
				} else {
					rctx, cancel := context.WithDeadline(ctx, deadline)
					err = do(rctx, j.i, j.intended)
					cancel()
				}
				done := time.Now()
				mu.Lock()
				res.Sent++
				if err != nil {
					res.Errors++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				}
				Record(res.Latency, done.Sub(j.intended))
				Record(res.Service, done.Sub(sent))
				if done.After(last) {
					last = done
				}
				mu.Unlock()
			}
		}()
	}
	timer := time.NewTimer(0)
	<-timer.C
dispatch:
	for i, at := range plan {
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break dispatch
			}
		}
		queue <- job{i: i, intended: at}
	}
	close(queue)
	wg.Wait()
	if !last.IsZero() {
		res.Elapsed = last.Sub(start)
	}
	if res.Sent < len(plan) {
		// Cancelled: what was never issued is reported as failed.
		res.Errors += len(plan) - res.Sent
		if res.FirstErr == "" {
			res.FirstErr = errors.Join(ctx.Err(), errors.New("phase cancelled")).Error()
		}
	}
	return res
}

// Simulate replays a schedule against a server with one worker whose
// service times are given: a request starts when it is due and the worker
// is free. It returns the corrected (from the intended time) and the
// uncorrected (from the actual start) latency histograms. It is the model
// Run implements, with no clock: tests use it to check the correction.
func Simulate(intended []time.Time, service []time.Duration) (corrected, uncorrected *hdrhistogram.Histogram) {
	corrected, uncorrected = NewHistogram(), NewHistogram()
	var free time.Time
	for i, at := range intended {
		begin := at
		if free.After(begin) {
			begin = free
		}
		done := begin.Add(service[i])
		free = done
		Record(corrected, done.Sub(at))
		Record(uncorrected, done.Sub(begin))
	}
	return corrected, uncorrected
}

// Quantile is the latency at percentile p (0-100) of h, in milliseconds.
func Quantile(h *hdrhistogram.Histogram, p float64) float64 {
	return float64(h.ValueAtPercentile(p)) / 1000
}
