package deploy_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"

	"github.com/todo-chatbot/functions/hack/deploy/internal/check"
	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
	"github.com/todo-chatbot/functions/hack/deploy/internal/render"
	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func report(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		t.Error(err)
	}
}

func renderChart(t *testing.T, set ...string) []manifest.Doc {
	t.Helper()
	docs, err := render.Chart(filepath.Join(root(t), render.ChartDir), render.Options{Set: set})
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// committed parses the plain manifests in the repository.
func committed(t *testing.T) []manifest.Doc {
	t.Helper()
	var docs []manifest.Doc
	for _, d := range render.GeneratedDirs {
		dd, err := manifest.ParseTree(filepath.Join(root(t), d))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, dd...)
	}
	return docs
}

func TestCommittedManifests(t *testing.T) {
	docs := committed(t)
	if len(docs) == 0 {
		t.Fatal("no manifests: run make deploy-manifests")
	}
	report(t, check.All(docs, check.Everything()))
}

// The committed manifests are the chart's default render, byte for byte.
func TestCommittedManifestsAreTheChartsRender(t *testing.T) {
	r := root(t)
	files, err := render.Layout(renderChart(t))
	if err != nil {
		t.Fatal(err)
	}
	existing, err := render.Existing(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range existing {
		if _, ok := files[f]; !ok {
			t.Errorf("%s is not rendered by the chart: run make deploy-manifests", f)
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		have, err := os.ReadFile(filepath.Join(r, p))
		if err != nil || !bytes.Equal(have, files[p]) {
			t.Errorf("%s differs from the chart's render: run make deploy-manifests", p)
		}
	}
}

// docs/deploy shows the pod the chart's default render makes, as it is.
func TestComposedPodDocumentIsCurrent(t *testing.T) {
	want, err := check.ComposedDocument(renderChart(t))
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile(filepath.Join(root(t), check.PodDocument))
	if err != nil || !bytes.Equal(have, want) {
		t.Errorf("%s differs from the composed pod: run make deploy-manifests", check.PodDocument)
	}
}

func TestChartDefault(t *testing.T) {
	report(t, check.All(renderChart(t), check.Everything()))
}

func TestChartOneFunctionOverridden(t *testing.T) {
	docs := renderChart(t, "only=fire-reminder", "functions.fire-reminder.minScale=2")
	report(t, check.All(docs, check.Options{
		Functions: []string{"fire-reminder"},
		MinScale:  map[string]int{"fire-reminder": 2},
	}))
	for _, d := range docs {
		if fn := d.Labels["todo-chatbot.dev/function"]; fn != "fire-reminder" {
			t.Errorf("%s rendered for only=fire-reminder", d.Ref())
		}
	}
	if !slices.ContainsFunc(docs, func(d manifest.Doc) bool {
		return d.Kind == "Service" && strings.Contains(string(d.Raw), `autoscaling.knative.dev/min-scale: "2"`)
	}) {
		t.Error("min-scale override not rendered")
	}
}

// Bulk subscribe turned on for one function reaches both its Subscription
// and its container, and the checks hold them to each other.
func TestChartBulkSubscribe(t *testing.T) {
	docs := renderChart(t, "functions.send-notification.bulkMaxMessages=20", "functions.send-notification.bulkMaxAwaitMs=100")
	report(t, check.All(docs, check.Everything()))
	var sub, env int
	for _, d := range docs {
		bulk := strings.Contains(string(d.Raw), "maxMessagesCount: 20\n    maxAwaitDurationMs: 100")
		vars := strings.Contains(string(d.Raw), "- name: SUBSCRIBE_BULK_MAX_MESSAGES\n              value: \"20\"\n            - name: SUBSCRIBE_BULK_MAX_AWAIT\n              value: \"100ms\"")
		mine := d.Labels["todo-chatbot.dev/function"] == "send-notification"
		switch {
		case d.Kind == "Subscription" && bulk && mine:
			sub++
		case d.Kind == "Service" && vars && mine:
			env++
		case bulk || vars || strings.Contains(string(d.Raw), "bulkSubscribe") || strings.Contains(string(d.Raw), "SUBSCRIBE_BULK"):
			t.Errorf("%s: bulk subscribe rendered where it was not asked for", d.Ref())
		}
	}
	if sub != 1 || env != 1 {
		t.Errorf("send-notification: %d Subscriptions and %d Services with bulk subscribe, want 1 and 1", sub, env)
	}
}

func TestChartPlatformOnly(t *testing.T) {
	docs := renderChart(t, "only=platform")
	report(t, check.All(docs, check.Options{Platform: true}))
	for _, d := range docs {
		if d.Kind != "Component" && d.Kind != "Resiliency" {
			t.Errorf("%s rendered for only=platform", d.Ref())
		}
	}
}

func TestChartPrebuiltImages(t *testing.T) {
	docs := renderChart(t, "image.registry=ghcr.io/acme/todo", "image.tag=v1.2.3")
	o := check.Everything()
	o.ImageRegistry = "ghcr.io/acme/todo"
	report(t, check.All(docs, o))
}

func TestChartDisabledFunction(t *testing.T) {
	docs := renderChart(t, "functions.list-tasks.enabled=false", "functions.create-task.resources.limits.memory=256Mi")
	for _, d := range docs {
		if d.Labels["todo-chatbot.dev/function"] == "list-tasks" {
			t.Errorf("%s rendered for a disabled function", d.Ref())
		}
		if d.Kind == "Component" && d.Name == "tasks" && strings.Contains(string(d.Raw), "list-tasks") {
			t.Error("component tasks still scoped to disabled list-tasks")
		}
		if d.Kind == "Service" && d.Name == "create-task" && !strings.Contains(string(d.Raw), "memory: 256Mi") {
			t.Error("per-function resources override not rendered")
		}
	}
}

func TestChartRejectsBadValues(t *testing.T) {
	for _, set := range [][]string{
		{"only=no-such-function"},
		{"functions.list-tasks.enabled=false", "only=list-tasks"},
		{"functions.list-tasks.components={tasks,cache}"},
		{"functions.list-tasks.minScale=many"},
	} {
		if _, err := render.Chart(filepath.Join(root(t), render.ChartDir), render.Options{Set: set}); err == nil {
			t.Errorf("--set %v rendered without error", set)
		}
	}
}

// Every YAML file of the deployment: no credential is written in it.
func TestNoLiteralSecrets(t *testing.T) {
	r := root(t)
	var files []string
	for _, d := range []string{"knative", "bindings"} {
		f, err := manifest.YAMLFiles(filepath.Join(r, d))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		for _, x := range f {
			// Templates are not YAML until rendered; their render is scanned below.
			if !strings.Contains(filepath.ToSlash(x), "knative/chart/") {
				files = append(files, x)
			}
		}
	}
	var docs []manifest.Doc
	for _, f := range files {
		d, err := manifest.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d...)
	}
	docs = append(docs, renderChart(t)...)
	for _, d := range docs {
		report(t, check.LiteralSecrets(d))
	}
}

// bindings/local (make run) and bindings/kubernetes define the same
// components, so function code never differs between the two.
func TestLocalAndKubernetesComponentNames(t *testing.T) {
	names := func(dir string) []string {
		docs, err := manifest.ParseTree(filepath.Join(root(t), dir))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range docs {
			if d.Kind == "Component" {
				out = append(out, d.Name)
			}
		}
		sort.Strings(out)
		return out
	}
	local, k8s := names("bindings/local"), names("bindings/kubernetes")
	if len(local) == 0 {
		t.Fatal("bindings/local defines no components")
	}
	if !slices.Equal(local, k8s) {
		t.Errorf("components differ: bindings/local %v, bindings/kubernetes %v", local, k8s)
	}
}

func TestWorkflowActionlint(t *testing.T) {
	r := root(t)
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.LintFiles([]string{filepath.Join(r, ".github", "workflows", "deploy.yaml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Error(e.Error())
	}
	if t.Failed() {
		t.Log(out.String())
	}
}

// The workflow tests before it deploys, and deploys per changed function.
func TestWorkflowShape(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root(t), ".github", "workflows", "deploy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wf, errs := actionlint.Parse(data)
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	job := func(id string) *actionlint.Job {
		for k, j := range wf.Jobs {
			if k == id {
				return j
			}
		}
		t.Fatalf("no job %s", id)
		return nil
	}
	needs := func(j *actionlint.Job) []string {
		var out []string
		for _, n := range j.Needs {
			out = append(out, n.Value)
		}
		return out
	}
	runs := func(j *actionlint.Job) string {
		var b strings.Builder
		for _, s := range j.Steps {
			if e, ok := s.Exec.(*actionlint.ExecRun); ok && e.Run != nil {
				b.WriteString(e.Run.Value + "\n")
			}
		}
		return b.String()
	}
	if !strings.Contains(runs(job("test")), "make test") {
		t.Error("job test does not run make test")
	}
	if !slices.Contains(needs(job("changes")), "test") {
		t.Error("job changes must need test")
	}
	if !strings.Contains(runs(job("changes")), "./cmd/changed") {
		t.Error("job changes does not run cmd/changed")
	}
	fn := job("function")
	if !slices.Contains(needs(fn), "changes") || fn.Strategy == nil || fn.Strategy.Matrix == nil {
		t.Error("job function must need changes and run a matrix")
	}
	if !strings.Contains(runs(fn), "make deploy FUNC=") {
		t.Error("job function does not deploy one function")
	}
}

func TestDeployMakefile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root(t), "hack", "deploy.mk"))
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"deploy:", "test-deploy:", "deploy-manifests:", "deploy-render:"} {
		if !bytes.Contains(data, []byte("\n"+target)) {
			t.Errorf("hack/deploy.mk has no %s target", strings.TrimSuffix(target, ":"))
		}
	}
}

func TestChartRejectsUnknownSettings(t *testing.T) {
	for _, set := range [][]string{
		{"functions.list-tasks.minscale=1"},
		{"defaults.minscale=1"},
		{"kafka.broker=x"},
		{"defaults.daprMetricsPort=9090"},
	} {
		if _, err := render.Chart(filepath.Join(root(t), render.ChartDir), render.Options{Set: set}); err == nil {
			t.Errorf("--set %v rendered without error", set)
		}
	}
}

// Each mistake, made in an otherwise valid render, is caught.
func TestChecksCatchMistakes(t *testing.T) {
	base := string(render.Stream(renderChart(t)))
	tests := []struct {
		name, old, new, want string
	}{
		{"Dapr metrics on queue-proxy's port", `dapr.io/metrics-port: "9095"`, `dapr.io/metrics-port: "9090"`, "metrics-port"},
		{"Dapr metrics on the function's port", `dapr.io/metrics-port: "9095"`, `dapr.io/metrics-port: "8080"`, "port 8080: function (containerPort user-port) and daprd (--metrics-port) both listen on it"},
		{"Dapr gRPC on queue-proxy's admin port", `dapr.io/metrics-port: "9095"`, "dapr.io/metrics-port: \"9095\"\n        dapr.io/grpc-port: \"8022\"", "port 8022: queue-proxy (admin port) and daprd (--dapr-grpc-port) both listen on it"},
		{"sidecar memory Dapr cannot parse", `dapr.io/sidecar-memory-limit: "384Mi"`, `dapr.io/sidecar-memory-limit: "384MB"`, "dapr.io/sidecar-memory-limit"},
		{"variable no function reads", "- name: LOG_LEVEL", "- name: LOGLEVEL", "LOGLEVEL, which no function reads"},
		{"misspelt Dapr annotation", `dapr.io/log-as-json: "true"`, `dapr.io/log-as-jsn: "true"`, "dapr.io/log-as-jsn"},
		{"internet-facing service", "networking.knative.dev/visibility: cluster-local", "networking.knative.dev/visibility: public", "cluster-local"},
		{"root container", "runAsNonRoot: true", "runAsNonRoot: false", "runAsNonRoot"},
		{"Knative port name", "- name: http1", "- name: web", "Knative rejects"},
		{"unknown Knative field", "containerConcurrency: 10", "containerConcurency: 10", "unknown field"},
		{"probe path", "path: /readyz", "path: /ready", "readiness probe"},
		{"cron descriptor Knative refuses", `schedule: "*/1 * * * *"`, `schedule: "@every 1m"`, "schedule"},
		{"KafkaSource shares a Dapr group", "consumerGroup: fire-reminder-knative", "consumerGroup: fire-reminder", "consumer group"},
		{"KafkaSource offset", "initialOffset: latest", "initialOffset: newest", "initialOffset"},
		{"unknown component metadata", "- name: initialOffset\n      value: newest", "- name: initialOfset\n      value: newest", "unknown metadata key"},
		{"metadata value not allowed", `value: "SHA-512"`, `value: "MD5"`, "SHA-512"},
		{"required metadata missing", "- name: redisHost", "- name: redisHosts", "redisHost"},
		{"literal credential", "- name: saslPassword\n      secretKeyRef:\n        name: kafka-credentials\n        key: password", "- name: saslPassword\n      value: hunter2", "literal value"},
		{"component scoped too wide", `scopes: ["send-notification"]`, `scopes: ["send-notification","create-task"]`, "scopes"},
		{"Dapr consumer group pinned", "- name: initialOffset\n      value: newest", "- name: consumerGroup\n      value: functions", "consumerGroup"},
		{"resiliency policy undefined", "retry: webhook", "retry: webhooks", "Resiliency"},
		{"access allowed by default", "defaultAction: deny\n    trustDomain", "defaultAction: allow\n    trustDomain", "defaultAction must be deny"},
		{"unknown subscription field", "deadLetterTopic: todo.tasks.events.dlq", "deadLetterTopik: todo.tasks.events.dlq", "unknown field"},
		{"dead letters elsewhere", "deadLetterTopic: todo.tasks.events.dlq", "deadLetterTopic: todo.tasks.events.dead", "dead letters"},
		{"bulk subscribe the function does not announce", "deadLetterTopic: todo.tasks.events.dlq",
			"deadLetterTopic: todo.tasks.events.dlq\n  bulkSubscribe: {enabled: true, maxMessagesCount: 20, maxAwaitDurationMs: 50}", "SUBSCRIBE_BULK_*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.old) {
				t.Fatalf("render has no %q", tt.old)
			}
			docs, err := manifest.Parse("mutated", []byte(strings.Replace(base, tt.old, tt.new, 1)))
			if err != nil {
				if strings.Contains(err.Error(), tt.want) {
					return
				}
				t.Fatal(err)
			}
			errs := check.All(docs, check.Everything())
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			if !strings.Contains(check.Join(errs).Error(), tt.want) {
				t.Errorf("errors do not mention %q:\n%v", tt.want, check.Join(errs))
			}
		})
	}
}
