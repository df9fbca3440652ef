// Package changed decides which functions a change set touches, so CI
// builds and deploys only those.
//
// A function changed when a file changed in its folder, in a package of
// the root module that its binary imports (transitively), in its rendered
// manifests, or in what every build or deployment depends on (go.mod,
// go.sum, .ko.yaml, the chart, the deploy recipe). Test files and testdata
// are not part of any binary and select nothing.
package changed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
)

// Module is the root module, whose packages the functions are built from.
const Module = "github.com/todo-chatbot/functions"

// FunctionLabel marks every rendered resource that belongs to one function.
const FunctionLabel = "todo-chatbot.dev/function"

// Result is what to deploy.
type Result struct {
	// Functions to build and deploy, sorted.
	Functions []string `json:"functions"`
	// Platform: the shared Dapr resources (components, resiliency) changed.
	Platform bool `json:"platform"`
}

// Repo knows each function's package directories.
type Repo struct {
	Root string
	// deps: function -> directories (slash, relative to Root) of the root
	// module's packages its binary is built from, its own included.
	deps map[string]map[string]bool
}

// everything is what a change to a shared build or deploy input selects.
var (
	allFunctions = map[string]bool{"go.mod": true, "go.sum": true, ".ko.yaml": true}
	allAndShared = map[string]bool{"hack/deploy.mk": true}
)

// generatedDirs hold the rendered manifests; each resource names its
// function in a label.
var generatedDirs = []string{"knative/services/", "knative/sources/", "bindings/kubernetes/"}

// Load lists the functions (main packages at functions/<name>) under root
// and what they import, with `go list`. It never changes go.mod.
func Load(root string) (*Repo, error) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Dir,Name,Deps", "./...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %w: %s", root, err, stderr.String())
	}
	type pkg struct {
		ImportPath, Dir, Name string
		Deps                  []string
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	rel := func(dir string) string {
		r, err := filepath.Rel(root, dir)
		if err != nil {
			return ""
		}
		return filepath.ToSlash(r)
	}
	dirOf := map[string]string{}
	for _, p := range pkgs {
		dirOf[p.ImportPath] = rel(p.Dir)
	}
	r := &Repo{Root: root, deps: map[string]map[string]bool{}}
	for _, p := range pkgs {
		name, ok := strings.CutPrefix(p.ImportPath, Module+"/functions/")
		if !ok || strings.Contains(name, "/") || p.Name != "main" {
			continue
		}
		dirs := map[string]bool{rel(p.Dir): true}
		for _, d := range p.Deps {
			if d == Module || strings.HasPrefix(d, Module+"/") {
				if dir, ok := dirOf[d]; ok {
					dirs[dir] = true
				}
			}
		}
		r.deps[name] = dirs
	}
	return r, nil
}

// Functions lists the functions found, sorted.
func (r *Repo) Functions() []string {
	out := make([]string, 0, len(r.deps))
	for f := range r.deps {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Deps lists the package directories a function is built from, sorted.
func (r *Repo) Deps(function string) []string {
	var out []string
	for d := range r.deps[function] {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// Select returns what the changed files (slash paths relative to the root)
// touch. read returns a file's content as it is after the change, or an
// error when the change deleted it.
func (r *Repo) Select(files []string, read func(string) ([]byte, error)) Result {
	sel := map[string]bool{}
	platform := false
	all := func() {
		for f := range r.deps {
			sel[f] = true
		}
	}
	for _, f := range files {
		f = path.Clean(filepath.ToSlash(f))
		switch {
		case allFunctions[f]:
			all()
			continue
		case allAndShared[f], strings.HasPrefix(f, "knative/chart/"):
			all()
			platform = true
			continue
		}
		if rest, ok := strings.CutPrefix(f, "functions/"); ok {
			name, _, _ := strings.Cut(rest, "/")
			if _, ok := r.deps[name]; ok {
				sel[name] = true
			}
			continue
		}
		if generated(f) {
			fns, shared := labelled(f, read)
			for _, fn := range fns {
				if _, ok := r.deps[fn]; ok {
					sel[fn] = true
				}
			}
			platform = platform || shared
			continue
		}
		if strings.HasSuffix(f, "_test.go") || hasElem(f, "testdata") {
			continue
		}
		dir := path.Dir(f)
		for fn, dirs := range r.deps {
			if dirs[dir] {
				sel[fn] = true
			}
		}
	}
	res := Result{Functions: []string{}, Platform: platform}
	for f := range sel {
		res.Functions = append(res.Functions, f)
	}
	sort.Strings(res.Functions)
	return res
}

func generated(f string) bool {
	if !strings.HasSuffix(f, ".yaml") && !strings.HasSuffix(f, ".yml") {
		return false
	}
	for _, d := range generatedDirs {
		if strings.HasPrefix(f, d) {
			return true
		}
	}
	return false
}

// labelled returns the functions a manifest file's resources belong to,
// and whether it holds shared ones. A file that cannot be read (deleted)
// or parsed counts as shared: redeploying shared resources is harmless.
func labelled(f string, read func(string) ([]byte, error)) (fns []string, shared bool) {
	data, err := read(f)
	if err != nil {
		return nil, true
	}
	docs, err := manifest.Parse(f, data)
	if err != nil {
		return nil, true
	}
	for _, d := range docs {
		if fn := d.Labels[FunctionLabel]; fn != "" {
			fns = append(fns, fn)
		} else {
			shared = true
		}
	}
	return fns, shared
}

func hasElem(p, elem string) bool {
	for _, e := range strings.Split(p, "/") {
		if e == elem {
			return true
		}
	}
	return false
}

// ReadWorktree reads files from the working tree under root.
func ReadWorktree(root string) func(string) ([]byte, error) {
	return func(f string) ([]byte, error) { return os.ReadFile(filepath.Join(root, filepath.FromSlash(f))) }
}

// ReadRev reads files as they are at a git revision.
func ReadRev(root, rev string) func(string) ([]byte, error) {
	return func(f string) ([]byte, error) {
		cmd := exec.Command("git", "show", rev+":"+f)
		cmd.Dir = root
		return cmd.Output()
	}
}

// Diff lists the files that differ between two revisions. An empty or
// all-zero base (a branch's first push) yields nil, false: compare with
// nothing, so deploy everything.
func Diff(root, base, head string) (files []string, ok bool, err error) {
	if strings.Trim(base, "0") == "" {
		return nil, false, nil
	}
	cmd := exec.Command("git", "diff", "--name-only", "--no-renames", "-z", base, head)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, false, fmt.Errorf("git diff %s %s: %w: %s", base, head, err, stderr.String())
	}
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, true, nil
}

// All selects every function and the shared resources.
func (r *Repo) All() Result {
	return Result{Functions: r.Functions(), Platform: true}
}
