package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/todo-chatbot/functions/hack/bench/load"
	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
)

// message is what the pub/sub benchmarks publish: the phase it belongs
// to, its index and the instant it was meant to be sent.
type message struct {
	Phase    string `json:"p"`
	I        int    `json:"i"`
	Intended int64  `json:"t"` // Unix nanoseconds
}

// arrivals records, for one phase, when each message reached a handler.
type arrivals struct {
	mu    sync.Mutex
	count map[int]int
	hist  *hdrhistogram.Histogram // arrival - intended send
}

func newArrivals() *arrivals { return &arrivals{count: map[int]int{}, hist: load.NewHistogram()} }

func (a *arrivals) add(m message, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.count[m.I]++
	load.Record(a.hist, at.Sub(time.Unix(0, m.Intended)))
}

// unique and duplicates received so far.
func (a *arrivals) tally() (unique, dups int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range a.count {
		unique++
		dups += n - 1
	}
	return unique, dups
}

func (a *arrivals) histogram() *hdrhistogram.Histogram {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hist.Clone()
}

// wait returns when n distinct messages arrived, or at the deadline.
func (a *arrivals) wait(ctx context.Context, n int, deadline time.Time) {
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if u, _ := a.tally(); u >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// phases keeps arrivals by phase id.
type phases struct {
	mu sync.Mutex
	m  map[string]*arrivals
}

func (p *phases) get(id string) *arrivals {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*arrivals{}
	}
	a, ok := p.m[id]
	if !ok {
		a = newArrivals()
		p.m[id] = a
	}
	return a
}

func (p *phases) add(m message, at time.Time) { p.get(m.Phase).add(m, at) }

// jobData is the data of a bench reminder job, as reminder.Job is for
// fire-reminder: enough to tell when it was meant to fire.
type jobData struct {
	RemindAt time.Time `json:"remind_at"`
}

// firings records the bench's reminder jobs as they fire.
type firings struct {
	mu    sync.Mutex
	count map[string]int
	late  *hdrhistogram.Histogram
	early int // fired before remind_at and waited for it, as fire-reminder does
	last  time.Time
}

func newFirings() *firings { return &firings{count: map[string]int{}, late: load.NewHistogram()} }

func (f *firings) snapshot() (unique, dups, early int, h *hdrhistogram.Histogram, last time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.count {
		unique++
		dups += n - 1
	}
	return unique, dups, f.early, f.late.Clone(), f.last
}

// subscriber is bench-sub: a function on the project's runtime with a
// Dapr subscription to the bench topic and a handler for the bench's jobs.
type subscriber struct {
	phases phases
	mu     sync.Mutex
	jobs   *firings
}

// maxEarly is fire-reminder's: a job that fires before its instant waits
// for it, up to this long.
const maxEarly = 5 * time.Second

func (s *subscriber) resetJobs() *firings {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs = newFirings()
	return s.jobs
}

func (s *subscriber) onEvent(_ context.Context, e cloudevents.Event) error {
	at := time.Now()
	var m message
	if err := fn.DecodeData(e, &m); err != nil {
		return err
	}
	s.phases.add(m, at)
	return nil
}

// onJob mirrors fire-reminder's OnJob timing: never act before remind_at.
func (s *subscriber) onJob(ctx context.Context, name string, data []byte) error {
	var j jobData
	if err := json.Unmarshal(data, &j); err != nil {
		return fn.Permanent(fmt.Errorf("job %s data: %w", name, err))
	}
	early := time.Until(j.RemindAt)
	if early > maxEarly {
		return fmt.Errorf("job %s fired %s early", name, early)
	}
	if early > 0 {
		select {
		case <-time.After(early):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	at := time.Now()
	s.mu.Lock()
	f := s.jobs
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	f.mu.Lock()
	f.count[name]++
	if early > 0 {
		f.early++
	}
	load.Record(f.late, at.Sub(j.RemindAt))
	if at.After(f.last) {
		f.last = at
	}
	f.mu.Unlock()
	return nil
}

// startSubscriber serves bench-sub in this process, before its sidecar
// starts (daprd reads the app's subscriptions when it connects).
func (s *stack) startSubscriber() error {
	s.subApp = &subscriber{}
	cfg := fn.Config{
		Name:             subID,
		Port:             s.sub.AppPort,
		LogLevel:         "error",
		Sidecar:          sidecar.Config{Host: "127.0.0.1", HTTPPort: s.sub.HTTPPort, GRPCPort: s.sub.GRPCPort},
		DrainQuietPeriod: 0,
		ShutdownTimeout:  5 * time.Second,
		PubSub:           benchPS,
		StateStore:       "none",
		DedupeStore:      "none",
		SecretStore:      "none",
	}
	f, err := fn.NewWithConfig(cfg, quietLog)
	if err != nil {
		return err
	}
	f.Subscribe(fn.Subscription{Topic: benchTopic}, s.subApp.onEvent)
	f.Job(jobPrefix, s.subApp.onJob)
	ctx, cancel := context.WithCancel(context.Background())
	s.stopSub, s.subDone = cancel, make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(s.subDone)
		errc <- f.Run(ctx)
	}()
	// Wait until it listens.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-errc:
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("bench-sub: %w", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.sub.AppPort), 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("bench-sub did not start listening")
}
