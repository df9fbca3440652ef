package apicontract

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/fn"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// readmeBlocks returns the fenced blocks of lang in the README's section
// "Adding a function", without the list's indentation.
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(b), "\n## Adding a function\n")
	require.True(t, ok, "README.md has no section \"Adding a function\"")
	section, _, _ = strings.Cut(section, "\n## ")
	var out []string
	for _, m := range regexp.MustCompile("(?s)\n   ```"+lang+"\n(.*?)\n   ```").FindAllStringSubmatch(section, -1) {
		lines := strings.Split(m[1], "\n")
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, "   ")
		}
		out = append(out, strings.Join(lines, "\n")+"\n")
	}
	return out
}

// TestAddingAFunctionAsTheREADMESays follows the README: the function's two
// files, as written there, build into a function that serves what its
// chart entry and routes say, and the entry makes it the last function.
func TestAddingAFunctionAsTheREADMESays(t *testing.T) {
	const name = "archive-task"
	code := readmeBlocks(t, "go")
	require.Len(t, code, 2, "main.go and handler.go")
	root := repoRoot(t)
	dir := t.TempDir()

	// The files as if they were in functions/archive-task, without writing
	// into the repository.
	overlay := map[string]string{}
	for i, file := range []string{"main.go", "handler.go"} {
		tmp := filepath.Join(dir, file)
		require.NoError(t, os.WriteFile(tmp, []byte(code[i]), 0o644))
		overlay[filepath.Join(root, "functions", name, file)] = tmp
	}
	ov, err := json.Marshal(map[string]any{"Replace": overlay})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "overlay.json"), ov, 0o644))
	bin := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-overlay", filepath.Join(dir, "overlay.json"), "-o", bin, "./functions/"+name)
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "the README's function does not build:\n%s", out)

	out, err = exec.Command(bin, "-describe").Output()
	require.NoError(t, err)
	var d fn.Description
	require.NoError(t, json.Unmarshal(out, &d))
	assert.Equal(t, name, d.Name)
	assert.Equal(t, []string{"GET /users/{user_id}/archive"}, d.Routes)
	require.Len(t, d.Topics, 1)
	assert.Equal(t, "todo.tasks.events", d.Topics[0].Topic)
	assert.Equal(t, []string{"/events/todo.tasks.events"}, d.Events, "the route step 4 documents for Knative Eventing")

	entry := readmeBlocks(t, "yaml")
	require.Len(t, entry, 1, "the chart entry")
	values, err := os.ReadFile(filepath.Join(root, devstack.ValuesFile))
	require.NoError(t, err)
	withEntry := filepath.Join(dir, "values.yaml")
	require.NoError(t, os.WriteFile(withEntry, append(values, entry[0]...), 0o644))
	names, err := devstack.ChartFunctions(withEntry)
	require.NoError(t, err)
	assert.Equal(t, append(append([]string(nil), devstack.Functions...), name), names,
		"the new function comes last; the others keep their places, and so their ports")
	assert.Contains(t, entry[0], "topics: [todo.tasks.events]", "the entry subscribes to what the code handles")
}
