package main

import (
	"strings"
	"testing"
)

func step(rate, p99 float64, lost int) E2EStep {
	s := E2EStep{E2E: E2E{Rate: rate, Achieved: rate, Created: 10, Delivered: 10 - lost, Lost: lost, Late: Pcts{P99: p99}}}
	why := s.failures()
	s.Pass, s.Reason = len(why) == 0, strings.Join(why, "; ")
	return s
}

func TestFailuresNameEveryMiss(t *testing.T) {
	if s := step(100, 1000, 0); !s.Pass {
		t.Fatalf("P99 exactly at the goal, nothing lost: want a pass, got %q", s.Reason)
	}
	s := E2E{Rate: 100, Delivered: 5, Lost: 2, Duplicated: 1, CreateErrors: 3, Late: Pcts{P99: 1500}}
	got := strings.Join(s.failures(), "; ")
	for _, want := range []string{"lateness P99 1500 ms > 1000 ms", "2 lost", "1 duplicated", "3 create errors"} {
		if !strings.Contains(got, want) {
			t.Errorf("failures %q: missing %q", got, want)
		}
	}
	if got := (&E2E{Rate: 10, Achieved: 10}).failures(); len(got) != 1 || got[0] != "nothing delivered" {
		t.Errorf("nothing delivered: got %q", got)
	}
}

func TestCommonRateIsTheHighestEveryLadderRan(t *testing.T) {
	a := &E2ELadder{Steps: []E2EStep{step(50, 10, 0), step(100, 10, 0), step(150, 2000, 0)}}
	b := &E2ELadder{Steps: []E2EStep{step(50, 10, 0), step(100, 3000, 0)}}
	if got := commonRate([]*E2ELadder{a, b}); got != 100 {
		t.Errorf("common rate: got %v, want 100", got)
	}
	if got := commonRate([]*E2ELadder{a, {}}); got != 0 {
		t.Errorf("a ladder with no step: got %v, want 0", got)
	}
}

func TestLadderGoalJudgesTheShippedVariantOnly(t *testing.T) {
	base := &E2ELadder{e2eVariant: e2eVariants[0], Steps: []E2EStep{step(50, 10, 0), step(100, 10, 1)}, MaxRate: 50}
	bulk := &E2ELadder{e2eVariant: e2eVariants[2], Steps: []E2EStep{step(50, 10, 0), step(100, 10, 0)}, MaxRate: 100}
	r := &Report{E2ELadders: []*E2ELadder{base, bulk}}
	r.evaluate()
	verdicts := map[string]Goal{}
	for _, g := range r.Goals {
		if strings.HasPrefix(g.Area, "End to end (create → webhook), rising rate") {
			verdicts[g.Area] = g
		}
	}
	if g := verdicts["End to end (create → webhook), rising rate, baseline"]; g.Verdict != "not met" || !strings.Contains(g.Measured, "100/s failed: 1 lost") {
		t.Errorf("baseline: got %+v", g)
	}
	if g := verdicts["End to end (create → webhook), rising rate, bulk subscribe"]; g.Verdict != "reference: met" {
		t.Errorf("bulk subscribe: got %+v", g)
	}
	if len(verdicts) != 2 {
		t.Errorf("want one row per ladder, got %v", verdicts)
	}
	md := r.markdown()
	if !strings.Contains(md, "Lateness at 100/s, the highest rate every variant ran") || !strings.Contains(md, "**no**: 1 lost") {
		t.Errorf("markdown lacks the side-by-side table or the failing step's reason:\n%s", md)
	}
}
