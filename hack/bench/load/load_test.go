package load

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"
)

// One stall of 200 ms in a steady 1,000 requests/s: a closed-loop
// measurement sees one slow request, the users saw every request that
// queued behind it.
func TestSimulateCorrectsCoordinatedOmission(t *testing.T) {
	c := Config{Rate: 1000, Duration: time.Second}
	plan := c.Schedule(time.Unix(0, 0))
	if len(plan) != 1000 {
		t.Fatalf("schedule has %d requests, want 1000", len(plan))
	}
	if got := plan[1].Sub(plan[0]); got != time.Millisecond {
		t.Fatalf("interval %s, want 1ms", got)
	}
	service := make([]time.Duration, len(plan))
	for i := range service {
		service[i] = 100 * time.Microsecond
	}
	service[100] = 200 * time.Millisecond

	corrected, uncorrected := Simulate(plan, service)
	if p99 := Quantile(uncorrected, 99); p99 > 0.2 {
		t.Errorf("uncorrected P99 = %.3f ms, want the 0.1 ms service time", p99)
	}
	// About 220 requests queued behind the stall: request 100+k, meant for
	// 100+k ms, finished at about 300.1+0.1k ms, so its latency is about
	// 200-0.9k ms. The slowest 10% (k < 100) took over 110 ms, the slowest
	// 1% over 191 ms.
	if p99 := Quantile(corrected, 99); p99 < 185 || p99 > 195 {
		t.Errorf("corrected P99 = %.1f ms, want about 191 ms", p99)
	}
	if p90 := Quantile(corrected, 90); p90 < 105 || p90 > 115 {
		t.Errorf("corrected P90 = %.1f ms, want about 110 ms", p90)
	}
	if p50 := Quantile(corrected, 50); p50 > 0.2 {
		t.Errorf("corrected P50 = %.3f ms, want the service time: most requests never waited", p50)
	}
	if got, want := corrected.TotalCount(), int64(1000); got != want {
		t.Errorf("corrected count %d, want %d", got, want)
	}
}

// Run charges queueing behind a slow request to the requests that waited.
// The assertions are lower bounds that hold however slow the machine is:
// with one worker busy for 300 ms, nothing meant for the first 200 ms can
// finish before 300 ms.
func TestRunMeasuresFromIntendedSendTime(t *testing.T) {
	var calls atomic.Int32
	c := Config{Rate: 200, Duration: time.Second, Workers: 1}
	res := Run(context.Background(), c, func(ctx context.Context, i int, _ time.Time) error {
		calls.Add(1)
		if i == 0 {
			time.Sleep(300 * time.Millisecond)
		}
		return nil
	})
	if res.Sent != 200 || calls.Load() != 200 || res.Errors != 0 {
		t.Fatalf("sent %d, called %d, errors %d; want 200, 200, 0", res.Sent, calls.Load(), res.Errors)
	}
	// Requests 0..40 (41 of 200, the top 20.5%) took at least 100 ms.
	if p80 := Quantile(res.Latency, 80); p80 < 100 {
		t.Errorf("P80 from intended send = %.1f ms, want >= 100 ms", p80)
	}
	if max := float64(res.Latency.Max()) / 1000; max < 300 {
		t.Errorf("max = %.1f ms, want >= 300 ms", max)
	}
	if res.Service.TotalCount() != 200 {
		t.Errorf("service histogram has %d values, want 200", res.Service.TotalCount())
	}
}

func TestRunTimesOutRequestsQueuedTooLong(t *testing.T) {
	c := Config{Rate: 100, Duration: 200 * time.Millisecond, Workers: 1, Timeout: 50 * time.Millisecond}
	res := Run(context.Background(), c, func(ctx context.Context, i int, _ time.Time) error {
		<-ctx.Done() // every request hangs until its deadline
		return ctx.Err()
	})
	if res.Sent != 20 || res.Errors != 20 {
		t.Fatalf("sent %d, errors %d; want 20 and 20", res.Sent, res.Errors)
	}
	if res.FirstErr == "" {
		t.Error("first error not kept")
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Stat
	}{
		{[]float64{3, 1, 2}, Stat{Median: 2, Min: 1, Max: 3}},
		{[]float64{4, 1, 3, 2}, Stat{Median: 2.5, Min: 1, Max: 4}},
		{[]float64{7}, Stat{Median: 7, Min: 7, Max: 7}},
		{[]float64{-1, 5, 0.5}, Stat{Median: 0.5, Min: -1, Max: 5}},
	} {
		if got := Summarize(tc.in); got != tc.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	in := []float64{3, 1, 2}
	Summarize(in)
	if in[0] != 3 || in[1] != 1 {
		t.Error("Summarize reordered its input")
	}
	if s := Summarize(nil); !math.IsNaN(s.Median) || !math.IsNaN(s.Min) || !math.IsNaN(s.Max) {
		t.Errorf("Summarize(nil) = %+v, want NaNs", s)
	}
}

func TestDiffIsRoundByRound(t *testing.T) {
	base := []float64{1.0, 2.0, 1.5}
	dapr := []float64{1.5, 2.25, 3.5}
	got := Diff(base, dapr)
	want := []float64{0.5, 0.25, 2}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Diff = %v, want %v", got, want)
		}
	}
	// The added cost is summarized over rounds, not computed from the two
	// medians (which may come from different rounds).
	if s := Summarize(got); s != (Stat{Median: 0.5, Min: 0.25, Max: 2}) {
		t.Errorf("Summarize(Diff) = %+v", s)
	}
}
