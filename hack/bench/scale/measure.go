package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/todo-chatbot/functions/hack/bench/load"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

type usersPoint struct {
	Users     int     `json:"users"`
	Tasks     int     `json:"tasks"`
	Reminders int     `json:"reminders_ahead"` // 1% of tasks, due in the next week
	SeedS     float64 `json:"seed_s"`
	CreateP50 float64 `json:"create_p50_ms"` // first tasks of new users, open loop
	CreateP95 float64 `json:"create_p95_ms"`
	CreateErr int     `json:"create_errors"`
	// CreateRate is the rate achieved: below the target, the stack was
	// saturated and the latency is queueing, not contention.
	CreateRate float64  `json:"create_achieved_per_s"`
	Sweep      sweepRun `json:"sweep"`
	// CatchUp is the first run of a fresh store: no progress yet, so it
	// reads the agenda's whole 24 hours.
	CatchUp *sweepRun `json:"catch_up,omitempty"`
}

type sweepRun struct {
	TookMS    float64 `json:"took_ms"` // from the sweep's own log line
	Tasks     int     `json:"tasks"`
	Reminders int     `json:"reminders_checked"`
}

type tasksPoint struct {
	Tasks     int                `json:"tasks"`
	CreateP50 float64            `json:"create_p50_ms"` // the last creates up to this size
	ListP50   float64            `json:"list_p50_ms"`   // limit=20, default order
	ListP95   float64            `json:"list_p95_ms"`
	Queries   map[string]float64 `json:"queries_p50_ms"` // each filter and another order, limit=20
}

type storeResult struct {
	Store string       `json:"store"`
	Users []usersPoint `json:"users"`
	Tasks []tasksPoint `json:"one_user"`
}

var httpClient = &http.Client{Timeout: 2 * time.Minute}

func (s *stack) call(ctx context.Context, fn, method, path string, body any, header map[string]string) (time.Duration, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.Functions[fn].URL()+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode >= 300 {
		return took, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return took, nil
}

func (s *stack) create(ctx context.Context, user string, body map[string]any) (time.Duration, error) {
	return s.call(ctx, "create-task", http.MethodPost, "/users/"+user+"/tasks", body, nil)
}

// sweep runs one sweep as a PingSource delivery does and returns what its
// log line says.
func (s *stack) sweep(ctx context.Context) (sweepRun, error) {
	ping := map[string]string{"ce-specversion": "1.0", "ce-id": randomHex(12), "ce-source": "bench-scale", "ce-type": "dev.knative.sources.ping"}
	if _, err := s.call(ctx, "sweep-reminders", http.MethodPost, "/events/reminder-sweep", map[string]any{}, ping); err != nil {
		return sweepRun{}, err
	}
	f, err := os.Open(s.LogPath("sweep-reminders"))
	if err != nil {
		return sweepRun{}, err
	}
	defer func() { _ = f.Close() }() // read only
	var last sweepRun
	found := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg       string  `json:"msg"`
			TookMS    float64 `json:"took_ms"`
			Tasks     int     `json:"tasks"`
			Reminders int     `json:"reminders_checked"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "sweep done" {
			last, found = sweepRun{TookMS: line.TookMS, Tasks: line.Tasks, Reminders: line.Reminders}, true
		}
	}
	if !found {
		return last, fmt.Errorf("no \"sweep done\" line in %s", s.LogPath("sweep-reminders"))
	}
	return last, sc.Err()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return ms(s[min(len(s)-1, int(p/100*float64(len(s))))])
}

func (s *stack) measure(ctx context.Context, cfg config) (storeResult, error) {
	res := storeResult{Store: s.kind}
	run := randomHex(4)
	// Warm up: the first requests after start pay for connections and
	// the broker's first publish.
	for i := range 20 {
		if _, err := s.create(ctx, fmt.Sprintf("warm-%s-%d", run, i), map[string]any{"title": "warm up"}); err != nil {
			return res, err
		}
	}
	seeded := 0
	var due []task.Task
	for i, n := range cfg.Users {
		p := usersPoint{Users: n, Tasks: n}
		start := time.Now()
		r, err := s.seedUsers(ctx, run, seeded, n)
		if err != nil {
			return res, err
		}
		seeded = n
		p.SeedS = time.Since(start).Seconds()
		p.Reminders = r
		log.Printf("%s: %d users seeded in %.1f s", s.kind, n, p.SeedS)
		if i == 0 {
			c, err := s.sweep(ctx)
			if err != nil {
				return res, err
			}
			p.CatchUp = &c
		}
		// The same number of reminders due at every size: the last
		// size's are deleted (their entries stay, as a delete leaves them).
		for _, t := range due {
			if _, v, err := s.store.Get(ctx, t.UserID, t.ID); err == nil {
				if err := s.store.Delete(ctx, t.UserID, t.ID, v); err != nil {
					return res, err
				}
			}
		}
		due = nil
		for j := range cfg.Due {
			t := task.Task{ID: task.NewID(), UserID: fmt.Sprintf("due-%s-%d-%d", run, n, j), Title: "due soon", Priority: task.PriorityMedium,
				CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
			at := time.Now().Add(40 * time.Second).UTC()
			t.RemindAt = &at
			if err := s.store.Create(ctx, t); err != nil {
				return res, err
			}
			due = append(due, t)
		}
		if _, err := s.sweep(ctx); err != nil { // its window now starts just before this one's
			return res, err
		}
		var runs []sweepRun
		for range 3 {
			sr, err := s.sweep(ctx)
			if err != nil {
				return res, err
			}
			runs = append(runs, sr)
		}
		slices.SortFunc(runs, func(a, b sweepRun) int { return int(a.TookMS - b.TookMS) })
		p.Sweep = runs[1]

		lr := load.Run(ctx, load.Config{Rate: cfg.Rate, Duration: time.Duration(float64(cfg.Creates) / cfg.Rate * float64(time.Second))},
			func(ctx context.Context, k int, _ time.Time) error {
				_, err := s.create(ctx, fmt.Sprintf("new-%s-%d-%d", run, n, k), map[string]any{"title": "first task"})
				return err
			})
		p.CreateP50, p.CreateP95, p.CreateErr = load.Quantile(lr.Latency, 50), load.Quantile(lr.Latency, 95), lr.Errors
		p.CreateRate = lr.Achieved()
		if lr.FirstErr != "" {
			log.Printf("%s: create: %d errors, first: %s", s.kind, lr.Errors, lr.FirstErr)
		}
		log.Printf("%s: %d users: sweep %.0f ms (%d tasks, %d reminders), create P50 %.1f P95 %.1f ms",
			s.kind, n, p.Sweep.TookMS, p.Sweep.Tasks, p.Sweep.Reminders, p.CreateP50, p.CreateP95)
		res.Users = append(res.Users, p)
	}
	for _, n := range cfg.Tasks {
		p, err := s.oneUser(ctx, run, n, cfg)
		if err != nil {
			return res, err
		}
		log.Printf("%s: one user, %d tasks: create P50 %.1f ms, list P50 %.1f P95 %.1f ms, queries %v", s.kind, n, p.CreateP50, p.ListP50, p.ListP95, p.Queries)
		res.Tasks = append(res.Tasks, p)
	}
	return res, nil
}

// seedUsers imports users from..to-1 with one task each; 1% have a
// reminder some time in the next week. It returns how many reminders.
func (s *stack) seedUsers(ctx context.Context, run string, from, to int) (int, error) {
	const batch = 1000
	now := time.Now().UTC()
	var (
		mu        sync.Mutex
		firstErr  error
		reminders int
		wg        sync.WaitGroup
	)
	work := make(chan []task.Task)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ts := range work {
				if err := s.store.Import(ctx, ts); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
				}
			}
		}()
	}
	for lo := from; lo < to; lo += batch {
		var ts []task.Task
		for u := lo; u < min(lo+batch, to); u++ {
			t := task.Task{ID: task.NewID(), UserID: fmt.Sprintf("u-%s-%d", run, u), Title: "seeded", Priority: task.PriorityLow,
				CreatedAt: now.Add(-time.Duration(u) * time.Second), UpdatedAt: now}
			if u%100 == 0 {
				at := now.Add(time.Hour + time.Duration(rand.Int64N(int64(7*24*time.Hour))))
				t.RemindAt = &at
				reminders++
			}
			ts = append(ts, t)
		}
		work <- ts
	}
	close(work)
	wg.Wait()
	return reminders, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// oneUser gives one new user n tasks: all but the last few imported, the
// last created over HTTP and timed; then it times listings.
func (s *stack) oneUser(ctx context.Context, run string, n int, cfg config) (tasksPoint, error) {
	p := tasksPoint{Tasks: n, Queries: map[string]float64{}}
	user := fmt.Sprintf("big-%s-%d", run, n)
	timed := min(50, n)
	now := time.Now().UTC()
	var ts []task.Task
	for i := range n - timed {
		t := task.Task{ID: task.NewID(), UserID: user, Title: fmt.Sprintf("task %d", i), Priority: []task.Priority{task.PriorityHigh, task.PriorityMedium, task.PriorityLow}[i%3],
			Completed: i%4 == 0, CreatedAt: now.Add(-time.Duration(n-i) * time.Second), UpdatedAt: now}
		if i%10 == 0 {
			t.Tags = []string{"x"}
		}
		if i%2 == 0 {
			at := now.Add(time.Duration(i) * time.Hour)
			t.DueAt = &at
		}
		ts = append(ts, t)
	}
	if len(ts) > 0 {
		if err := s.store.Import(ctx, ts); err != nil {
			return p, err
		}
	}
	var creates []time.Duration
	for i := range timed {
		d, err := s.create(ctx, user, map[string]any{"title": fmt.Sprintf("new %d", i), "tags": []string{"x"}})
		if err != nil {
			return p, err
		}
		creates = append(creates, d)
	}
	p.CreateP50 = percentile(creates, 50)
	list := func(q string, times int) ([]time.Duration, error) {
		var ds []time.Duration
		for range times {
			d, err := s.call(ctx, "list-tasks", http.MethodGet, "/users/"+user+"/tasks?limit=20"+q, nil, nil)
			if err != nil {
				return nil, err
			}
			ds = append(ds, d)
		}
		return ds, nil
	}
	ds, err := list("", cfg.Lists)
	if err != nil {
		return p, err
	}
	p.ListP50, p.ListP95 = percentile(ds, 50), percentile(ds, 95)
	queries := map[string]string{"status=pending": "status=pending", "priority=high": "priority=high", "tag=x": "tag=x", "q=task 1": "q=task+1",
		"due_before=(in 48 h)": "due_before=" + now.Add(48*time.Hour).Format(time.RFC3339), "sort=-created_at": "sort=-created_at", "sort=due_at": "sort=due_at"}
	for label, q := range queries {
		ds, err := list("&"+q, max(5, cfg.Lists/4))
		if err != nil {
			return p, err
		}
		p.Queries[label] = percentile(ds, 50)
	}
	return p, nil
}
