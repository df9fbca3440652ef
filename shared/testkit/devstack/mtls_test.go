package devstack

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func readConfig(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	return cfg
}

func TestWithNameResolution(t *testing.T) {
	t.Run("no configuration: one with the stack's own name resolution", func(t *testing.T) {
		dir := t.TempDir()
		path, err := withNameResolution(dir, "")
		require.NoError(t, err)
		spec := readConfig(t, path)["spec"].(map[string]any)
		nr := spec["nameResolution"].(map[string]any)
		assert.Equal(t, "sqlite", nr["component"])
		assert.Equal(t, filepath.Join(dir, "nameresolution.db"), nr["configuration"].(map[string]any)["connectionString"])
	})
	t.Run("a given configuration keeps what it sets and gains name resolution", func(t *testing.T) {
		dir := t.TempDir()
		given := filepath.Join(dir, "acl.yaml")
		require.NoError(t, os.WriteFile(given, []byte("apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata: {name: acl}\nspec:\n  accessControl: {defaultAction: deny}\n"), 0o644))
		path, err := withNameResolution(dir, given)
		require.NoError(t, err)
		assert.NotEqual(t, given, path, "the given file is not rewritten")
		cfg := readConfig(t, path)
		assert.Equal(t, "acl", cfg["metadata"].(map[string]any)["name"])
		spec := cfg["spec"].(map[string]any)
		assert.Equal(t, "deny", spec["accessControl"].(map[string]any)["defaultAction"])
		assert.Equal(t, "sqlite", spec["nameResolution"].(map[string]any)["component"])
	})
	t.Run("a configuration with its own name resolution is used as it is", func(t *testing.T) {
		dir := t.TempDir()
		given := filepath.Join(dir, "own.yaml")
		require.NoError(t, os.WriteFile(given, []byte("kind: Configuration\nspec:\n  nameResolution: {component: mdns}\n"), 0o644))
		path, err := withNameResolution(dir, given)
		require.NoError(t, err)
		assert.Equal(t, given, path)
	})
	t.Run("a missing file is an error that names it", func(t *testing.T) {
		_, err := withNameResolution(t.TempDir(), "/nonexistent/config.yaml")
		assert.ErrorContains(t, err, "/nonexistent/config.yaml")
	})
}
