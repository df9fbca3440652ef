// Package render renders the functions' Helm chart with Helm's own engine
// (what `helm template` runs) and lays the result out as the committed
// plain manifests.
package render

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/strvals"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
)

// ChartDir is the chart's place in the repository.
const ChartDir = "knative/chart"

// ReleaseName is the name the chart is rendered under.
const ReleaseName = "todo-functions"

// Options select what to render.
type Options struct {
	ValuesFiles []string // like helm -f, in order
	Set         []string // like helm --set, after the files
}

// Chart renders the chart at dir and returns its documents in template
// order.
func Chart(dir string, opts Options) ([]manifest.Doc, error) {
	return render(dir, opts, ReleaseName, "", true)
}

// Release renders another project's chart (such as Dapr's own) as `helm
// install <release> -n <namespace>` would, with its defaults. Not strict:
// such charts read values they leave undefined.
func Release(dir, release, namespace string, set ...string) ([]manifest.Doc, error) {
	return render(dir, Options{Set: set}, release, namespace, false)
}

func render(dir string, opts Options, release, ns string, strict bool) ([]manifest.Doc, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	vals := map[string]any{}
	for _, f := range opts.ValuesFiles {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return nil, err
		}
		vals = mergeMaps(vals, v.AsMap())
	}
	for _, s := range opts.Set {
		if err := strvals.ParseInto(s, vals); err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	if ns == "" {
		ns = "default"
		if n, ok := vals["namespace"].(string); ok && n != "" {
			ns = n
		} else if n, ok := ch.Values["namespace"].(string); ok && n != "" {
			ns = n
		}
	}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: release, Namespace: ns, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	out, err := engine.Engine{Strict: strict}.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for n := range out {
		if strings.HasSuffix(n, ".yaml") && !strings.Contains(n, "/templates/_") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var docs []manifest.Doc
	for _, n := range names {
		d, err := manifest.Parse(n, []byte(out[n]))
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	return docs, nil
}

func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bv, ok := v.(map[string]any); ok {
			if av, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(av, bv)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Stream joins documents into one multi-document YAML stream.
func Stream(docs []manifest.Doc) []byte {
	var b bytes.Buffer
	for _, d := range docs {
		b.WriteString("---\n")
		b.Write(bytes.Trim(d.Raw, "\n"))
		b.WriteString("\n")
	}
	return b.Bytes()
}

// Header opens every generated file.
const Header = "# Generated from knative/chart by `make deploy-manifests`: edit the chart, not this file.\n"

// GeneratedDirs are the directories whose YAML is all generated: Layout
// owns them, and a file there that it does not produce is stale.
var GeneratedDirs = []string{"knative/services", "knative/sources", "bindings/kubernetes"}

// Path is where a document lives in the repository.
func Path(d manifest.Doc) (string, error) {
	fn := d.Labels["todo-chatbot.dev/function"]
	switch {
	case d.Group() == "serving.knative.dev" && d.Kind == "Service",
		d.Group() == "" && d.Kind == "ServiceAccount",
		d.Group() == "rbac.authorization.k8s.io" && (d.Kind == "Role" || d.Kind == "RoleBinding"):
		if fn == "" {
			return "", fmt.Errorf("%s: no todo-chatbot.dev/function label", d.Ref())
		}
		return "knative/services/" + fn + ".yaml", nil
	case d.Group() == "sources.knative.dev":
		return "knative/sources/" + d.Name + ".yaml", nil
	case d.Group() == "dapr.io":
		switch d.Kind {
		case "Component":
			return "bindings/kubernetes/" + d.Name + ".yaml", nil
		case "Resiliency":
			return "bindings/kubernetes/resiliency/" + d.Name + ".yaml", nil
		case "Configuration":
			return "bindings/kubernetes/configurations/" + d.Name + ".yaml", nil
		case "Subscription":
			return "bindings/kubernetes/subscriptions/" + d.Name + ".yaml", nil
		case "HTTPEndpoint":
			return "bindings/kubernetes/httpendpoints/" + d.Name + ".yaml", nil
		}
	}
	return "", fmt.Errorf("%s: no place for a %s %s", d.Ref(), d.APIVersion, d.Kind)
}

// Layout groups documents into files, keyed by path relative to the
// repository root.
func Layout(docs []manifest.Doc) (map[string][]byte, error) {
	byPath := map[string][]manifest.Doc{}
	var order []string
	for _, d := range docs {
		p, err := Path(d)
		if err != nil {
			return nil, err
		}
		if _, ok := byPath[p]; !ok {
			order = append(order, p)
		}
		byPath[p] = append(byPath[p], d)
	}
	files := make(map[string][]byte, len(byPath))
	for _, p := range order {
		files[p] = append([]byte(Header), Stream(byPath[p])...)
	}
	return files, nil
}

// Existing lists the YAML files now in the generated directories under
// root, relative to root.
func Existing(root string) ([]string, error) {
	var out []string
	for _, d := range GeneratedDirs {
		files, err := manifest.YAMLFiles(filepath.Join(root, d))
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		for _, f := range files {
			rel, err := filepath.Rel(root, f)
			if err != nil {
				return nil, err
			}
			out = append(out, filepath.ToSlash(rel))
		}
	}
	return out, nil
}

// Write replaces the generated files under root with files.
func Write(root string, files map[string][]byte) error {
	old, err := Existing(root)
	if err != nil {
		return err
	}
	for _, f := range old {
		if _, keep := files[f]; !keep {
			if err := os.Remove(filepath.Join(root, f)); err != nil {
				return err
			}
		}
	}
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
