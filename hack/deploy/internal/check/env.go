package check

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// EnvDirs hold the code that reads a function's environment: the runtime
// (shared/runtime/fn), its sidecar client and the functions themselves.
var EnvDirs = []string{"shared/runtime/fn", "shared/runtime/sidecar", "functions"}

// EnvReads lists the names of environment variables the functions can
// read: every name in an env struct tag (`env:"PORT,default=8080"`, how
// the runtime and the functions read their settings) and every string
// literal spelt like one (PORT, LOG_LEVEL) in the non-test Go code of
// EnvDirs. A variable whose name appears nowhere there is certainly not
// read.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)

// sdkReads are variables read by code not of ours, so no literal of ours
// names them: the OpenTelemetry SDK in shared/runtime/fn, by the
// OpenTelemetry specification's names (the sampler and the resource), and
// the Go runtime (GOMAXPROCS).
var sdkReads = []string{"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "GOMAXPROCS"}

func EnvReads(root string) ([]string, error) {
	seen := map[string]bool{}
	fset := token.NewFileSet()
	for _, dir := range EnvDirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if field, ok := n.(*ast.Field); ok && field.Tag != nil {
					if tag, err := strconv.Unquote(field.Tag.Value); err == nil {
						name, _, _ := strings.Cut(reflect.StructTag(tag).Get("env"), ",")
						if envName.MatchString(name) {
							seen[name] = true
						}
					}
				}
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if v, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(v) {
						seen[v] = true
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, k := range sdkReads {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}
