package main

import (
	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/todo-chatbot/functions/hack/bench/load"
	"github.com/todo-chatbot/functions/hack/bench/proc"
)

// Pcts are one round's latency percentiles, in milliseconds.
type Pcts struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func pcts(h *hdrhistogram.Histogram) Pcts {
	return Pcts{
		P50: load.Quantile(h, 50), P90: load.Quantile(h, 90), P95: load.Quantile(h, 95),
		P99: load.Quantile(h, 99), Max: float64(h.Max()) / 1000,
	}
}

// measurement is one round of one path.
type measurement struct {
	hist     *hdrhistogram.Histogram
	count    int // requests or messages measured
	errors   int // failed, lost or never sent
	dups     int
	achieved float64 // per second
	firstErr string
}

func fromResult(r *load.Result) measurement {
	return measurement{hist: r.Latency, count: r.Sent, errors: r.Errors, achieved: r.Achieved(), firstErr: r.FirstErr}
}

// Series is one path measured over rounds: each round's percentiles and
// their median, min and max.
type Series struct {
	Label    string    `json:"label"`
	Rounds   []Pcts    `json:"rounds"`
	P50      load.Stat `json:"p50_ms"`
	P90      load.Stat `json:"p90_ms"`
	P95      load.Stat `json:"p95_ms"`
	P99      load.Stat `json:"p99_ms"`
	Max      load.Stat `json:"max_ms"`
	Achieved load.Stat `json:"achieved_per_s"`
	Count    int       `json:"count"`
	Errors   int       `json:"errors"`
	Dups     int       `json:"duplicates,omitempty"`
	FirstErr string    `json:"first_error,omitempty"`

	achieved []float64
	hist     *hdrhistogram.Histogram // every round merged, for the chart
}

func (s *Series) add(m measurement) {
	if s.hist == nil {
		s.hist = load.NewHistogram()
	}
	s.hist.Merge(m.hist)
	s.Rounds = append(s.Rounds, pcts(m.hist))
	s.achieved = append(s.achieved, m.achieved)
	s.Count += m.count
	s.Errors += m.errors
	s.Dups += m.dups
	if s.FirstErr == "" {
		s.FirstErr = m.firstErr
	}
	s.summarize()
}

func (s *Series) col(f func(Pcts) float64) []float64 {
	out := make([]float64, len(s.Rounds))
	for i, r := range s.Rounds {
		out[i] = f(r)
	}
	return out
}

func (s *Series) summarize() {
	s.P50 = load.Summarize(s.col(func(p Pcts) float64 { return p.P50 }))
	s.P90 = load.Summarize(s.col(func(p Pcts) float64 { return p.P90 }))
	s.P95 = load.Summarize(s.col(func(p Pcts) float64 { return p.P95 }))
	s.P99 = load.Summarize(s.col(func(p Pcts) float64 { return p.P99 }))
	s.Max = load.Summarize(s.col(func(p Pcts) float64 { return p.Max }))
	s.Achieved = load.Summarize(s.achieved)
}

// Pair is a Dapr path and its baseline, measured side by side in each
// round; Added is the Dapr path minus the baseline, round by round.
type Pair struct {
	Name    string  `json:"name"`
	Rate    float64 `json:"rate_per_s"`
	Seconds float64 `json:"seconds_per_round"`
	Load1   float64 `json:"load_average_1m_at_start"`
	Base    Series  `json:"baseline"`
	Dapr    Series  `json:"dapr"`
	// Saturated: in some round a path failed requests or fell behind the
	// rate, so its latencies are queueing, not service, and "added" means
	// little.
	Saturated bool      `json:"saturated"`
	AddedP50  load.Stat `json:"added_p50_ms"`
	AddedP90  load.Stat `json:"added_p90_ms"`
	AddedP95  load.Stat `json:"added_p95_ms"`
	AddedP99  load.Stat `json:"added_p99_ms"`
}

func newPair(name string, rate, seconds float64, base, dapr string) Pair {
	return Pair{Name: name, Rate: rate, Seconds: seconds, Load1: proc.LoadAvg()[0], Base: Series{Label: base}, Dapr: Series{Label: dapr}}
}

// check marks the pair saturated if m failed requests or fell behind.
func (p *Pair) check(m measurement) measurement {
	if m.errors > 0 || (p.Rate > 0 && m.achieved < 0.95*p.Rate) {
		p.Saturated = true
	}
	return m
}

func (p *Pair) summarize() {
	d := func(f func(Pcts) float64) load.Stat {
		return load.Summarize(load.Diff(p.Base.col(f), p.Dapr.col(f)))
	}
	p.AddedP50 = d(func(x Pcts) float64 { return x.P50 })
	p.AddedP90 = d(func(x Pcts) float64 { return x.P90 })
	p.AddedP95 = d(func(x Pcts) float64 { return x.P95 })
	p.AddedP99 = d(func(x Pcts) float64 { return x.P99 })
}

// pairRounds measures base and dapr in each round, alternating which goes
// first so neither always runs on a warmer (or more loaded) system.
func pairRounds(name string, rate float64, seconds float64, rounds int, settle func(), base, dapr func(round int) measurement) Pair {
	p := newPair(name, rate, seconds, "direct", "through Dapr")
	for r := 0; r < rounds; r++ {
		run := func(first bool) {
			settle()
			if first {
				p.Base.add(p.check(base(r)))
			} else {
				p.Dapr.add(p.check(dapr(r)))
			}
		}
		run(r%2 == 0)
		run(r%2 != 0)
	}
	p.summarize()
	return p
}
