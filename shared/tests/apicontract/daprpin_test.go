package apicontract

import (
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// requires reads the module versions a go.mod requires (replacements
// excluded).
func requires(t *testing.T, gomod string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(gomod)
	require.NoError(t, err)
	out := map[string]string{}
	inRequire := false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inRequire = true
			continue
		case line == ")":
			inRequire = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inRequire:
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], "v") {
			out[f[0]] = f[1]
		}
	}
	return out
}

// minor returns the major and minor numbers of a version such as v1.18.0.
func minor(t *testing.T, v string) (int, int) {
	t.Helper()
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	require.Len(t, parts, 3, "version %q", v)
	major, err1 := strconv.Atoi(parts[0])
	mn, err2 := strconv.Atoi(parts[1])
	require.NoError(t, err1, v)
	require.NoError(t, err2, v)
	return major, mn
}

// TestDaprVersionPinnedOnce: hack/dapr/go.mod pins the Dapr runtime, and
// the Makefile, the built daprd and scheduler, and the go-sdk all agree
// with it. bin/ is built by `make tools`, which `make test` runs first.
func TestDaprVersionPinnedOnce(t *testing.T) {
	root := repoRoot(t)
	pins := requires(t, filepath.Join(root, "hack", "dapr", "go.mod"))
	dapr := pins["github.com/dapr/dapr"]
	require.NotEmpty(t, dapr, "hack/dapr/go.mod does not require github.com/dapr/dapr")
	contrib := pins["github.com/dapr/components-contrib"]
	require.NotEmpty(t, contrib, "hack/dapr/go.mod does not require github.com/dapr/components-contrib")
	dMajor, dMinor := minor(t, dapr)
	cMajor, cMinor := minor(t, contrib)
	assert.Equal(t, [2]int{dMajor, dMinor}, [2]int{cMajor, cMinor},
		"components-contrib %s belongs to another Dapr release than dapr %s", contrib, dapr)
	require.NotEmpty(t, pins["github.com/diagridio/go-etcd-cron"], "the go-etcd-cron pin (see docs/upgrading.md)")

	// The Makefile reads the same version (it stamps daprd with it).
	mk := exec.Command("make", "-s", "--no-print-directory", "-C", root,
		"--eval", "print-dapr-version: ; @echo $(DAPR_VERSION)", "print-dapr-version")
	mk.Env = withoutMakeFlags(os.Environ())
	out, err := mk.Output()
	require.NoError(t, err, "make: %s", out)
	assert.Equal(t, strings.TrimPrefix(dapr, "v"), strings.TrimSpace(string(out)), "the Makefile's DAPR_VERSION")

	devstack.SkipShort(t, "the Dapr binaries `make tools` builds")
	daprd := filepath.Join(root, "bin", "daprd")
	_, err = os.Stat(daprd)
	require.NoError(t, err, "bin/daprd is missing: run `make tools`")
	out, err = exec.Command(daprd, "--version").Output()
	require.NoError(t, err)
	assert.Equal(t, strings.TrimPrefix(dapr, "v"), strings.TrimSpace(string(out)), "bin/daprd --version (stale? run `make tools`)")

	// What the binaries were really built from.
	for _, name := range []string{"daprd", "scheduler"} {
		info, err := buildinfo.ReadFile(filepath.Join(root, "bin", name))
		require.NoError(t, err, "bin/%s", name)
		assert.Equal(t, "github.com/dapr/dapr", info.Main.Path, "bin/%s", name)
		assert.Equal(t, dapr, info.Main.Version, "bin/%s is built from another Dapr (run `make tools`)", name)
		for _, dep := range info.Deps {
			want, pinned := pins[dep.Path]
			if pinned && (strings.HasPrefix(dep.Path, "github.com/dapr/") || dep.Path == "github.com/diagridio/go-etcd-cron") {
				assert.Equal(t, want, dep.Version, "bin/%s: %s", name, dep.Path)
			}
		}
		if name == "daprd" {
			tags := ""
			for _, s := range info.Settings {
				if s.Key == "-tags" {
					tags = s.Value
				}
			}
			assert.Contains(t, strings.Split(tags, ","), "allcomponents", "daprd panics at start without the component registrations")
		}
	}

	// The go-sdk's API protos (the dapr/dapr it pulls into go.mod) must not
	// be newer than the runtime it talks to.
	app := requires(t, filepath.Join(root, "go.mod"))
	require.NotEmpty(t, app["github.com/dapr/go-sdk"], "go.mod: github.com/dapr/go-sdk")
	if protos := app["github.com/dapr/dapr"]; protos != "" {
		pMajor, pMinor := minor(t, protos)
		assert.True(t, pMajor == dMajor && pMinor <= dMinor,
			"go.mod has dapr/dapr %s (through the go-sdk), newer than the pinned runtime %s", protos, dapr)
	}
}

func withoutMakeFlags(env []string) []string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
			out = append(out, kv)
		}
	}
	return out
}
