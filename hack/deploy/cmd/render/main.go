// Command render renders the functions' Helm chart with Helm's engine and
// either prints it (for `ko resolve` and `kubectl apply`) or writes it out
// as the committed plain manifests.
//
//	render [-set only=create-task] [-f values.yaml] [-check]   # print
//	render -write                                              # regenerate knative/, bindings/kubernetes/ and the composed pod in docs/deploy/
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/todo-chatbot/functions/hack/deploy/internal/check"
	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
	"github.com/todo-chatbot/functions/hack/deploy/internal/render"
	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var opts render.Options
	flag.Var((*list)(&opts.Set), "set", "set a chart value, as helm --set (repeatable)")
	flag.Var((*list)(&opts.ValuesFiles), "f", "values file, as helm -f (repeatable)")
	only := flag.String("only", "", "render only this function, or \"platform\" (same as -set only=...)")
	write := flag.Bool("write", false, "write the default render to knative/ and bindings/kubernetes/, and create-task's composed pod to docs/deploy/")
	validate := flag.Bool("check", false, "validate what is rendered before printing it")
	flag.Parse()
	if err := run(opts, *only, *write, *validate); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(opts render.Options, only string, write, validate bool) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	if only != "" {
		opts.Set = append(opts.Set, "only="+only)
	}
	for i, f := range opts.ValuesFiles {
		if !filepath.IsAbs(f) {
			// Relative to where make was run, not this module.
			opts.ValuesFiles[i] = filepath.Join(root, f)
		}
	}
	docs, err := render.Chart(filepath.Join(root, render.ChartDir), opts)
	if err != nil {
		return err
	}
	if write {
		if len(opts.Set) > 0 || len(opts.ValuesFiles) > 0 {
			return fmt.Errorf("-write renders the chart's defaults only")
		}
		files, err := render.Layout(docs)
		if err != nil {
			return err
		}
		if err := render.Write(root, files); err != nil {
			return err
		}
		pod, err := check.ComposedDocument(docs)
		if err != nil {
			return err
		}
		out := filepath.Join(root, check.PodDocument)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, pod, 0o644)
	}
	if validate {
		if errs := check.All(docs, checkOptions(only, docs)); len(errs) > 0 {
			return check.Join(errs)
		}
	}
	_, err = os.Stdout.Write(render.Stream(docs))
	return err
}

// checkOptions expects what was asked for: one function, the platform, or
// everything; values such as min-scale may be overridden, so they are read
// back from what was rendered rather than assumed.
func checkOptions(only string, docs []manifest.Doc) check.Options {
	o := check.Options{MinScale: map[string]int{}}
	switch only {
	case "":
		o = check.Everything()
		o.MinScale = map[string]int{}
	case "platform":
		o.Platform = true
	default:
		o.Functions = []string{only}
	}
	for _, d := range docs {
		if d.Kind != "Service" {
			continue
		}
		var n int
		if tmpl, ok := d.Object["spec"].(map[string]any)["template"].(map[string]any); ok {
			if md, ok := tmpl["metadata"].(map[string]any); ok {
				if an, ok := md["annotations"].(map[string]any); ok {
					if _, err := fmt.Sscan(fmt.Sprint(an["autoscaling.knative.dev/min-scale"]), &n); err == nil {
						o.MinScale[d.Name] = n
					}
				}
			}
		}
		if img := containerImage(d); img != "" && !strings.HasPrefix(img, "ko://") {
			o.ImageRegistry = strings.TrimSuffix(img[:strings.LastIndex(img, "/"+d.Name+":")+1], "/")
		}
	}
	return o
}

func containerImage(d manifest.Doc) string {
	spec, _ := d.Object["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	ps, _ := tmpl["spec"].(map[string]any)
	cs, _ := ps["containers"].([]any)
	if len(cs) == 0 {
		return ""
	}
	c, _ := cs[0].(map[string]any)
	img, _ := c["image"].(string)
	return img
}
