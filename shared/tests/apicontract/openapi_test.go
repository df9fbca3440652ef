package apicontract

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/problem"
	"github.com/todo-chatbot/functions/shared/runtime/request"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/todo/notify"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// appIDExt names the function (Dapr app-id) that serves an operation.
const appIDExt = "x-dapr-app-id"

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := devstack.RepoRoot()
	require.NoError(t, err)
	return root
}

// loadOpenAPI loads and validates docs/api/openapi.yaml, following its
// references into shared/todo/eventschema/schemas.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	l := openapi3.NewLoader()
	l.IsExternalRefsAllowed = true
	doc, err := l.LoadFromFile(filepath.Join(repoRoot(t), "docs", "api", "openapi.yaml"))
	require.NoError(t, err, "docs/api/openapi.yaml does not load")
	require.True(t, doc.IsOpenAPI31OrLater(), "the document is OpenAPI %s, want 3.1", doc.OpenAPI)
	require.NoError(t, doc.Validate(context.Background()), "docs/api/openapi.yaml is not a valid OpenAPI document")
	return doc
}

// route is one HTTP route of one function.
type route struct{ Function, Method, Path string }

func (r route) String() string { return r.Function + " " + r.Method + " " + r.Path }

// docRoutes lists every operation of the document with the function that
// serves it.
func docRoutes(t testing.TB, doc *openapi3.T) []route {
	t.Helper()
	var out []route
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			fn, _ := op.Extensions[appIDExt].(string)
			if !slices.Contains(devstack.Functions, fn) {
				t.Errorf("%s %s: %s is %q, not one of the functions %v", method, path, appIDExt, fn, devstack.Functions)
			}
			out = append(out, route{fn, method, path})
		}
	}
	sortRoutes(out)
	return out
}

func sortRoutes(rs []route) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].String() < rs[j].String() })
}

// codeRoutes lists every HTTP route the functions serve, as each function
// describes itself: its own routes, and the CloudEvent routes of the
// runtime (Event paths, and /events/<topic> of each subscription; a cron
// binding's /events/<binding> is among the Event paths). Routes that only
// daprd calls (/dapr/*, /job/*, the cron binding's own path) and the probes
// are not part of the contract.
func codeRoutes(t testing.TB) []route {
	t.Helper()
	var out []route
	for name, d := range devstack.Describe(t, devstack.Functions...) {
		for _, pattern := range d.Routes {
			method, path, ok := strings.Cut(pattern, " ")
			if !ok {
				t.Errorf("%s: route %q has no method; give every route one (\"POST /path\")", name, pattern)
				continue
			}
			out = append(out, route{name, method, path})
		}
		for _, path := range d.Events {
			out = append(out, route{name, http.MethodPost, path})
		}
	}
	sortRoutes(out)
	return out
}

// TestOpenAPIRoutesAreTheCodes: the document has exactly the routes the
// functions register, each under the function that serves it.
func TestOpenAPIRoutesAreTheCodes(t *testing.T) {
	doc := loadOpenAPI(t)
	code := codeRoutes(t)
	require.NotEmpty(t, code)
	assert.Equal(t, routeStrings(code), routeStrings(docRoutes(t, doc)),
		"docs/api/openapi.yaml and the routes the functions serve differ")
}

func routeStrings(rs []route) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// TestOpenAPIDocument checks what the document promises beyond being valid:
// every object a function answers with or accepts declares all its
// properties (so an undeclared field in a real response fails validation),
// every error answer is a problem document, and every operation is named.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	problem := doc.Components.Schemas["Problem"]
	require.NotNil(t, problem, "components.schemas.Problem")
	require.NotNil(t, problem.Value.Properties["errors"], "Problem has errors[]")

	ids := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			require.NotEmpty(t, op.OperationID, "%s has no operationId", name)
			assert.False(t, ids[op.OperationID], "operationId %s used twice", op.OperationID)
			ids[op.OperationID] = true
			internal, _ := op.Extensions["x-internal"].(bool)
			assert.Equal(t, strings.HasPrefix(path, "/events/") || path == "/reconcile", internal,
				"%s: x-internal must be true exactly for the routes only other functions and Knative call", name)

			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					if ct == "application/cloudevents+json" || mt.Schema == nil {
						continue // events carry extension attributes of any name
					}
					checkClosed(t, name+" request "+ct, mt.Schema, map[*openapi3.Schema]bool{})
				}
			}
			for code, resp := range op.Responses.Map() {
				where := fmt.Sprintf("%s %s", name, code)
				for ct, mt := range resp.Value.Content {
					require.NotNil(t, mt.Schema, "%s %s has no schema", where, ct)
					checkClosed(t, where+" "+ct, mt.Schema, map[*openapi3.Schema]bool{})
				}
				if code[0] == '4' || code[0] == '5' {
					mt := resp.Value.Content.Get("application/problem+json")
					if assert.NotNil(t, mt, "%s: an error answer is application/problem+json", where) {
						assert.True(t, refersTo(mt.Schema, problem.Value), "%s: the error body is not a Problem", where)
					}
				}
			}
			// The runtime asks for APP_API_TOKEN on every route but /events/*.
			open := op.Security != nil && len(*op.Security) == 0
			assert.Equal(t, strings.HasPrefix(path, "/events/"), open, "%s: security", name)
			_, has401 := op.Responses.Map()["401"]
			assert.Equal(t, !open, has401, "%s: 401 is documented exactly where APP_API_TOKEN applies", name)
		}
	}
	for name, hook := range doc.Webhooks {
		for method, op := range hook.Operations() {
			for ct, mt := range op.RequestBody.Value.Content {
				checkClosed(t, "webhook "+name+" "+method+" "+ct, mt.Schema, map[*openapi3.Schema]bool{})
			}
		}
	}
}

// checkClosed reports every object schema under ref that allows properties
// it does not declare.
func checkClosed(t *testing.T, where string, ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	t.Helper()
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	if s.Type.Includes(openapi3.TypeObject) {
		ap := s.AdditionalProperties
		if ap.Has == nil || *ap.Has || ap.Schema != nil {
			t.Errorf("%s: object schema %q must say additionalProperties: false", where, ref.Ref+s.Title)
		}
	}
	for _, sub := range s.Properties {
		checkClosed(t, where, sub, seen)
	}
	for _, list := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf, s.PrefixItems} {
		for _, sub := range list {
			checkClosed(t, where, sub, seen)
		}
	}
	// Not and If only test a value; they declare nothing.
	for _, sub := range []*openapi3.SchemaRef{s.Items, s.Then, s.Else} {
		checkClosed(t, where, sub, seen)
	}
}

// refersTo reports whether ref is target or combines it with allOf.
func refersTo(ref *openapi3.SchemaRef, target *openapi3.Schema) bool {
	if ref == nil || ref.Value == nil {
		return false
	}
	if ref.Value == target {
		return true
	}
	for _, sub := range ref.Value.AllOf {
		if sub.Value == target {
			return true
		}
	}
	return false
}

// TestOpenAPIIDsAreTheCodes: the document's id schema (the one path
// parameters use) accepts exactly the ids the functions accept, as does
// the event schemas' id.
func TestOpenAPIIDsAreTheCodes(t *testing.T) {
	doc := loadOpenAPI(t)
	id := doc.Components.Schemas["ID"]
	require.NotNil(t, id, "components.schemas.ID")
	eventID := doc.Components.Schemas["Task"].Value.Defs["id"]
	require.NotNil(t, eventID, "task.v1.json $defs/id")
	for _, s := range []string{
		"u1", "a", "A-b_c@d:e.f", "a.", "a.b.c", "0195a1b2-3c4d-7e5f-8a9b-0c1d2e3f4a5b", strings.Repeat("a", 128),
		"", ".", ".a", "a..b", "..", "a b", "a/b", "a%2Fb", "ü", "a\nb", strings.Repeat("a", 129),
	} {
		want := request.ValidID(s) == nil
		assert.Equal(t, want, id.Value.VisitJSON(s, openapi3.EnableJSONSchema2020()) == nil, "ID schema on %q", s)
		assert.Equal(t, want, eventID.Value.VisitJSON(s, openapi3.EnableJSONSchema2020()) == nil, "event schema id on %q", s)
	}
}

// jsonFields returns the JSON names of a struct's fields and whether each
// is omitted when empty.
func jsonFields(typ reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out[name] = strings.Contains(opts, "omitempty")
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func schemaProps(s *openapi3.Schema) []string {
	out := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPISchemasAreTheTypes: each body schema has exactly the fields of
// the Go type the functions decode or encode, so a field added in code
// fails here until the document has it. For answers, a field is required
// exactly when the code always writes it.
func TestOpenAPISchemasAreTheTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	schema := func(name string) *openapi3.Schema {
		s := doc.Components.Schemas[name]
		require.NotNil(t, s, "components.schemas.%s", name)
		return s.Value
	}
	requests := map[string]reflect.Type{
		"TaskCreate":       reflect.TypeFor[task.CreateInput](),
		"TaskPatch":        reflect.TypeFor[task.CreateInput](), // a patch sets what a create does
		"MessageInput":     reflect.TypeFor[notify.MessageInput](),
		"ReconcileRequest": reflect.TypeFor[reminder.Reconcile](),
	}
	for name, typ := range requests {
		assert.Equal(t, keys(jsonFields(typ)), schemaProps(schema(name)), "%s and %s", name, typ)
	}
	rec := schema("TaskCreate").Properties["recurrence"].Value
	assert.Equal(t, keys(jsonFields(reflect.TypeFor[task.RecurrenceInput]())), schemaProps(rec), "TaskCreate.recurrence")

	answers := map[string]reflect.Type{
		"Task":            reflect.TypeFor[task.Task](),
		"Notification":    reflect.TypeFor[notify.Notification](),
		"ReconcileResult": reflect.TypeFor[reminder.ReconcileResult](),
		"Problem":         reflect.TypeFor[problem.Problem](),
		"FieldError":      reflect.TypeFor[problem.FieldError](),
	}
	for name, typ := range answers {
		fields := jsonFields(typ)
		s := schema(name)
		assert.Equal(t, keys(fields), schemaProps(s), "%s and %s", name, typ)
		var always []string
		for f, omitted := range fields {
			if !omitted {
				always = append(always, f)
			}
		}
		sort.Strings(always)
		required := slices.Sorted(slices.Values(s.Required))
		assert.Equal(t, always, required, "%s: required must be the fields %s always writes", name, typ)
	}
}
