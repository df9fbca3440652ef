package e2e_test

import (
	"bufio"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// callsReport is where testSidecarCalls writes its table (a test never
// writes into docs/: make reports copies it there).
const callsReport = ".run/reports/sidecar-calls.md"

var callLine = regexp.MustCompile(`^todo_sidecar_calls_total\{method="([^"]+)"\} (\S+)$`)

// sidecarCalls reads each function's count of calls to its sidecar, by
// gRPC method, from its metrics endpoint.
func sidecarCalls(t *testing.T, p *devstack.Project) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	for name, f := range p.Functions {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", f.MetricsPort))
		require.NoError(t, err)
		out[name] = map[string]int{}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if m := callLine.FindStringSubmatch(sc.Text()); m != nil {
				n, err := strconv.ParseFloat(m[2], 64)
				require.NoError(t, err)
				out[name][m[1]] = int(n)
			}
		}
		require.NoError(t, sc.Err())
		resp.Body.Close()
	}
	return out
}

// since is what each function called between two readings, without the
// methods it did not call.
func since(before, after map[string]map[string]int) map[string]map[string]int {
	out := map[string]map[string]int{}
	for fn, calls := range after {
		for m, n := range calls {
			if d := n - before[fn][m]; d > 0 {
				if out[fn] == nil {
					out[fn] = map[string]int{}
				}
				out[fn][m] = d
			}
		}
	}
	return out
}

func total(calls map[string]int) (n int) {
	for _, c := range calls {
		n += c
	}
	return n
}

// testSidecarCalls counts the calls each function makes to its sidecar
// for one of each operation, on a quiet stack: every call is CPU in two
// processes, so this is the first figure to cut. The table goes to
// .run/reports/sidecar-calls.md.
func testSidecarCalls(t *testing.T, a api, p *devstack.Project) {
	user := uniqueUser("calls")
	type op struct {
		name string
		run  func()
	}
	var created map[string]any
	ops := []op{
		{"create a task (no reminder)", func() { a.create(user, map[string]any{"title": "plain"}) }},
		{"create a task with a reminder, until its notification is delivered", func() {
			created = a.create(user, map[string]any{"title": "remind me", "remind_at": rfc(time.Now().Add(2 * time.Second))})
			require.Eventually(t, func() bool { return len(p.Webhook.DeliveriesFor(created["id"].(string))) == 1 },
				30*time.Second, 50*time.Millisecond, "the reminder never arrived")
		}},
		{"complete a task", func() {
			r := a.call("complete-task", http.MethodPost, "/users/"+user+"/tasks/"+created["id"].(string)+"/complete", nil)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		}},
		{"list a user's tasks", func() {
			require.Equal(t, http.StatusOK, a.call("list-tasks", http.MethodGet, "/users/"+user+"/tasks", nil).Status)
		}},
	}
	var b strings.Builder
	b.WriteString("| operation | function | calls | by method |\n|---|---|---|---|\n")
	for _, o := range ops {
		before := sidecarCalls(t, p)
		o.run()
		// What the operation set off asynchronously (fire-reminder reacting
		// to its event) settles within a second on a quiet stack.
		time.Sleep(1500 * time.Millisecond)
		got := since(before, sidecarCalls(t, p))
		require.NotEmpty(t, got, "%s: no sidecar call counted", o.name)
		for _, fn := range slices.Sorted(maps.Keys(got)) {
			var methods []string
			for _, m := range slices.Sorted(maps.Keys(got[fn])) {
				methods = append(methods, fmt.Sprintf("%s %d", m, got[fn][m]))
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s |\n", o.name, fn, total(got[fn]), strings.Join(methods, ", "))
		}
	}
	t.Logf("sidecar calls per operation:\n%s", b.String())
	root, err := devstack.RepoRoot()
	require.NoError(t, err)
	path := filepath.Join(root, callsReport)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	assert.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
}
