package devstack

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReplicasTakesOneCountForAllOrCountsByName(t *testing.T) {
	known := []string{"fire-reminder", "send-notification", "list-tasks"}
	all, err := ParseReplicas("2", known)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"fire-reminder": 2, "send-notification": 2, "list-tasks": 2}, all)

	some, err := ParseReplicas("fire-reminder=3, send-notification=2", known)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"fire-reminder": 3, "send-notification": 2, "list-tasks": 1}, some)

	none, err := ParseReplicas("", known)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"fire-reminder": 1, "send-notification": 1, "list-tasks": 1}, none)

	for _, bad := range []string{"0", "11", "two", "nope=2", "fire-reminder", "fire-reminder=0", "fire-reminder=2,"} {
		_, err := ParseReplicas(bad, known)
		assert.Error(t, err, "%q", bad)
	}
}

func TestReplicasKeepTheirAppIDAndGetProcessNamesOfTheirOwn(t *testing.T) {
	rs := Replicate(Function{Name: "fire-reminder", Binary: "b", AppPort: 1, HTTPPort: 2, GRPCPort: 3}, 3)
	require.Len(t, rs, 3)
	var procs []string
	for i, f := range rs {
		assert.Equal(t, "fire-reminder", f.Name, "every replica runs under the app-id")
		assert.Equal(t, i, f.Replica)
		procs = append(procs, f.Proc())
	}
	assert.Equal(t, []string{"fire-reminder", "fire-reminder.2", "fire-reminder.3"}, procs)
	assert.Equal(t, 1, rs[0].AppPort, "the first replica keeps its ports")
	assert.Zero(t, rs[1].AppPort, "the others get ports of their own")
	assert.Len(t, Replicate(Function{Name: "x"}, 0), 1, "no count is one replica")
}

func TestScaledOutStackClaimsDistinctPortsForEveryProcess(t *testing.T) {
	o := Options{BrokerPort: 9092, Brokers: 3, SchedPort: 7006, SchedPeerPorts: []int{7013, 7018}, SentryPort: 7011}
	for _, f := range Replicate(Function{Name: "fire-reminder", Binary: "b"}, 2) {
		f.AppPort, f.HTTPPort, f.GRPCPort = 8086+10*f.Replica, 3506+10*f.Replica, 3606+10*f.Replica
		o.Functions = append(o.Functions, f)
	}
	m := ports(o)
	// 3 brokers and their admin port, 2 sentry ports, 15 scheduler ports,
	// and 4 per replica.
	assert.Len(t, m, 4+2+15+2*4, "no two processes share a port: %v", m)
	assert.Equal(t, "broker.3", m[9094])
	assert.Equal(t, "broker admin", m[9095])
	assert.Equal(t, "scheduler.3 etcd peer", m[7022])
	assert.Equal(t, "fire-reminder.2 sidecar HTTP", m[3516])
	assert.Equal(t, []string{"127.0.0.1:9092", "127.0.0.1:9093", "127.0.0.1:9094"}, o.BrokerAddrs())
}
