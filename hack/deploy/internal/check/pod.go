package check

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	injectorconsts "github.com/dapr/dapr/pkg/injector/consts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	servingnetworking "knative.dev/serving/pkg/networking"
	revresources "knative.dev/serving/pkg/reconciler/revision/resources"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
	"github.com/todo-chatbot/functions/hack/deploy/internal/pod"
)

// The containers of a function's pod.
const (
	FunctionContainer = "function"
	QueueProxy        = revresources.QueueContainerName
	Daprd             = injectorconsts.SidecarContainerName
)

// Listener is a port a container listens on, and what says so.
type Listener struct {
	Port      int32
	Container string
	Why       string
}

// Listeners lists the ports each container of the pod listens on: the
// ports it declares, and those its configuration opens without declaring
// them (queue-proxy's admin port; daprd's --*-port flags, such as its
// public health port; the function's *_PORT variables, such as PORT).
func Listeners(p *corev1.Pod) []Listener {
	var out []Listener
	for _, c := range p.Spec.Containers {
		add := func(port int32, why string) {
			if port > 0 {
				out = append(out, Listener{Port: port, Container: c.Name, Why: why})
			}
		}
		for _, cp := range c.Ports {
			add(cp.ContainerPort, "containerPort "+cp.Name)
		}
		switch c.Name {
		case QueueProxy:
			// queue-proxy serves its admin API (drain, used by the
			// function's preStop hook) on a fixed, undeclared port.
			add(servingnetworking.QueueAdminPort, "admin port")
			for _, e := range []string{"QUEUE_SERVING_PORT", "QUEUE_SERVING_TLS_PORT"} {
				add(envPort(&c, e), e)
			}
		case Daprd:
			args := append(append([]string(nil), c.Command...), c.Args...)
			for _, a := range args {
				name, ok := strings.CutPrefix(a, "--")
				if !ok || !strings.HasSuffix(name, "-port") || name == "app-port" { // --app-port is where daprd calls the function
					continue
				}
				if v, _ := pod.Flag(&c, name); v != "" {
					n, _ := strconv.Atoi(v)
					add(int32(n), "--"+name)
				}
			}
		default:
			for _, e := range c.Env {
				// DAPR_HTTP_PORT and DAPR_GRPC_PORT say where daprd listens.
				if !strings.HasSuffix(e.Name, "_PORT") || e.Name == injectorconsts.UserContainerDaprHTTPPortName ||
					e.Name == injectorconsts.UserContainerDaprGRPCPortName {
					continue
				}
				add(envPort(&c, e.Name), "env "+e.Name)
			}
		}
	}
	return out
}

func envPort(c *corev1.Container, name string) int32 {
	v, _ := envValue(c, name)
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0
	}
	return int32(n)
}

func envValue(c *corev1.Container, name string) (string, *corev1.EnvVarSource) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, e.ValueFrom
		}
	}
	return "", nil
}

// ComposedPod checks the pod a function runs as: no two containers on one
// port, every probe aimed at its own container, daprd wired to the
// function (app-id, app port, configuration, tokens, metrics, GOMAXPROCS),
// resources as configured, and the function's environment what it reads.
func ComposedPod(c *pod.Composed, reads []string) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("pod of %s: "+format, append([]any{c.Service.Name}, args...)...))
	}
	fnc, qp, dd := c.Container(FunctionContainer), c.Container(QueueProxy), c.Container(Daprd)
	if fnc == nil || qp == nil || dd == nil {
		var names []string
		for _, x := range c.Pod.Spec.Containers {
			names = append(names, x.Name)
		}
		fail("containers %v, want %s, %s and %s", names, FunctionContainer, QueueProxy, Daprd)
		return errs
	}

	// One listener per port.
	ls := Listeners(c.Pod)
	byPort := map[int32][]Listener{}
	for _, l := range ls {
		byPort[l.Port] = append(byPort[l.Port], l)
	}
	ports := make([]int, 0, len(byPort))
	for p := range byPort {
		ports = append(ports, int(p))
	}
	sort.Ints(ports)
	for _, p := range ports {
		owners := byPort[int32(p)]
		for _, o := range owners[1:] {
			if o.Container != owners[0].Container {
				fail("port %d: %s (%s) and %s (%s) both listen on it", p,
					owners[0].Container, owners[0].Why, o.Container, o.Why)
			}
		}
	}

	// Probes reach the container they belong to.
	owner := func(port int32) string {
		if o := byPort[port]; len(o) > 0 {
			return o[0].Container
		}
		return ""
	}
	for _, x := range c.Pod.Spec.Containers {
		for kind, pr := range map[string]*corev1.Probe{"liveness": x.LivenessProbe, "readiness": x.ReadinessProbe, "startup": x.StartupProbe} {
			port, ok := probePort(&x, pr)
			if !ok {
				continue
			}
			if o := owner(port); o != x.Name {
				fail("%s's %s probe is on port %d, where %s", x.Name, kind, port, listenerText(o))
			}
		}
	}
	userPort := int32(envPort(fnc, "PORT"))
	if userPort == 0 {
		fail("%s has no PORT", FunctionContainer)
	}
	// queue-proxy runs the function's readiness probe itself.
	if v, _ := envValue(qp, "SERVING_READINESS_PROBE"); v == "" {
		fail("queue-proxy has no readiness probe for %s", FunctionContainer)
	} else {
		probes, err := decodeProbes(v)
		if err != nil {
			fail("queue-proxy's SERVING_READINESS_PROBE: %v", err)
		}
		for _, pr := range probes {
			if port, ok := probePort(fnc, pr); ok && owner(port) != FunctionContainer {
				fail("queue-proxy probes %s's readiness on port %d, where %s", FunctionContainer, port, listenerText(owner(port)))
			}
		}
	}
	if fnc.LivenessProbe == nil {
		fail("%s has no liveness probe", FunctionContainer)
	}
	if dd.ReadinessProbe == nil || dd.LivenessProbe == nil {
		fail("daprd has no readiness or liveness probe")
	}

	// daprd serves this function.
	an := c.Service.Spec.Template.Annotations
	flag := func(name, want string) {
		if v, ok := pod.Flag(dd, name); !ok || v != want {
			fail("daprd --%s %q, want %q", name, v, want)
		}
	}
	flag("app-id", c.Service.Name)
	flag("app-port", strconv.Itoa(int(userPort)))
	flag("config", an["dapr.io/config"])
	flag("mode", "kubernetes")
	if _, ok := pod.Flag(dd, "enable-metrics"); !ok {
		fail("daprd runs without --enable-metrics")
	}
	flag("metrics-port", an["dapr.io/metrics-port"])
	for _, tok := range []struct{ env, annotation string }{
		{"DAPR_API_TOKEN", "dapr.io/api-token-secret"},
		{"APP_API_TOKEN", "dapr.io/app-token-secret"},
	} {
		secret := an[tok.annotation]
		_, d := envValue(dd, tok.env)
		_, f := envValue(fnc, tok.env)
		switch {
		case secret == "" && (d != nil || f != nil):
			fail("%s is set but %s is not", tok.env, tok.annotation)
		case secret == "":
		case !fromSecret(d, secret):
			fail("daprd's %s does not come from secret %s", tok.env, secret)
		case !fromSecret(f, secret) || d.SecretKeyRef.Key != f.SecretKeyRef.Key:
			fail("%s's %s is not daprd's (secret %s, key %s)", FunctionContainer, tok.env, secret, d.SecretKeyRef.Key)
		}
	}

	// The function finds daprd where it listens, and reads what it is given.
	for env, flagName := range map[string]string{
		injectorconsts.UserContainerDaprHTTPPortName: "dapr-http-port",
		injectorconsts.UserContainerDaprGRPCPortName: "dapr-grpc-port",
	} {
		v, _ := envValue(fnc, env)
		if want, _ := pod.Flag(dd, flagName); v != want {
			fail("%s's %s=%q, but daprd listens on --%s %s", FunctionContainer, env, v, flagName, want)
		}
	}
	// The chart's goMaxProcs reaches daprd through Dapr's injector
	// (dapr.io/env), the function through its env: one without the other
	// runs a process with a parallelism its CPU limit does not pay for.
	if f, d := envOr(fnc, "GOMAXPROCS"), envOr(dd, "GOMAXPROCS"); f != d {
		fail("%s runs with GOMAXPROCS %q, daprd with %q", FunctionContainer, f, d)
	}
	if !slices.Contains(reads, "PORT") {
		fail("the functions do not read PORT, where Knative sends requests")
	}
	for _, e := range c.Service.Spec.Template.Spec.Containers[0].Env {
		if !slices.Contains(reads, e.Name) {
			fail("%s is given %s, which no function reads", FunctionContainer, e.Name)
		}
	}

	// Resources: the function and daprd request and are limited in CPU and
	// memory, as the Service and its annotations say (Dapr's injector
	// drops a quantity it cannot parse without failing). queue-proxy's
	// come from Knative's config-deployment, which is the cluster's.
	for _, x := range []*corev1.Container{fnc, dd} {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := x.Resources.Requests[r]; !ok {
				fail("%s requests no %s", x.Name, r)
			}
			if _, ok := x.Resources.Limits[r]; !ok {
				fail("%s has no %s limit", x.Name, r)
			}
		}
	}
	if want := c.Service.Spec.Template.Spec.Containers[0].Resources; !equalResources(fnc.Resources, want) {
		fail("%s's resources %v, want %v", FunctionContainer, fnc.Resources, want)
	}
	for _, r := range []struct {
		annotation string
		list       corev1.ResourceList
		name       corev1.ResourceName
	}{
		{"dapr.io/sidecar-cpu-request", dd.Resources.Requests, corev1.ResourceCPU},
		{"dapr.io/sidecar-memory-request", dd.Resources.Requests, corev1.ResourceMemory},
		{"dapr.io/sidecar-cpu-limit", dd.Resources.Limits, corev1.ResourceCPU},
		{"dapr.io/sidecar-memory-limit", dd.Resources.Limits, corev1.ResourceMemory},
	} {
		want, err := resource.ParseQuantity(an[r.annotation])
		if have, ok := r.list[r.name]; err != nil || !ok || have.Cmp(want) != 0 {
			fail("daprd's %s %s, want %s = %q", r.name, have.String(), r.annotation, an[r.annotation])
		}
	}
	return errs
}

func listenerText(container string) string {
	if container == "" {
		return "nothing listens"
	}
	return container + " listens"
}

func fromSecret(s *corev1.EnvVarSource, name string) bool {
	return s != nil && s.SecretKeyRef != nil && s.SecretKeyRef.Name == name && s.SecretKeyRef.Key != ""
}

// probePort is the port a probe of container c connects to.
func probePort(c *corev1.Container, p *corev1.Probe) (int32, bool) {
	if p == nil {
		return 0, false
	}
	var port intstr.IntOrString
	switch {
	case p.HTTPGet != nil:
		port = p.HTTPGet.Port
	case p.TCPSocket != nil:
		port = p.TCPSocket.Port
	case p.GRPC != nil:
		return p.GRPC.Port, true
	default:
		return 0, false
	}
	if port.Type == intstr.String {
		for _, cp := range c.Ports {
			if cp.Name == port.StrVal {
				return cp.ContainerPort, true
			}
		}
		return 0, true
	}
	return port.IntVal, true
}

// decodeProbes reads queue-proxy's SERVING_READINESS_PROBE: one probe, or
// a list of them when multi-container probing is on.
func decodeProbes(v string) ([]*corev1.Probe, error) {
	var many []*corev1.Probe
	if err := json.Unmarshal([]byte(v), &many); err == nil {
		return many, nil
	}
	var one corev1.Probe
	if err := json.Unmarshal([]byte(v), &one); err != nil {
		return nil, err
	}
	return []*corev1.Probe{&one}, nil
}

func equalResources(a, b corev1.ResourceRequirements) bool {
	same := func(x, y corev1.ResourceList) bool {
		if len(x) != len(y) {
			return false
		}
		for k, q := range x {
			if r, ok := y[k]; !ok || q.Cmp(r) != 0 {
				return false
			}
		}
		return true
	}
	return same(a.Requests, b.Requests) && same(a.Limits, b.Limits)
}

// PodDocument is where the composed pod of PodDocumentFunction is written
// for readers (by `make deploy-manifests`).
const (
	PodDocument         = "docs/deploy/pod-create-task.yaml"
	PodDocumentFunction = "create-task"
)

// ComposedDocument renders the composed pod of PodDocumentFunction's
// Knative Service among docs.
func ComposedDocument(docs []manifest.Doc) ([]byte, error) {
	for _, d := range docs {
		if d.APIVersion != "serving.knative.dev/v1" || d.Kind != "Service" || d.Name != PodDocumentFunction {
			continue
		}
		svc, err := KnativeService(d)
		if err != nil {
			return nil, err
		}
		p, err := pod.Defaults()
		if err != nil {
			return nil, err
		}
		c, err := p.Compose(svc)
		if err != nil {
			return nil, err
		}
		return c.Document(fmt.Sprintf("as Knative Serving %s (its released config maps) and Dapr %s's\n# sidecar injector (its Helm chart's defaults) make it",
			p.Knative.Version, strings.TrimPrefix(p.Dapr.Version, "v")))
	}
	return nil, fmt.Errorf("no Knative Service %s", PodDocumentFunction)
}

// envOr is the container's value of name, or "Go's default" without one.
func envOr(c *corev1.Container, name string) string {
	if v, _ := envValue(c, name); v != "" {
		return v
	}
	return "Go's default"
}
