package check

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/todo-chatbot/functions/hack/deploy/internal/pod"
	"github.com/todo-chatbot/functions/hack/deploy/internal/render"
	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

// composed is create-task's pod from the chart's default render.
func composed(t *testing.T) (*pod.Composed, []string) {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	docs, err := render.Chart(filepath.Join(root, render.ChartDir), render.Options{Set: []string{"only=create-task"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pod.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	reads, err := EnvReads(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if d.Kind == "Service" && d.APIVersion == "serving.knative.dev/v1" {
			svc, err := KnativeService(d)
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Compose(svc)
			if err != nil {
				t.Fatal(err)
			}
			return c, reads
		}
	}
	t.Fatal("no Knative Service rendered")
	return nil, nil
}

func TestComposedPod(t *testing.T) {
	c, reads := composed(t)
	for _, err := range ComposedPod(c, reads) {
		t.Error(err)
	}
	// What the checks rely on is there: three containers, and the ports
	// each owner documents.
	want := map[int32]string{8080: FunctionContainer, 8012: QueueProxy, 8022: QueueProxy, 9090: QueueProxy,
		3500: Daprd, 3501: Daprd, 50001: Daprd, 9095: Daprd}
	have := map[int32]string{}
	for _, l := range Listeners(c.Pod) {
		have[l.Port] = l.Container
	}
	for port, ctr := range want {
		if have[port] != ctr {
			t.Errorf("port %d: %q listens, want %s", port, have[port], ctr)
		}
	}
}

// Each mistake, made in an otherwise valid composed pod, is caught.
func TestComposedPodMistakes(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *pod.Composed)
		want   string
	}{
		{"function listens on queue-proxy's metrics port", func(c *pod.Composed) {
			fnc := c.Container(FunctionContainer)
			i := slices.IndexFunc(fnc.Env, func(e corev1.EnvVar) bool { return e.Name == "METRICS_PORT" })
			if i < 0 {
				fnc.Env, i = append(fnc.Env, corev1.EnvVar{Name: "METRICS_PORT"}), len(fnc.Env)
			}
			fnc.Env[i].Value = "9091"
		}, "port 9091: function (env METRICS_PORT) and queue-proxy (containerPort http-usermetric)"},
		{"function's liveness probe on daprd", func(c *pod.Composed) {
			c.Container(FunctionContainer).LivenessProbe.HTTPGet.Port = intstr.FromInt32(3501)
		}, "function's liveness probe is on port 3501, where daprd listens"},
		{"daprd's readiness probe on the function", func(c *pod.Composed) {
			c.Container(Daprd).ReadinessProbe.HTTPGet.Port = intstr.FromInt32(8080)
		}, "daprd's readiness probe is on port 8080, where function listens"},
		{"probe on a port nobody listens on", func(c *pod.Composed) {
			c.Container(Daprd).LivenessProbe.TCPSocket.Port = intstr.FromInt32(3999)
		}, "where nothing listens"},
		{"queue-proxy probes daprd for the function", func(c *pod.Composed) {
			qp := c.Container(QueueProxy)
			for i, e := range qp.Env {
				if e.Name == "SERVING_READINESS_PROBE" {
					qp.Env[i].Value = strings.Replace(e.Value, `"port":8080`, `"port":3500`, 1)
				}
			}
		}, "queue-proxy probes function's readiness on port 3500"},
		{"daprd calls another port", func(c *pod.Composed) {
			setFlag(c.Container(Daprd), "app-port", "8081")
		}, "--app-port"},
		{"daprd without the app-id", func(c *pod.Composed) { setFlag(c.Container(Daprd), "app-id", "todo") }, "--app-id"},
		{"API token from another secret", func(c *pod.Composed) {
			for i, e := range c.Container(FunctionContainer).Env {
				if e.Name == "DAPR_API_TOKEN" {
					c.Container(FunctionContainer).Env[i].ValueFrom.SecretKeyRef.Name = "other"
				}
			}
		}, "DAPR_API_TOKEN is not daprd's"},
		{"function looks for daprd elsewhere", func(c *pod.Composed) {
			for i, e := range c.Container(FunctionContainer).Env {
				if e.Name == "DAPR_GRPC_PORT" {
					c.Container(FunctionContainer).Env[i].Value = "50011"
				}
			}
		}, "DAPR_GRPC_PORT"},
		{"daprd's memory limit lost", func(c *pod.Composed) {
			delete(c.Container(Daprd).Resources.Limits, corev1.ResourceMemory)
		}, "dapr.io/sidecar-memory-limit"},
		{"daprd without the function's GOMAXPROCS", func(c *pod.Composed) {
			dd := c.Container(Daprd)
			dd.Env = slices.DeleteFunc(dd.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMAXPROCS" })
		}, `function runs with GOMAXPROCS "1", daprd with "Go's default"`},
		{"unread variable", func(c *pod.Composed) {
			ct := &c.Service.Spec.Template.Spec.Containers[0]
			ct.Env = append(ct.Env, corev1.EnvVar{Name: "LOG_LEVL", Value: "debug"})
		}, "LOG_LEVL, which no function reads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, reads := composed(t)
			tt.mutate(c)
			errs := ComposedPod(c, reads)
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			if !strings.Contains(Join(errs).Error(), tt.want) {
				t.Errorf("errors do not mention %q:\n%v", tt.want, Join(errs))
			}
		})
	}
}

func setFlag(c *corev1.Container, name, value string) {
	for i, a := range c.Args {
		if a == "--"+name && i+1 < len(c.Args) {
			c.Args[i+1] = value
		}
	}
}
