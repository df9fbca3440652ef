package devstack

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// The Dapr scheduler runs as one node, or as a cluster whose nodes each
// embed an etcd member of one etcd cluster, as the chart's three-replica
// StatefulSet does. Every node takes five ports from its base: the API
// sidecars connect to, health, metrics, etcd client, etcd peer.

// schedulerNode is one node of the scheduler: its process name, etcd
// member id and base port.
type schedulerNode struct {
	name, id string
	port     int
}

// schedulerNodes lists the nodes: the first at SchedPort, named
// "scheduler" as a single node always was, then one per SchedPeerPorts.
// With mTLS, sentry issues a scheduler's identity only under the ids
// dapr-scheduler-server-<n>, so those are the etcd member ids too.
func (s *Stack) schedulerNodes() []schedulerNode {
	ports := append([]int{s.opts.SchedPort}, s.opts.SchedPeerPorts...)
	nodes := make([]schedulerNode, len(ports))
	for i, p := range ports {
		nodes[i] = schedulerNode{name: replicaName("scheduler", i), id: "dapr-scheduler-server-" + strconv.Itoa(i), port: p}
	}
	return nodes
}

// SchedulerAddr is the first scheduler node's host:port.
func (s *Stack) SchedulerAddr() string { return "127.0.0.1:" + strconv.Itoa(s.opts.SchedPort) }

// SchedulerAddrs lists every scheduler node's host:port.
func (s *Stack) SchedulerAddrs() []string {
	var out []string
	for _, n := range s.schedulerNodes() {
		out = append(out, "127.0.0.1:"+strconv.Itoa(n.port))
	}
	return out
}

// SchedulerNames lists the scheduler nodes' process names, for Kill and
// Restart.
func (s *Stack) SchedulerNames() []string {
	var out []string
	for _, n := range s.schedulerNodes() {
		out = append(out, n.name)
	}
	return out
}

func (s *Stack) schedulerProcs() []*proc {
	nodes := s.schedulerNodes()
	var cluster []string
	for _, n := range nodes {
		cluster = append(cluster, fmt.Sprintf("%s=http://127.0.0.1:%d", n.id, n.port+4))
	}
	procs := make([]*proc, len(nodes))
	for i, n := range nodes {
		p := n.port
		dataDir := filepath.Join(s.opts.Dir, n.name) // "scheduler" for the first, as before
		procs[i] = &proc{
			name: n.name,
			args: append([]string{
				filepath.Join(s.opts.BinDir, "scheduler"),
				"--id", n.id,
				"--port", strconv.Itoa(p),
				"--listen-address", "127.0.0.1",
				"--healthz-port", strconv.Itoa(p + 1),
				"--healthz-listen-address", "127.0.0.1",
				"--metrics-port", strconv.Itoa(p + 2),
				"--metrics-listen-address", "127.0.0.1",
				"--etcd-client-port", strconv.Itoa(p + 3),
				"--etcd-client-listen-address", "127.0.0.1",
				"--etcd-initial-cluster", strings.Join(cluster, ","),
				"--etcd-data-dir", dataDir,
				"--log-as-json",
			}, s.schedulerMTLSArgs(n.name)...),
			health: "http://127.0.0.1:" + strconv.Itoa(p+1) + "/healthz",
		}
	}
	return procs
}

func (s *Stack) schedulerMTLSArgs(name string) []string {
	if s.opts.SentryPort == 0 {
		return nil
	}
	return []string{
		"--tls-enabled", "--sentry-address", s.SentryAddr(),
		"--trust-anchors-file", filepath.Join(s.sentryDir(), "credentials", "ca.crt"),
		"--identity-directory-write", filepath.Join(s.sentryDir(), name+"-identity"),
	}
}

// schedulerPorts lists what each scheduler node listens on, for checkPorts.
func schedulerPorts(o Options, m map[int]string) {
	for i, base := range append([]int{o.SchedPort}, o.SchedPeerPorts...) {
		name := replicaName("scheduler", i)
		for j, what := range []string{"", " healthz", " metrics", " etcd client", " etcd peer"} {
			m[base+j] = name + what
		}
	}
}
