package security_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
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
	s := startACLStack(t, root, filepath.Join(dir, "mtls"), true)

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
		plain := startACLStack(t, root, filepath.Join(dir, "plain"), false)
		assert.Contains(t, devstack.Tail(plain.LogPath("create-task-dapr"), 1000), "mTLS is disabled")
		for _, from := range []string{"chat-api", "intruder"} {
			url := plain.Functions[from].DaprURL() + "/v1.0/invoke/create-task/method/users/acl-user/tasks"
			r := do(t, http.MethodPost, url, map[string]any{"title": "from " + from})
			assert.Equal(t, http.StatusForbidden, r.Status, "%s without mTLS: %s", from, r.Body)
		}
	})
}

// startACLStack starts the broker, the scheduler, create-task with its
// sidecar and the sidecar-only apps chat-api and intruder, every sidecar
// with bindings/test/config-acl.yaml, and with mTLS from the stack's own
// sentry when mtls is set.
func startACLStack(t *testing.T, root, dir string, mtls bool) *devstack.Stack {
	t.Helper()
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
	o := devstack.Options{
		Dir: dir, BinDir: filepath.Join(root, "bin"), ResourcesDir: res,
		ConfigFile: filepath.Join(root, "bindings", "test", "config-acl.yaml"),
		BrokerPort: bp[0], SchedPort: sched, Functions: fns,
		Env: devstack.LocalEnv(dir, fmt.Sprintf("127.0.0.1:%d", bp[0]), "http://127.0.0.1:1/unused", "@every 1h"),
	}
	if mtls {
		o.SentryPort, err = devstack.FreeBlock(2)
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, o)
	require.NoError(t, err)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			for _, name := range s.Names() {
				t.Logf("---- last lines of %s ----\n%s", name, devstack.Tail(s.LogPath(name), 30))
			}
		}
	})
	return s
}
