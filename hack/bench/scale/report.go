package main

import (
	"fmt"
	"image/color"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

type report struct {
	Started time.Time     `json:"started"`
	Took    string        `json:"took"`
	Config  config        `json:"config"`
	Stores  []storeResult `json:"stores"`
}

// goal is one target of docs/benchmarks-scale.md and its verdict.
type goal struct {
	store, name, target, measured string
	met                           bool
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

func (r report) goals() []goal {
	var out []goal
	for _, s := range r.Stores {
		if u := s.Users; len(u) > 1 {
			a, b := u[0], u[len(u)-1]
			x := ratio(b.Sweep.TookMS, a.Sweep.TookMS)
			out = append(out, goal{s.Store, fmt.Sprintf("sweep run at %d users vs %d, same due reminders", b.Users, a.Users), "≤ 1.5×",
				fmt.Sprintf("%.2f× (%.0f vs %.0f ms)", x, b.Sweep.TookMS, a.Sweep.TookMS), x <= 1.5})
		}
		worst := 0.0
		for _, p := range s.Users {
			worst = max(worst, p.CreateP95)
		}
		if len(s.Users) > 0 {
			out = append(out, goal{s.Store, fmt.Sprintf("create P95, new users at %.0f/s, any size", r.Config.Rate), "≤ 50 ms",
				fmt.Sprintf("worst %.1f ms", worst), worst <= 50})
		}
		if t := s.Tasks; len(t) > 1 {
			a, b := t[0], t[len(t)-1]
			x := ratio(b.CreateP50, a.CreateP50)
			out = append(out, goal{s.Store, fmt.Sprintf("create P50 at a user's %dth task vs %dth", b.Tasks, a.Tasks), "≤ 1.5×",
				fmt.Sprintf("%.2f× (%.1f vs %.1f ms)", x, b.CreateP50, a.CreateP50), x <= 1.5})
			y := ratio(b.ListP50, a.ListP50)
			out = append(out, goal{s.Store, fmt.Sprintf("list limit=20, default order, %d tasks vs %d", b.Tasks, a.Tasks), "≤ 2×",
				fmt.Sprintf("%.2f× (%.1f vs %.1f ms)", y, b.ListP50, a.ListP50), y <= 2})
		}
	}
	return out
}

func (r report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks at scale: the task layout\n\n")
	fmt.Fprintf(&b, "Measured by `make bench-scale` (`hack/bench/scale`) on %s, in %s. Raw numbers: [benchmarks-scale.json](benchmarks-scale.json); chart: [benchmarks-scale.png](benchmarks-scale.png).\n\n",
		r.Started.Format(time.RFC3339), r.Took)
	fmt.Fprintf(&b, "**Method.** A stack of create-task, list-tasks, sweep-reminders and fire-reminder, each with its daprd, on each store. "+
		"Each stack first takes 20 creates unmeasured (connections, the broker's first publish). Users are seeded through `taskstore.Import` (Dapr transactions of about 500 writes, many users each), one task per user, 1%% of them with a reminder in the next week. "+
		"At each size: %d reminders are made due 40 s ahead (the previous size's deleted), one sweep sets its window, and the median of the next three sweeps is reported, from the sweep's own `took_ms`; "+
		"then %d new users create their first task straight at create-task, open loop at %.0f/s. "+
		"One user's list is seeded the same way up to each size less 50 tasks; the last 50 (or all, below 50) are created over HTTP (their P50 is the create figure) and `limit=20` listings are timed (%d of the default order, fewer of each other query). "+
		"Sizes run: users %v, one user's tasks %v. The machine (2 cores) is shared: every figure includes other work's noise.\n\n",
		r.Config.Due, r.Config.Creates, r.Config.Rate, r.Config.Lists, r.Config.Users, r.Config.Tasks)
	b.WriteString("## Goals\n\n| Store | Goal | Target | Measured | Verdict |\n|---|---|---|---|---|\n")
	for _, g := range r.goals() {
		v := "**NOT met**"
		if g.met {
			v = "**met**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", g.store, g.name, g.target, g.measured, v)
	}
	for _, s := range r.Stores {
		fmt.Fprintf(&b, "\n## %s: users\n\n| users | seed (s) | sweep (ms) | sweep read: tasks / reminders | create P50 (ms) | create P95 (ms) | creates achieved (/s) | create errors |\n|---|---|---|---|---|---|---|---|\n", s.Store)
		for _, p := range s.Users {
			fmt.Fprintf(&b, "| %d | %.1f | %.0f | %d / %d | %.1f | %.1f | %.0f | %d |\n", p.Users, p.SeedS, p.Sweep.TookMS, p.Sweep.Tasks, p.Sweep.Reminders, p.CreateP50, p.CreateP95, p.CreateRate, p.CreateErr)
		}
		if len(s.Users) > 0 && s.Users[0].CatchUp != nil {
			c := s.Users[0].CatchUp
			fmt.Fprintf(&b, "\nThe first sweep of a fresh store (no progress yet: the agenda's whole 24 h, %d keys) took %.0f ms.\n",
				24*60*16, c.TookMS)
		}
		fmt.Fprintf(&b, "\n## %s: one user's tasks\n\n| tasks | create P50 (ms) | list P50 (ms) | list P95 (ms) | queries, P50 (ms) |\n|---|---|---|---|---|\n", s.Store)
		for _, p := range s.Tasks {
			var qs []string
			for _, q := range slices.Sorted(maps.Keys(p.Queries)) {
				qs = append(qs, fmt.Sprintf("`%s` %.1f", q, p.Queries[q]))
			}
			fmt.Fprintf(&b, "| %d | %.1f | %.1f | %.1f | %s |\n", p.Tasks, p.CreateP50, p.ListP50, p.ListP95, strings.Join(qs, ", "))
		}
	}
	return b.String()
}

func (r report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "benchmarks-scale.json"), r); err != nil {
		return err
	}
	if err := r.chart(filepath.Join(dir, "benchmarks-scale.png")); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "benchmarks-scale.md"), []byte(r.markdown()), 0o644)
}

// chart draws each cost against its size, both axes logarithmic: flat
// lines are costs that follow the work, not the data.
func (r report) chart(path string) error {
	p := plot.New()
	p.Title.Text = "Cost against size"
	p.X.Label.Text = "size: users in the store, or tasks of one user"
	p.Y.Label.Text = "ms"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	colours := []color.RGBA{{0x1f, 0x77, 0xb4, 255}, {0xd6, 0x27, 0x28, 255}, {0x2c, 0xa0, 0x2c, 255}, {0x94, 0x67, 0xbd, 255}}
	for si, s := range r.Stores {
		series := []struct {
			name string
			xy   plotter.XYs
		}{
			{"sweep run (users)", nil}, {"create P95, new users (users)", nil}, {"create P50 (one user's tasks)", nil}, {"list limit=20 P50 (one user's tasks)", nil},
		}
		for _, u := range s.Users {
			series[0].xy = append(series[0].xy, plotter.XY{X: float64(u.Users), Y: max(u.Sweep.TookMS, 0.1)})
			series[1].xy = append(series[1].xy, plotter.XY{X: float64(u.Users), Y: max(u.CreateP95, 0.1)})
		}
		for _, t := range s.Tasks {
			series[2].xy = append(series[2].xy, plotter.XY{X: float64(t.Tasks), Y: max(t.CreateP50, 0.1)})
			series[3].xy = append(series[3].xy, plotter.XY{X: float64(t.Tasks), Y: max(t.ListP50, 0.1)})
		}
		for i, ser := range series {
			if len(ser.xy) == 0 {
				continue
			}
			l, pts, err := plotter.NewLinePoints(ser.xy)
			if err != nil {
				return err
			}
			l.Color, pts.Color = colours[i], colours[i]
			if si > 0 {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			p.Add(l, pts)
			p.Legend.Add(s.Store+": "+ser.name, l, pts)
		}
	}
	return p.Save(9*vg.Inch, 6*vg.Inch, path)
}
