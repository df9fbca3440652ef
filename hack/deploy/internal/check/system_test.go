package check

import (
	"errors"
	"testing"
)

func TestChartWiringAgainstCode(t *testing.T) {
	code := description{Crons: []string{"reminder-sweep"}, Events: []string{"/events/reminder-sweep", "/events/todo.tasks.events"}}
	code.Topics = append(code.Topics, struct {
		Topic string `json:"topic"`
	}{"todo.tasks.events"})
	good := Function{Name: "f", Components: []string{"tasks", "reminder-sweep"}, Topics: []string{"todo.tasks.events"},
		Pings: []Ping{{Schedule: "* * * * *", Path: "/events/reminder-sweep"}}}
	if errs := againstCode(good, code); len(errs) != 0 {
		t.Fatalf("a chart entry that matches the code: %v", errors.Join(errs...))
	}
	for name, bad := range map[string]func(f *Function){
		"a topic the code does not handle": func(f *Function) { f.Topics = append(f.Topics, "todo.other") },
		"a topic the chart leaves out":     func(f *Function) { f.Topics = nil },
		"a ping to a path not served":      func(f *Function) { f.Pings[0].Path = "/events/nothing" },
		"a cron binding not a component":   func(f *Function) { f.Components = []string{"tasks"} },
	} {
		f := good
		f.Topics = append([]string(nil), good.Topics...)
		f.Pings = append([]Ping(nil), good.Pings...)
		bad(&f)
		if errs := againstCode(f, code); len(errs) != 1 {
			t.Errorf("%s: got %v, want one error", name, errs)
		}
	}
}
