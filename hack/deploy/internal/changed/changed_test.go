package changed

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

// fakeTree lays out a small copy of the repository's shape: three
// functions over a few shared packages, one imported only transitively.
func fakeTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                                                       "module github.com/todo-chatbot/functions\n\ngo 1.26\n",
		"shared/base/base.go":                                          "package base\n\nconst N = 1\n",
		"shared/todo/task/task.go":                                     "package task\n\nimport \"github.com/todo-chatbot/functions/shared/base\"\n\nconst N = base.N\n",
		"shared/todo/task/task_test.go":                                "package task\n",
		"shared/todo/task/testdata/task.json":                          "{}\n",
		"shared/store/store.go":                                        "package store\n\nimport \"github.com/todo-chatbot/functions/shared/todo/task\"\n\nconst N = task.N\n",
		"shared/other/other.go":                                        "package other\n\nconst N = 2\n",
		"shared/unused/unused.go":                                      "package unused\n",
		"functions/create-task/main.go":                                "package main\n\nimport \"github.com/todo-chatbot/functions/shared/todo/task\"\n\nfunc main() { _ = task.N }\n",
		"functions/list-tasks/main.go":                                 "package main\n\nimport \"github.com/todo-chatbot/functions/shared/store\"\n\nfunc main() { _ = store.N }\n",
		"functions/send-notification/main.go":                          "package main\n\nimport \"github.com/todo-chatbot/functions/shared/other\"\n\nfunc main() { _ = other.N }\n",
		"functions/send-notification/handler/handler.go":               "package handler\n",
		"knative/services/create-task.yaml":                            "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: create-task\n  labels:\n    todo-chatbot.dev/function: create-task\n",
		"knative/sources/send-notification-todo-reminders-events.yaml": "apiVersion: sources.knative.dev/v1beta1\nkind: KafkaSource\nmetadata:\n  name: x\n  labels:\n    todo-chatbot.dev/function: send-notification\n",
		"bindings/kubernetes/pubsub.yaml":                              "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: pubsub\n",
		"docs/scale-to-zero.md":                                        "# docs\n",
	}
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func load(t *testing.T, root string) *Repo {
	t.Helper()
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "")
	r, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSelect(t *testing.T) {
	root := fakeTree(t)
	r := load(t, root)
	if got, want := r.Functions(), []string{"create-task", "list-tasks", "send-notification"}; !slices.Equal(got, want) {
		t.Fatalf("functions = %v, want %v", got, want)
	}
	all := []string{"create-task", "list-tasks", "send-notification"}
	tests := []struct {
		name     string
		files    []string
		want     []string
		platform bool
	}{
		{"shared package selects its importers only", []string{"shared/todo/task/task.go"}, []string{"create-task", "list-tasks"}, false},
		{"imported through another package", []string{"shared/base/base.go"}, []string{"create-task", "list-tasks"}, false},
		{"function folder selects that function only", []string{"functions/create-task/main.go"}, []string{"create-task"}, false},
		{"anything in the folder", []string{"functions/send-notification/handler/handler.go"}, []string{"send-notification"}, false},
		{"docs select none", []string{"docs/scale-to-zero.md", "README.md"}, []string{}, false},
		{"tests are not in the binary", []string{"shared/todo/task/task_test.go", "shared/todo/task/testdata/task.json"}, []string{}, false},
		{"package nobody imports", []string{"shared/unused/unused.go"}, []string{}, false},
		{"union", []string{"shared/other/other.go", "functions/create-task/main.go"}, []string{"create-task", "send-notification"}, false},
		{"go.mod", []string{"go.mod"}, all, false},
		{"go.sum", []string{"go.sum"}, all, false},
		{"image build config", []string{".ko.yaml"}, all, false},
		{"chart", []string{"knative/chart/templates/service.yaml"}, all, true},
		{"deploy recipe", []string{"hack/deploy.mk"}, all, true},
		{"a function's rendered manifest", []string{"knative/services/create-task.yaml"}, []string{"create-task"}, false},
		{"a function's source", []string{"knative/sources/send-notification-todo-reminders-events.yaml"}, []string{"send-notification"}, false},
		{"a shared component", []string{"bindings/kubernetes/pubsub.yaml"}, []string{}, true},
		{"a deleted manifest", []string{"bindings/kubernetes/gone.yaml"}, []string{}, true},
		{"a deleted function", []string{"functions/old-fn/main.go"}, []string{}, false},
		{"the deploy module's own code", []string{"hack/deploy/internal/check/check.go"}, []string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Select(tt.files, ReadWorktree(root))
			if !slices.Equal(got.Functions, tt.want) || got.Platform != tt.platform {
				t.Errorf("Select(%v) = %+v, want functions %v platform %t", tt.files, got, tt.want, tt.platform)
			}
		})
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestDiff(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	root := fakeTree(t)
	git(t, root, "init", "-q")
	git(t, root, "add", ".")
	git(t, root, "commit", "-q", "-m", "one")
	base := git(t, root, "rev-parse", "HEAD")
	if err := os.WriteFile(filepath.Join(root, "shared/other/other.go"), []byte("package other\n\nconst N = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "knative/services/create-task.yaml")); err != nil {
		t.Fatal(err)
	}
	git(t, root, "commit", "-q", "-am", "two")
	files, ok, err := Diff(root, base, "HEAD")
	if err != nil || !ok {
		t.Fatalf("Diff: %v %v", ok, err)
	}
	slices.Sort(files)
	if want := []string{"knative/services/create-task.yaml", "shared/other/other.go"}; !slices.Equal(files, want) {
		t.Fatalf("files = %v, want %v", files, want)
	}
	got := load(t, root).Select(files, ReadRev(root, "HEAD"))
	if !slices.Equal(got.Functions, []string{"send-notification"}) || !got.Platform {
		t.Errorf("got %+v: want send-notification, and the deleted manifest counted as shared", got)
	}
	if _, ok, _ := Diff(root, "0000000000000000000000000000000000000000", "HEAD"); ok {
		t.Error("a zero base must mean: everything")
	}
}

// TestRealRepository holds whatever functions exist now: each is selected
// by its own main.go, by nothing of another function's folder, and by
// every root-module package it imports.
func TestRealRepository(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if len(dirs) == 0 {
		t.Skip("no functions/*/main.go yet")
	}
	for _, m := range dirs {
		name := filepath.Base(filepath.Dir(m))
		got := r.Select([]string{"functions/" + name + "/main.go"}, ReadWorktree(root))
		if !slices.Equal(got.Functions, []string{name}) {
			t.Errorf("a change to functions/%s/main.go selects %v, want [%s]", name, got.Functions, name)
		}
		for _, d := range r.Deps(name) {
			if strings.HasPrefix(d, "functions/") {
				continue
			}
			got := r.Select([]string{d + "/x.go"}, ReadWorktree(root))
			if !slices.Contains(got.Functions, name) {
				t.Errorf("%s imports %s, but a change there selects %v", name, d, got.Functions)
			}
		}
	}
}
