package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestHopCPUTableOrdersByTheHighestRateAndLeavesIdleOut(t *testing.T) {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	hopCPUTable(p, []HopCPU{
		{Rate: 100, BusyCores: 0.2, CPUMsPerRequest: map[string]float64{"create-task-dapr": 0.4, "bench-caller-dapr": 0.5, "broker": 0.001}},
		{Rate: 500, BusyCores: 1.5, CPUMsPerRequest: map[string]float64{"create-task-dapr": 0.9, "bench-caller-dapr": 0.7, "broker": 0.002}},
	})
	got := w.String()
	for _, want := range []string{"| at 100/s | at 500/s |", "| create-task-dapr | 0.400 | 0.900 |", "| **cores busy**, every process | **0.20** | **1.50** |"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "broker") {
		t.Errorf("a process under 0.005 ms a request is shown:\n%s", got)
	}
	if strings.Index(got, "create-task-dapr") > strings.Index(got, "bench-caller-dapr") {
		t.Errorf("rows not ordered by CPU at the highest rate:\n%s", got)
	}
	w.Reset()
	hopCPUTable(p, nil)
	if w.Len() != 0 {
		t.Errorf("no runs: want nothing written, got %q", w.String())
	}
}
