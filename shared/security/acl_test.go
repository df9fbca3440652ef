package security_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/todo-chatbot/functions/shared/devstack"
	"github.com/todo-chatbot/functions/shared/fakes"
)

// TestAccessControl runs create-task's sidecar with bindings/test/
// config-acl.yaml and mTLS from a local Dapr sentry, next to two
// sidecar-only apps: chat-api, which the policy allows, and intruder,
// which it does not.
//
// Both outcomes together show the policy is enforced by identity: without
// mTLS daprd knows no caller's app-id and applies the default action
// (deny) to both.
func TestAccessControl(t *testing.T) {
	root, err := devstack.RepoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	sentryBin := buildSentry(t, root)

	// The CA: sentry makes a self-signed root and issuer on its first run.
	creds := filepath.Join(dir, "sentry-creds")
	require.NoError(t, os.MkdirAll(creds, 0o700))
	sentryCfg := filepath.Join(dir, "sentry-config.yaml")
	require.NoError(t, os.WriteFile(sentryCfg, []byte("apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata: {name: daprsystem}\nspec:\n  mtls: {enabled: true, workloadCertTTL: 1h, allowedClockSkew: 15m}\n"), 0o644))
	sp, err := devstack.FreePorts(2)
	require.NoError(t, err)
	sentryArgs := []string{
		"--config", sentryCfg, "--issuer-credentials", creds, "--trust-domain", "localhost",
		"--port", fmt.Sprint(sp[0]), "--listen-address", "127.0.0.1",
		"--healthz-port", fmt.Sprint(sp[1]), "--healthz-listen-address", "127.0.0.1",
		"--enable-metrics=false", "--log-as-json",
	}
	boot := startProcess(t, filepath.Join(dir, "sentry-init.log"), sentryBin, sentryArgs...)
	waitFor(t, 30*time.Second, "sentry to write its CA", func() bool {
		for _, f := range []string{"ca.crt", "issuer.crt", "issuer.key"} {
			if st, err := os.Stat(filepath.Join(creds, f)); err != nil || st.Size() == 0 {
				return false
			}
		}
		return true
	})
	boot.stop()
	// From now on the CA files stay as they are, so sentry never reloads.
	sentry := startProcess(t, filepath.Join(dir, "sentry.log"), sentryBin, sentryArgs...)
	t.Cleanup(sentry.stop)
	waitFor(t, 30*time.Second, "sentry healthy", func() bool { return httpOK(fmt.Sprintf("http://127.0.0.1:%d/healthz", sp[1])) })
	anchors, err := os.ReadFile(filepath.Join(creds, "ca.crt"))
	require.NoError(t, err)
	sentryAddr := fmt.Sprintf("127.0.0.1:%d", sp[0])

	// daprd and the scheduler with mTLS, by wrappers around the built
	// binaries (the stack's own command lines stay as they are).
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(root, "bin", "broker"), filepath.Join(bin, "broker")))
	caFile := filepath.Join(creds, "ca.crt")
	writeWrapper(t, filepath.Join(bin, "daprd"), filepath.Join(root, "bin", "daprd"),
		"--enable-mtls", "--sentry-address", sentryAddr)
	writeWrapper(t, filepath.Join(bin, "scheduler"), filepath.Join(root, "bin", "scheduler"),
		"--tls-enabled", "--trust-anchors-file", caFile, "--sentry-address", sentryAddr,
		"--identity-directory-write", filepath.Join(dir, "scheduler-identity"))

	s := startACLStack(t, root, filepath.Join(dir, "mtls"), bin, "DAPR_TRUST_ANCHORS="+string(anchors), "NAMESPACE=default")

	invoke := func(t *testing.T, from, path string) fakes.Response {
		t.Helper()
		url := s.Functions[from].DaprURL() + "/v1.0/invoke/create-task/method" + path
		return do(t, http.MethodPost, url, map[string]any{"title": "from " + from})
	}
	t.Run("mTLS is on", func(t *testing.T) {
		for _, name := range []string{"create-task-dapr", "chat-api-dapr", "intruder-dapr"} {
			log := devstack.Tail(s.LogPath(name), 1000)
			assert.NotContains(t, log, "mTLS is disabled", name)
			assert.Contains(t, log, "Fetching initial identity", "%s got its certificate from sentry", name)
		}
	})
	t.Run("chat-api may invoke create-task", func(t *testing.T) {
		r := invoke(t, "chat-api", "/users/acl-user/tasks")
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		assert.Equal(t, "from chat-api", r.Object(t)["title"])
	})
	t.Run("intruder gets 403", func(t *testing.T) {
		for _, path := range []string{"/users/acl-user/tasks", "/users/other/tasks", "/healthz"} {
			r := invoke(t, "intruder", path)
			assert.Equal(t, http.StatusForbidden, r.Status, "%s: %s", path, r.Body)
			assert.Contains(t, string(r.Body), "access control policy has denied access", path)
		}
	})
	t.Run("the refused call never reached create-task", func(t *testing.T) {
		log := devstack.Tail(s.LogPath("create-task"), 400)
		assert.Equal(t, 1, strings.Count(log, `"msg":"task created"`), "only chat-api's task: %s", log)
		assert.NotContains(t, log, "from intruder")
	})
	t.Run("without mTLS the policy denies every caller", func(t *testing.T) {
		plain := startACLStack(t, root, filepath.Join(dir, "plain"), filepath.Join(root, "bin"))
		assert.Contains(t, devstack.Tail(plain.LogPath("create-task-dapr"), 1000), "mTLS is disabled")
		for _, from := range []string{"chat-api", "intruder"} {
			url := plain.Functions[from].DaprURL() + "/v1.0/invoke/create-task/method/users/acl-user/tasks"
			r := do(t, http.MethodPost, url, map[string]any{"title": "from " + from})
			assert.Equal(t, http.StatusForbidden, r.Status, "%s without mTLS: %s", from, r.Body)
		}
	})
}

// startACLStack starts the broker, the scheduler, create-task with its
// sidecar and the sidecar-only apps chat-api and intruder, from the
// binaries in bin, every sidecar with bindings/test/config-acl.yaml.
func startACLStack(t *testing.T, root, dir, bin string, env ...string) *devstack.Stack {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	// The access control file as committed, plus this stack's own name
	// resolution (see devstack.Start).
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(root, "bindings", "test", "config-acl.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	cfg["spec"].(map[string]any)["nameResolution"] = devstack.NameResolution(dir)
	b, err = yaml.Marshal(cfg)
	require.NoError(t, err)
	cfgFile := filepath.Join(dir, "config-acl.yaml")
	require.NoError(t, os.WriteFile(cfgFile, b, 0o644))

	res := filepath.Join(dir, "resources")
	require.NoError(t, os.MkdirAll(res, 0o755))
	for _, f := range []string{"tasks.yaml", "dedupe.yaml", "pubsub.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, "bindings", "local", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(res, f), b, 0o644))
	}

	bins := devstack.BuildFunctions(t, filepath.Join(dir, "fn"), "create-task")
	fns := []devstack.Function{{Name: "create-task", Binary: bins["create-task"]}}
	for _, name := range []string{"chat-api", "intruder"} {
		fns = append(fns, devstack.Function{Name: name, AppPort: devstack.StubApp(t)})
	}
	for i := range fns {
		p, err := devstack.FreePorts(2)
		require.NoError(t, err)
		if fns[i].AppPort == 0 {
			fns[i].AppPort = p[0]
		}
		fns[i].HTTPPort = p[1]
		fns[i].GRPCPort, err = devstack.FreeGRPCPort()
		require.NoError(t, err)
	}
	sched, err := devstack.FreeBlock(5)
	require.NoError(t, err)
	bp, err := devstack.FreePorts(1)
	require.NoError(t, err)
	broker := fmt.Sprintf("127.0.0.1:%d", bp[0])
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, devstack.Options{
		Dir: dir, BinDir: bin, ResourcesDir: res, ConfigFile: cfgFile,
		BrokerPort: bp[0], SchedPort: sched, Functions: fns,
		Env: append(devstack.LocalEnv(dir, broker, "http://127.0.0.1:1/unused", "@every 1h"), env...),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			for _, name := range append(s.Names(), "sentry") {
				path := filepath.Join(dir, "logs", name+".log")
				if name == "sentry" {
					path = filepath.Join(filepath.Dir(dir), "sentry.log") // none without mTLS
				}
				t.Logf("---- last lines of %s ----\n%s", name, devstack.Tail(path, 30))
			}
		}
	})

	return s
}

// buildSentry returns bin/sentry, building it from the Dapr version pinned
// in hack/dapr when it is missing (make tools does not build it).
func buildSentry(t *testing.T, root string) string {
	t.Helper()
	path := filepath.Join(root, "bin", "sentry")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", path, "github.com/dapr/dapr/cmd/sentry")
	cmd.Dir = filepath.Join(root, "hack", "dapr")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building the Dapr sentry: %s", out)
	return path
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startProcess(t *testing.T, logPath, bin string, args ...string) *process {
	t.Helper()
	logf, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	return p
}

func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

func writeWrapper(t *testing.T, path, real string, extra ...string) {
	t.Helper()
	var q []string
	for _, a := range extra {
		q = append(q, "'"+a+"'")
	}
	script := fmt.Sprintf("#!/bin/sh\nexec '%s' \"$@\" %s\n", real, strings.Join(q, " "))
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
}

func httpOK(url string) bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
