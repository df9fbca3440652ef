package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"sigs.k8s.io/yaml"

	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

// Function is what the system design says about one function; the
// manifests must wire it exactly so.
type Function struct {
	Name       string
	Components []string // Dapr components it uses
	InvokedBy  []string // app-ids allowed to invoke it
	Topics     []string // topics it subscribes to (Dapr + KafkaSource)
	Pings      []Ping   // PingSources that wake it
	MinScale   int      // default min-scale
}

// Ping is a PingSource delivering to Path on Schedule.
type Ping struct {
	Schedule string `json:"schedule"`
	Path     string `json:"path"`
}

// ChatAPI is the app-id of the Chat API.
const ChatAPI = "chat-api"

// ValuesFile lists the functions and how each is wired, once.
const ValuesFile = "knative/chart/values.yaml"

// System is the design the manifests implement, read once (LoadSystem).
func System() []Function {
	s, err := loadSystem()
	if err != nil {
		panic(fmt.Sprintf("check: the system design: %v", err))
	}
	return s
}

var loadSystem = sync.OnceValues(func() ([]Function, error) {
	root, err := repo.Root()
	if err != nil {
		return nil, err
	}
	return LoadSystem(root)
})

// values is the part of the chart's values the design is read from.
type values struct {
	Defaults struct {
		MinScale int `json:"minScale"`
	} `json:"defaults"`
	Functions map[string]struct {
		MinScale   *int     `json:"minScale"`
		InvokedBy  []string `json:"invokedBy"`
		Components []string `json:"components"`
		Topics     []string `json:"topics"`
		Pings      []Ping   `json:"pings"`
	} `json:"functions"`
}

// description is what a function's binary says it serves (-describe).
type description struct {
	Topics []struct {
		Topic string `json:"topic"`
	} `json:"topics"`
	Crons  []string `json:"crons"`
	Events []string `json:"events"`
}

// LoadSystem reads the design: each function's wiring from the chart's
// values, checked against what its code declares it serves. A topic the
// chart subscribes a function to that its code does not handle (or the
// reverse), a PingSource path it does not serve, or a cron binding that is
// not among its components is an error.
func LoadSystem(root string) ([]Function, error) {
	b, err := os.ReadFile(filepath.Join(root, ValuesFile))
	if err != nil {
		return nil, err
	}
	var v values
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", ValuesFile, err)
	}
	names := make([]string, 0, len(v.Functions))
	for name := range v.Functions {
		names = append(names, name)
	}
	sort.Strings(names)
	described, err := describe(root, names)
	if err != nil {
		return nil, err
	}
	var out []Function
	var errs []error
	for _, name := range names {
		w := v.Functions[name]
		f := Function{Name: name, Components: w.Components, InvokedBy: w.InvokedBy, Topics: w.Topics, Pings: w.Pings, MinScale: v.Defaults.MinScale}
		if w.MinScale != nil {
			f.MinScale = *w.MinScale
		}
		errs = append(errs, againstCode(f, described[name])...)
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

// againstCode checks f's wiring in the chart against what its code serves.
func againstCode(f Function, d description) []error {
	var errs []error
	var code []string
	for _, t := range d.Topics {
		code = append(code, t.Topic)
	}
	if !slices.Equal(sorted(code), sorted(f.Topics)) {
		errs = append(errs, fmt.Errorf("%s: %s subscribes it to %v, its code handles %v", f.Name, ValuesFile, f.Topics, code))
	}
	for _, p := range f.Pings {
		if !slices.Contains(d.Events, p.Path) {
			errs = append(errs, fmt.Errorf("%s: %s pings %s, which its code does not serve (it serves %v)", f.Name, ValuesFile, p.Path, d.Events))
		}
	}
	for _, c := range d.Crons {
		if !slices.Contains(f.Components, c) {
			errs = append(errs, fmt.Errorf("%s: its code runs on cron binding %s, not among its components %v in %s", f.Name, c, f.Components, ValuesFile))
		}
	}
	return errs
}

// describe builds the functions and asks each what it serves.
func describe(root string, names []string) (map[string]description, error) {
	dir, err := os.MkdirTemp("", "describe-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, n := range names {
		args = append(args, "./functions/"+n)
	}
	build := exec.Command("go", args...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the functions: %w\n%s", err, out)
	}
	out := map[string]description{}
	for _, n := range names {
		b, err := exec.Command(filepath.Join(dir, n), "-describe").Output()
		if err != nil {
			return nil, fmt.Errorf("%s -describe: %w", n, err)
		}
		var d description
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("%s -describe: %w", n, err)
		}
		out[n] = d
	}
	return out, nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// ComponentTypes are the Kubernetes implementations of the components.
var ComponentTypes = map[string]string{
	"pubsub":         "pubsub.kafka",
	"tasks":          "state.postgresql",
	"dedupe":         "state.redis",
	"secrets":        "secretstores.kubernetes",
	"reminder-sweep": "bindings.cron",
	"notify-webhook": "bindings.http",
}

// FunctionByName returns the design of the named function.
func FunctionByName(name string) (Function, bool) {
	for _, f := range System() {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}
