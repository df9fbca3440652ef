package devstack

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every folder under functions/ is a function of the chart, and every
// function of the chart has its folder: adding one is one entry in one
// file.
func TestFunctionsAreTheChartsAndTheFolders(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	require.NoError(t, err)
	var folders []string
	for _, d := range dirs {
		if d.IsDir() {
			folders = append(folders, d.Name())
		}
	}
	assert.ElementsMatch(t, folders, Functions)
	// The chart's order sets make run's ports: the first function keeps 3000.
	assert.Equal(t, "create-task", Functions[0])
}

func TestChartFunctionsRefusesAFileWithout(t *testing.T) {
	p := filepath.Join(t.TempDir(), "values.yaml")
	require.NoError(t, os.WriteFile(p, []byte("defaults: {}\n"), 0o644))
	_, err := ChartFunctions(p)
	assert.ErrorContains(t, err, "no functions")
	require.NoError(t, os.WriteFile(p, []byte("functions:\n  b: {}\n  a: {}\n"), 0o644))
	got, err := ChartFunctions(p)
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "a"}, got, "in the file's order")
}

func TestChartGoMaxProcsIsTheFunctionsOwnOrTheDefaults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "values.yaml")
	require.NoError(t, os.WriteFile(p, []byte("defaults: {goMaxProcs: 1}\nfunctions:\n  a: {}\n  b: {goMaxProcs: 4}\n  c: {goMaxProcs: 0}\n"), 0o644))
	byName, err := ChartGoMaxProcs(p)
	require.NoError(t, err)
	for name, want := range map[string]int{"a": 1, "b": 4, "c": 0, "not-in-the-chart": 0} {
		assert.Equal(t, want, byName[name], name)
	}
	require.NoError(t, os.WriteFile(p, []byte("functions:\n  a: {}\n"), 0o644))
	byName, err = ChartGoMaxProcs(p)
	require.NoError(t, err)
	assert.Zero(t, byName["a"], "no goMaxProcs anywhere: Go's default")
	// The project's own chart: what every local stack runs with.
	assert.Equal(t, []string{"GOMAXPROCS=1"}, DeployedEnv("create-task"))
}
