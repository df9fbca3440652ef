package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/todo-chatbot/functions/shared/todo/reminder"
)

// e2eVariant is a set-up of the reminder path the end-to-end ladder
// measures, each on a stack of its own.
type e2eVariant struct {
	Name  string `json:"name"`
	Setup string `json:"setup"`
	// Partitions of each topic (0: the broker's default).
	Partitions int `json:"partitions,omitempty"`
	// Env is added to every project function.
	Env []string `json:"function_env,omitempty"`
}

// e2eVariants: the reminder path as shipped, and the two ways to let
// send-notification work on more than one reminder per partition at once
// (Dapr's Kafka consumer keeps one message in flight per partition).
var e2eVariants = []e2eVariant{
	{Name: "baseline", Setup: "as `make run` starts it: the local broker's default partitions, one event per delivery"},
	{Name: "more partitions", Setup: "12 partitions per topic, as the chart's kafka.partitions deploys", Partitions: 12},
	{Name: "bulk subscribe", Setup: "every function with SUBSCRIBE_BULK_MAX_MESSAGES=100 and SUBSCRIBE_BULK_MAX_AWAIT=50ms",
		Env: []string{"SUBSCRIBE_BULK_MAX_MESSAGES=100", "SUBSCRIBE_BULK_MAX_AWAIT=50ms"}},
}

// shipped: the variant changes nothing.
func (v e2eVariant) shipped() bool { return v.Partitions == 0 && len(v.Env) == 0 }

// spec is the stack the variant's ladder runs on: the project functions of
// the reminder path and bench-caller, nothing else.
func (v e2eVariant) spec() stackSpec {
	return stackSpec{functions: benchStack.functions, partitions: v.Partitions, env: v.Env}
}

// e2eGoalRate is the end-to-end rate the reminder path must sustain
// within the lateness goal (e2eGoalP99).
const e2eGoalRate = 100.0 // tasks/s

// E2EStep is one rate of an end-to-end ladder.
type E2EStep struct {
	E2E
	Pass   bool   `json:"passed"`
	Reason string `json:"failed_because,omitempty"`
}

// E2ELadder is the end-to-end path at rising rates on one variant's stack.
type E2ELadder struct {
	e2eVariant
	// What the stack ran with, read from it: the partitions of
	// send-notification's topic, and whether send-notification asked
	// daprd for bulk delivery.
	TopicPartitions int       `json:"topic_partitions"`
	Bulk            bool      `json:"bulk_subscribe"`
	StepSeconds     float64   `json:"step_seconds"`
	Steps           []E2EStep `json:"steps"`
	// MaxRate is the highest rate that passed, every lower one having
	// passed too (0: none did).
	MaxRate float64 `json:"max_passing_per_s"`
}

// e2eLadder runs the end-to-end path at each rate of the ladder, stopping
// after the first that misses the goal (lateness P99 ≤ 1 s, none lost,
// duplicated or failed to create). One pass: no step is retried, which
// keeps the ladders of all variants within a few minutes.
func (b *bench) e2eLadder(ctx context.Context, v e2eVariant) error {
	l := E2ELadder{e2eVariant: v, StepSeconds: b.sz.E2EStepSeconds}
	label := "end-to-end ladder, " + v.Name
	var err error
	if l.Bulk, err = b.bulkAnnounced(ctx); err != nil {
		return err
	}
	if len(v.Env) > 0 && !l.Bulk {
		b.rep.note(fmt.Sprintf("%s: send-notification did not ask for bulk delivery with %s; the variant ran as the baseline does.", label, strings.Join(v.Env, " ")))
	}
	for _, rate := range b.sz.E2ESteps {
		if ctx.Err() != nil {
			break
		}
		st := E2EStep{E2E: b.e2eRun(ctx, label, rate, b.sz.E2EStepSeconds)}
		why := st.failures()
		st.Pass, st.Reason = len(why) == 0, strings.Join(why, "; ")
		l.Steps = append(l.Steps, st)
		if !st.Pass {
			b.log("%s: %.0f/s failed: %s", label, rate, st.Reason)
			break
		}
		l.MaxRate = rate
	}
	// Read after the run: a topic exists once an event was published to
	// it. Unread, it stays 0; the steps are worth keeping all the same.
	parts, err := partitions(ctx, b.s.admin, reminder.Topic)
	if err != nil {
		b.log("%s: partitions of %s: %v", label, reminder.Topic, err)
	}
	l.TopicPartitions = len(parts)
	b.rep.E2ELadders = append(b.rep.E2ELadders, &l)
	return ctx.Err()
}

// at returns the step at rate.
func (l *E2ELadder) at(rate float64) *E2EStep {
	for i := range l.Steps {
		if l.Steps[i].Rate == rate {
			return &l.Steps[i]
		}
	}
	return nil
}

// commonRate is the highest rate every ladder measured, where the variants
// compare like for like (0 if there is none).
func commonRate(ls []*E2ELadder) float64 {
	if len(ls) == 0 {
		return 0
	}
	best := 0.0
	for _, s := range ls[0].Steps {
		all := true
		for _, l := range ls[1:] {
			all = all && l.at(s.Rate) != nil
		}
		if all && s.Rate > best {
			best = s.Rate
		}
	}
	return best
}

// measured sums the ladder up: its highest passing rate, and why the next
// step failed.
func (l *E2ELadder) measured() string {
	m := "no rate passed"
	if s := l.at(l.MaxRate); s != nil {
		m = fmt.Sprintf("%.0f/s (lateness P99 %s ms there)", l.MaxRate, f(s.Late.P99))
	}
	if n := len(l.Steps); n > 0 && !l.Steps[n-1].Pass {
		m += fmt.Sprintf("; %.0f/s failed: %s", l.Steps[n-1].Rate, l.Steps[n-1].Reason)
	} else if n > 0 {
		m += "; every step passed, the highest rate is at least this"
	}
	return m
}

// bulkAnnounced tells whether send-notification's subscription, as daprd
// reads it from /dapr/subscribe, asks for bulk delivery.
func (b *bench) bulkAnnounced(ctx context.Context) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.s.Functions["send-notification"].URL()+"/dapr/subscribe", nil)
	if err != nil {
		return false, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var subs []struct {
		Bulk *struct {
			Enabled bool `json:"enabled"`
		} `json:"bulkSubscribe"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&subs); err != nil {
		return false, fmt.Errorf("send-notification's /dapr/subscribe: %w", err)
	}
	for _, s := range subs {
		if s.Bulk != nil && s.Bulk.Enabled {
			return true, nil
		}
	}
	return false, nil
}
