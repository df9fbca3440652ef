package devstack

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFreePortsAreDistinctReservedAndOutsideTheEphemeralRange(t *testing.T) {
	lo, hi := portRange()
	first, err := FreePorts(100)
	require.NoError(t, err)
	second, err := FreePorts(100)
	require.NoError(t, err)
	seen := map[int]bool{}
	for _, p := range append(first, second...) {
		assert.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
		assert.True(t, p >= lo && p < hi, "port %d outside %d-%d", p, lo, hi)
		assert.FileExists(t, filepath.Join(claimDir, strconv.Itoa(p)), "port %d is claimed for other processes", p)
	}
	g, err := FreeGRPCPort()
	require.NoError(t, err)
	assert.False(t, seen[g] || seen[g+1000], "the gRPC pair %d/%d was handed out before", g, g+1000)
}

func TestClaimHonoursAnotherProcessUntilItIsStale(t *testing.T) {
	portsMu.Lock()
	defer portsMu.Unlock()
	require.NoError(t, os.MkdirAll(claimDir, 0o755))
	lo, hi := portRange()
	var port int
	for p := hi - 1; p > lo; p-- { // a free port no one claimed
		if _, err := os.Stat(filepath.Join(claimDir, strconv.Itoa(p))); os.IsNotExist(err) && isFree(p) && !claimed[p] {
			port = p
			break
		}
	}
	require.NotZero(t, port)
	path := filepath.Join(claimDir, strconv.Itoa(port))
	require.NoError(t, os.WriteFile(path, nil, 0o644)) // another process's fresh claim
	assert.False(t, claim(port), "a fresh claim of another process is honoured")

	old := time.Now().Add(-portClaimTTL - time.Minute)
	require.NoError(t, os.Chtimes(path, old, old))
	assert.True(t, claim(port), "a stale claim is taken over")
	assert.False(t, claim(port), "and this process does not hand it out twice")
}
