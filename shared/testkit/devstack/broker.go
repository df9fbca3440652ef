package devstack

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"
)

// The local broker runs as a cluster of Options.Brokers brokers in one
// process (hack/broker, on franz-go's kfake), on consecutive ports from
// BrokerPort; with more than one, an admin endpoint on the port after the
// last broker takes one down and brings it back.

func (o Options) brokers() int { return max(o.Brokers, 1) }

func (o Options) brokerAdminPort() int {
	if o.brokers() == 1 {
		return 0
	}
	return o.BrokerPort + o.brokers()
}

func (s *Stack) brokerProc() *proc {
	args := []string{filepath.Join(s.opts.BinDir, "broker"), "-port", strconv.Itoa(s.opts.BrokerPort)}
	if n := s.opts.brokers(); n > 1 {
		args = append(args, "-brokers", strconv.Itoa(n))
	}
	if s.opts.Partitions != 0 {
		args = append(args, "-partitions", strconv.Itoa(s.opts.Partitions))
	}
	if p := s.opts.brokerAdminPort(); p != 0 {
		args = append(args, "-admin-port", strconv.Itoa(p))
	}
	if s.opts.BrokerDataDir != "" {
		args = append(args, "-data-dir", s.opts.BrokerDataDir)
	}
	return &proc{name: "broker", args: args, health: "tcp://127.0.0.1:" + strconv.Itoa(s.opts.BrokerPort)}
}

// BrokerAddr is the first broker's host:port, enough to seed a client.
func (s *Stack) BrokerAddr() string { return "127.0.0.1:" + strconv.Itoa(s.opts.BrokerPort) }

// BrokerAddrs lists every broker's host:port.
func (s *Stack) BrokerAddrs() []string { return s.opts.BrokerAddrs() }

// BrokerAddrs lists every broker's host:port; joined with commas it is
// pubsub.kafka's brokers metadata (LOCAL_KAFKA_BROKERS).
func (o Options) BrokerAddrs() []string {
	out := make([]string, o.brokers())
	for i := range out {
		out[i] = "127.0.0.1:" + strconv.Itoa(o.BrokerPort+i)
	}
	return out
}

// StopBroker takes broker id (from 0) of the cluster down: its listener
// closes and every connection to it is cut, as clients see a killed
// broker; its partitions move to the others.
func (s *Stack) StopBroker(id int) error { return s.brokerAdmin(id, "stop") }

// StartBroker brings a stopped broker back on its port.
func (s *Stack) StartBroker(id int) error { return s.brokerAdmin(id, "start") }

func (s *Stack) brokerAdmin(id int, action string) error {
	p := s.opts.brokerAdminPort()
	if p == 0 {
		return fmt.Errorf("the broker runs one node; stopping it is Kill(%q)", "broker")
	}
	// The broker answers at once; a hung one fails the call rather than the
	// test's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/brokers/%d/%s", p, id, action), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("broker %d %s: %w", id, action, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("broker %d %s: %s", id, action, resp.Status)
	}
	return nil
}

// brokerPorts lists what the broker cluster listens on, for checkPorts.
func brokerPorts(o Options, m map[int]string) {
	for i := 0; i < o.brokers(); i++ {
		m[o.BrokerPort+i] = replicaName("broker", i)
	}
	if p := o.brokerAdminPort(); p != 0 {
		m[p] = "broker admin"
	}
}
