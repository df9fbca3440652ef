package devstack

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A function may run as several replicas, as Knative scales it: each
// replica is its own app process with its own daprd, all under the
// function's app-id. Sidecars reach any replica of an app-id through
// name resolution, the scheduler hands each due job to one connected
// replica, and each topic's partitions are split among the replicas of a
// function's consumer group.

// replicaName is the process name of replica i (from 0) of name: the
// first keeps the bare name, as a single replica always had.
func replicaName(name string, i int) string {
	if i == 0 {
		return name
	}
	return name + "." + strconv.Itoa(i+1)
}

// Proc is the process name of f's app ("fire-reminder", "fire-reminder.2");
// its sidecar's is Proc()+"-dapr".
func (f Function) Proc() string { return replicaName(f.Name, f.Replica) }

// Replicate returns n replicas of f (the first is f itself), with the
// ports left to the caller.
func Replicate(f Function, n int) []Function {
	out := make([]Function, max(n, 1))
	for i := range out {
		out[i] = f
		out[i].Replica = i
		if i > 0 {
			out[i].AppPort, out[i].HTTPPort, out[i].GRPCPort, out[i].MetricsPort = 0, 0, 0, 0
		}
	}
	return out
}

// RunPorts sets the ports `make run` (and the Dapr CLI's run file,
// dapr.yaml) gives replica f.Replica of the function in place i of
// Functions: app 8081+i, sidecar HTTP 3501+i and gRPC 3601+i, metrics 10081+i, clear of the brokers' 909N; further
// replicas 10 apart, so up to MaxReplicas fit. All lie below the kernel's
// ephemeral range, where outgoing connections could take them while the
// stack starts.
func (f *Function) RunPorts(i int) {
	off := i + 10*f.Replica
	f.AppPort, f.HTTPPort, f.GRPCPort, f.MetricsPort = 8081+off, 3501+off, 3601+off, 10081+off
}

// Replicas lists every replica of the named function, first one first.
func (s *Stack) Replicas(name string) []Function {
	var out []Function
	for _, f := range s.opts.Functions {
		if f.Name == name {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Replica < out[j].Replica })
	return out
}

// ParseReplicas reads a replica count for every function ("2") or for some
// ("fire-reminder=3,send-notification=2"; the others run one), as
// `make run REPLICAS=...` takes it. known lists the function names.
func ParseReplicas(spec string, known []string) (map[string]int, error) {
	out := map[string]int{}
	for _, n := range known {
		out[n] = 1
	}
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return out, nil
	}
	count := func(s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > MaxReplicas {
			return 0, fmt.Errorf("replicas %q: want a number from 1 to %d", s, MaxReplicas)
		}
		return n, nil
	}
	if !strings.Contains(spec, "=") {
		n, err := count(spec)
		if err != nil {
			return nil, err
		}
		for k := range out {
			out[k] = n
		}
		return out, nil
	}
	for _, part := range strings.Split(spec, ",") {
		name, num, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if _, isKnown := out[name]; !ok || !isKnown {
			return nil, fmt.Errorf("replicas %q: want NAME=N with NAME one of %s", part, strings.Join(known, ", "))
		}
		n, err := count(num)
		if err != nil {
			return nil, err
		}
		out[name] = n
	}
	return out, nil
}

// MaxReplicas bounds the replicas of one function locally: the chart's
// max-scale.
const MaxReplicas = 10

// Terminate stops one process as Kubernetes does a pod's containers in a
// rolling update: SIGTERM, then SIGKILL if it has not exited after
// grace. Restart brings it back.
func (s *Stack) Terminate(name string, grace time.Duration) error {
	p, err := s.started(name)
	if err != nil {
		return err
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		return s.Kill(name)
	}
}
