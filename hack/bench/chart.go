package main

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// curve is one latency distribution of a panel.
type curve struct {
	label    string
	h        *hdrhistogram.Histogram
	baseline bool // drawn dashed
}

// spectrum samples h's percentiles up to what its count can resolve.
func spectrum(h *hdrhistogram.Histogram) plotter.XYs {
	n := h.TotalCount()
	if n == 0 {
		return nil
	}
	top := math.Min(4, math.Log10(float64(n)))
	var xys plotter.XYs
	for x := 0.0; x <= top+1e-9; x += 0.02 {
		p := 100 * (1 - math.Pow(10, -x))
		y := float64(h.ValueAtPercentile(p)) / 1000
		xys = append(xys, plotter.XY{X: x, Y: math.Max(y, 0.01)})
	}
	return xys
}

// logTicks labels 1, 2 and 5 times each power of ten.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < min || v > max {
				continue
			}
			ts = append(ts, plot.Tick{Value: v, Label: strconvG(v)})
		}
	}
	return ts
}

func strconvG(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

type ninesTicks struct{}

func (ninesTicks) Ticks(min, max float64) []plot.Tick {
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%"}
	var ts []plot.Tick
	for i, l := range labels {
		if v := float64(i); v >= min-1e-9 && v <= max+1e-9 {
			ts = append(ts, plot.Tick{Value: v, Label: l})
		}
	}
	return ts
}

func panel(title string, curves []curve) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms, log)"
	p.X.Tick.Marker = ninesTicks{}
	p.X.Min, p.X.Max = 0, 4
	p.Legend.Top, p.Legend.Left = false, false
	p.Add(plotter.NewGrid())
	drawn := 0
	// Pairs (a baseline, dashed, and its Dapr path) share a colour.
	paired := len(curves) > 2 && len(curves)%2 == 0 && slices.ContainsFunc(curves, func(c curve) bool { return c.baseline })
	for i, c := range curves {
		if c.h == nil {
			continue
		}
		xys := spectrum(c.h)
		if len(xys) < 2 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(i)
		if paired {
			l.Color = plotutil.Color(i / 2)
		}
		l.Width = vg.Points(1.5)
		if c.baseline {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(c.label, l)
		drawn++
	}
	if drawn == 0 {
		p.Title.Text += " (not measured)"
		p.Y.Min, p.Y.Max = 0.1, 10
	}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	return p, nil
}

func pairCurves(pr *Pair, base, dapr, prefix string) []curve {
	if pr == nil {
		return nil
	}
	return []curve{{label: prefix + base, h: pr.Base.hist, baseline: true}, {label: prefix + dapr, h: pr.Dapr.hist}}
}

// rateCurves are each pair's curves, labelled by its rate.
func rateCurves(pairs []Pair) []curve {
	var out []curve
	for i := range pairs {
		pr := &pairs[i]
		out = append(out, pairCurves(pr, "direct", "Dapr", fmt.Sprintf("%.0f/s ", pr.Rate))...)
	}
	return out
}

// chart draws seven panels of latency against percentile.
func (r *Report) chart(path string) error {
	stores := map[string][]curve{}
	for i := range r.State {
		sp := &r.State[i]
		store, op := "PostgreSQL", sp.Name
		if len(op) > 11 && op[:11] == "PostgreSQL " {
			op = op[11:]
		} else if len(op) > 6 && op[:6] == "Redis " {
			store, op = "Redis", op[6:]
		}
		if len(op) > 11 {
			op = op[:11] // "transaction"
		}
		stores[store] = append(stores[store], pairCurves(sp, "direct", "Dapr", op+" ")...)
	}
	var pubsub []curve
	pubsub = append(pubsub, pairCurves(r.Publish, "Kafka client", "Dapr", "publish: ")...)
	pubsub = append(pubsub, pairCurves(r.Delivery, "Kafka client", "Dapr", "to handler: ")...)
	var rem []curve
	if r.Reminders != nil {
		rem = append(rem, curve{label: "reminder jobs (scheduler → handler)", h: r.Reminders.hist})
	}
	if r.E2E != nil {
		rem = append(rem, curve{label: "end to end (→ webhook)", h: r.E2E.hist})
	}
	common := commonRate(r.E2ELadders)
	for _, l := range r.E2ELadders {
		if s := l.at(common); s != nil {
			rem = append(rem, curve{label: fmt.Sprintf("end to end, %s, %.0f/s", l.Name, common), h: s.hist})
		}
	}
	title := func(s string, pr *Pair) string {
		if pr == nil {
			return s
		}
		return fmt.Sprintf("%s at %.0f/s", s, pr.Rate)
	}
	specs := []struct {
		title  string
		curves []curve
	}{
		{"Invocation: create-task", rateCurves(r.Invocation)},
		{"Invocation: sidecar hop only (GET /healthz)", rateCurves(r.Hop)},
		{"Invocation: sidecar hop, mTLS on (GET /healthz)", rateCurves(r.HopMTLS)},
		{"State: PostgreSQL", stores["PostgreSQL"]},
		{"State: Redis", stores["Redis"]},
		{title("Pub/sub", r.Publish), pubsub},
		{"Reminder lateness (after remind_at)", rem},
	}
	const cols = 2
	rows := (len(specs) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i, s := range specs {
		p, err := panel(s.title, s.curves)
		if err != nil {
			return err
		}
		if plots[i/cols] == nil {
			plots[i/cols] = make([]*plot.Plot, cols)
		}
		plots[i/cols][i%cols] = p
	}
	img := vgimg.New(vg.Points(1100), vg.Points(435*float64(rows)))
	dc := draw.New(img)
	t := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align(plots, t, dc)
	for j := range plots {
		for i := range plots[j] {
			if plots[j][i] != nil { // the last row may be short
				plots[j][i].Draw(canvases[j][i])
			}
		}
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(out); err != nil {
		_ = out.Close() // the write's error is the one to report
		return err
	}
	return out.Close()
}
