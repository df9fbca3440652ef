package devstack

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A sidecar is profiled only when asked, on the port asked for.
func TestSidecarArgsProfiling(t *testing.T) {
	s := &Stack{opts: Options{BinDir: "bin", SchedPort: 7006}}
	f := Function{Name: "create-task", AppPort: 8081, HTTPPort: 3501, GRPCPort: 3601}
	assert.NotContains(t, s.SidecarArgs(f), "--enable-profiling")
	f.DaprProfilePort = 7777
	assert.Contains(t, strings.Join(s.SidecarArgs(f), " "), "--enable-profiling --profile-port 7777")
}
