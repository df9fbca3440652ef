package devstack

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// runShared and runApp mirror the keys of the Dapr CLI's run file
// (dapr/cli pkg/runfileconfig, v1.18): a key the CLI would silently ignore
// fails decoding here.
type runShared struct {
	ConfigFilePath         string            `yaml:"configFilePath"`
	AppProtocol            string            `yaml:"appProtocol"`
	APIListenAddresses     string            `yaml:"apiListenAddresses"`
	EnableProfiling        bool              `yaml:"enableProfiling"`
	LogLevel               string            `yaml:"logLevel"`
	AppMaxConcurrency      int               `yaml:"appMaxConcurrency"`
	PlacementHostAddress   *string           `yaml:"placementHostAddress"`
	ResourcesPath          string            `yaml:"resourcesPath"`
	ResourcesPaths         []string          `yaml:"resourcesPaths"`
	AppSSL                 bool              `yaml:"appSSL"`
	MaxBodySize            string            `yaml:"maxBodySize"`
	ReadBufferSize         string            `yaml:"readBufferSize"`
	EnableAppHealthCheck   bool              `yaml:"enableAppHealthCheck"`
	AppHealthCheckPath     string            `yaml:"appHealthCheckPath"`
	AppHealthProbeInterval int               `yaml:"appHealthProbeInterval"`
	AppHealthProbeTimeout  int               `yaml:"appHealthProbeTimeout"`
	AppHealthThreshold     int               `yaml:"appHealthThreshold"`
	EnableAPILogging       bool              `yaml:"enableApiLogging"`
	RuntimePath            string            `yaml:"runtimePath"`
	Env                    map[string]string `yaml:"env"`
	DaprdLogDestination    string            `yaml:"daprdLogDestination"`
	AppLogDestination      string            `yaml:"appLogDestination"`
	SchedulerHostAddress   *string           `yaml:"schedulerHostAddress"`
}

type runApp struct {
	runShared                `yaml:",inline"`
	AppID                    string   `yaml:"appID"`
	AppDirPath               string   `yaml:"appDirPath"`
	AppChannelAddress        string   `yaml:"appChannelAddress"`
	AppPort                  int      `yaml:"appPort"`
	DaprHTTPPort             int      `yaml:"daprHTTPPort"`
	DaprGRPCPort             int      `yaml:"daprGRPCPort"`
	DaprInternalGRPCPort     int      `yaml:"daprInternalGRPCPort"`
	MetricsPort              int      `yaml:"metricsPort"`
	ProfilePort              int      `yaml:"profilePort"`
	UnixDomainSocket         string   `yaml:"unixDomainSocket"`
	Command                  []string `yaml:"command"`
	ContainerImage           string   `yaml:"containerImage"`
	ContainerImagePullPolicy string   `yaml:"containerImagePullPolicy"`
	CreateService            bool     `yaml:"createService"`
}

type runFile struct {
	Version int       `yaml:"version"`
	Name    string    `yaml:"name"`
	Common  runShared `yaml:"common"`
	Apps    []runApp  `yaml:"apps"`
}

func readRunFile(t *testing.T, path string) runFile {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f runFile
	require.NoError(t, dec.Decode(&f), "%s: only keys the Dapr CLI reads", path)
	return f
}

// dapr.yaml starts what `make run` starts, where it starts it: every
// function once, on RunPorts, with the sidecar the CLI finds under
// runtimePath being bin/daprd, on bindings/local.
func TestRunFileMatchesStack(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	f := readRunFile(t, filepath.Join(root, "dapr.yaml"))
	require.Equal(t, 1, f.Version)

	// The CLI runs <runtimePath>/.dapr/bin/daprd.
	link := filepath.Join(root, f.Common.RuntimePath, ".dapr", "bin")
	target, err := os.Readlink(link)
	require.NoError(t, err, "runtimePath must hold .dapr/bin linking to bin/")
	assert.Equal(t, filepath.Join(root, "bin"), filepath.Join(filepath.Dir(link), target))

	require.FileExists(t, filepath.Join(root, f.Common.ConfigFilePath))
	local := readComponents(t, filepath.Join(root, "bindings", "local"))
	loaded := map[string]component{}
	for _, dir := range f.Common.ResourcesPaths {
		for name, c := range readComponents(t, filepath.Join(root, dir)) {
			loaded[name] = c
		}
	}
	assert.Equal(t, local, loaded, "resourcesPaths load bindings/local")

	var ids []string
	for _, app := range f.Apps {
		ids = append(ids, app.AppID)
	}
	require.ElementsMatch(t, Functions, ids, "every function once")
	for _, app := range f.Apps {
		t.Run(app.AppID, func(t *testing.T) {
			want := Function{Name: app.AppID}
			want.RunPorts(slices.Index(Functions, app.AppID))
			assert.Equal(t, want.AppPort, app.AppPort, "appPort")
			assert.Equal(t, strconv.Itoa(want.AppPort), app.Env["PORT"], "the function listens on PORT")
			assert.Equal(t, want.HTTPPort, app.DaprHTTPPort, "daprHTTPPort")
			assert.Equal(t, want.GRPCPort, app.DaprGRPCPort, "daprGRPCPort")
			assert.Equal(t, want.InternalGRPCPort(), app.DaprInternalGRPCPort, "daprInternalGRPCPort")
			assert.Equal(t, strconv.Itoa(want.MetricsPort), app.Env["METRICS_PORT"], "the function serves metrics on METRICS_PORT")
			require.Len(t, app.Command, 1)
			assert.Equal(t, filepath.Join(root, "bin", app.AppID), filepath.Join(root, app.AppDirPath, app.Command[0]))
		})
	}
}

// hack/dapr-cli/local.env sets exactly what the components of
// bindings/local read, laid out as `make run`'s run folder.
func TestRunFileEnv(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	got := readEnvFile(t, filepath.Join(root, "hack", "dapr-cli", "local.env"))

	read := map[string]bool{}
	for _, c := range readComponents(t, filepath.Join(root, "bindings", "local")) {
		for _, m := range c.Spec.Metadata {
			if m.EnvRef != "" {
				read[m.EnvRef] = true
			}
		}
	}
	require.NotEmpty(t, read)
	for name := range read {
		assert.NotEmpty(t, got[name], "%s is read by bindings/local", name)
	}
	want := map[string]string{}
	for _, kv := range LocalEnv(".run", got["LOCAL_KAFKA_BROKERS"], got["LOCAL_NOTIFY_URL"], got["LOCAL_SWEEP_SCHEDULE"]) {
		k, v, _ := strings.Cut(kv, "=")
		want[k] = v
	}
	assert.Equal(t, want, got)
}

// readEnvFile reads KEY=VALUE lines as sh would with set -a, for the
// simple quoting the file uses.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q is no KEY=VALUE", path, line)
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			require.NotContains(t, v, " ", "%s: quote %s, or sh splits it", path, k)
		}
		out[k] = v
	}
	return out
}
