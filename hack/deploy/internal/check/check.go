// Package check validates the deployment manifests with the API types and
// admission logic of Knative, Dapr and Kubernetes, and against the system's
// design (which function uses what, who may call whom).
package check

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	componentsv1alpha1 "github.com/dapr/dapr/pkg/apis/components/v1alpha1"
	configurationv1alpha1 "github.com/dapr/dapr/pkg/apis/configuration/v1alpha1"
	httpendpointv1alpha1 "github.com/dapr/dapr/pkg/apis/httpEndpoint/v1alpha1"
	resiliencyv1alpha1 "github.com/dapr/dapr/pkg/apis/resiliency/v1alpha1"
	subscriptionsv2alpha1 "github.com/dapr/dapr/pkg/apis/subscriptions/v2alpha1"
	"github.com/dapr/dapr/pkg/injector/patcher"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
	"github.com/todo-chatbot/functions/hack/deploy/internal/pod"
	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

// ImportPath is where the functions' main packages live.
const ImportPath = "github.com/todo-chatbot/functions/functions"

// Options say what a set of documents is expected to hold.
type Options struct {
	// Functions whose resources must all be present (nil: none).
	Functions []string
	// Platform: the shared Dapr resources (components, resiliency) must
	// be present.
	Platform bool
	// MinScale overrides the design's min-scale per function.
	MinScale map[string]int
	// ImageRegistry: images are <registry>/<function>:<tag> instead of
	// ko:// references.
	ImageRegistry string
}

// Everything expects a complete deployment with the design's defaults.
func Everything() Options {
	o := Options{Platform: true}
	for _, f := range System() {
		o.Functions = append(o.Functions, f.Name)
	}
	return o
}

// set is everything decoded.
type set struct {
	services    map[string]*servingv1.Service
	accounts    map[string]bool
	pings       map[string]*sourcesv1.PingSource
	kafka       map[string]*KafkaSource
	components  map[string]*componentsv1alpha1.Component
	subs        map[string]*subscriptionsv2alpha1.Subscription
	configs     map[string]*configurationv1alpha1.Configuration
	endpoints   map[string]*httpendpointv1alpha1.HTTPEndpoint
	resiliences []*resiliencyv1alpha1.Resiliency
}

// All checks the documents one by one, then how they fit together.
func All(docs []manifest.Doc, opts Options) []error {
	s := &set{
		services: map[string]*servingv1.Service{}, accounts: map[string]bool{},
		pings: map[string]*sourcesv1.PingSource{}, kafka: map[string]*KafkaSource{},
		components: map[string]*componentsv1alpha1.Component{},
		subs:       map[string]*subscriptionsv2alpha1.Subscription{},
		configs:    map[string]*configurationv1alpha1.Configuration{},
		endpoints:  map[string]*httpendpointv1alpha1.HTTPEndpoint{},
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	contrib, err := ContribModule()
	add(err)
	seen := map[string]string{}
	for _, d := range docs {
		errs = append(errs, LiteralSecrets(d)...)
		if d.Namespace == "" {
			add(fmt.Errorf("%s: no namespace", d.Ref()))
		}
		id := d.APIVersion + "/" + d.Kind + "/" + d.Namespace + "/" + d.Name
		if prev, dup := seen[id]; dup {
			add(fmt.Errorf("%s: also defined at %s", d.Ref(), prev))
		}
		seen[id] = d.Ref()
		switch {
		case d.APIVersion == "serving.knative.dev/v1" && d.Kind == "Service":
			svc, err := KnativeService(d)
			add(err)
			if svc != nil {
				s.services[d.Name] = svc
				errs = append(errs, servicePolicy(d, svc, opts)...)
			}
		case d.APIVersion == "sources.knative.dev/v1" && d.Kind == "PingSource":
			ps, err := PingSource(d)
			add(err)
			if ps != nil {
				s.pings[d.Name] = ps
			}
		case d.Kind == "KafkaSource":
			ks, err := KafkaSourceDoc(d)
			add(err)
			if ks != nil {
				s.kafka[d.Name] = ks
			}
		case d.APIVersion == "v1" && d.Kind == "ServiceAccount":
			var sa corev1.ServiceAccount
			add(d.Decode(&sa))
			s.accounts[d.Name] = true
		case d.APIVersion == "rbac.authorization.k8s.io/v1" && d.Kind == "Role":
			var r rbacv1.Role
			add(d.Decode(&r))
			for _, rule := range r.Rules {
				if slices.Contains(rule.Resources, "secrets") && len(rule.ResourceNames) == 0 {
					add(fmt.Errorf("%s: grants every secret in the namespace", d.Ref()))
				}
			}
		case d.APIVersion == "rbac.authorization.k8s.io/v1" && d.Kind == "RoleBinding":
			var rb rbacv1.RoleBinding
			add(d.Decode(&rb))
		case d.Group() == "dapr.io" && d.Kind == "Component":
			if contrib == nil {
				continue
			}
			c, err := Component(d, contrib)
			add(err)
			if c != nil {
				s.components[d.Name] = c
			}
		case d.Group() == "dapr.io" && d.Kind == "Subscription":
			sub, err := Subscription(d)
			add(err)
			if sub != nil {
				s.subs[d.Name] = sub
			}
		case d.Group() == "dapr.io" && d.Kind == "Configuration":
			c, err := Configuration(d)
			add(err)
			if c != nil {
				s.configs[d.Name] = c
			}
		case d.Group() == "dapr.io" && d.Kind == "HTTPEndpoint":
			h, err := HTTPEndpoint(d)
			add(err)
			if h != nil {
				s.endpoints[d.Name] = h
			}
		case d.Group() == "dapr.io" && d.Kind == "Resiliency":
			r, err := Resiliency(d)
			add(err)
			if r != nil {
				s.resiliences = append(s.resiliences, r)
			}
		default:
			add(fmt.Errorf("%s: unexpected %s %s", d.Ref(), d.APIVersion, d.Kind))
		}
	}
	errs = append(errs, s.wiring(opts)...)
	errs = append(errs, s.pods()...)
	return errs
}

// pods composes each function's pod as Knative Serving and Dapr, as
// released, would create it, and checks it.
func (s *set) pods() []error {
	if len(s.services) == 0 {
		return nil
	}
	p, err := pod.Defaults()
	if err != nil {
		return []error{err}
	}
	root, err := repo.Root()
	if err != nil {
		return []error{err}
	}
	reads, err := EnvReads(root)
	if err != nil {
		return []error{err}
	}
	names := make([]string, 0, len(s.services))
	for n := range s.services {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		c, err := p.Compose(s.services[n])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, ComposedPod(c, reads)...)
	}
	return errs
}

// daprAnnotations are the annotations Dapr's sidecar injector reads.
var daprAnnotations = func() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[patcher.SidecarConfig]()
	for i := range t.NumField() {
		if a := t.Field(i).Tag.Get("annotation"); a != "" {
			out[a] = true
		}
	}
	return out
}()

func servicePolicy(d manifest.Doc, svc *servingv1.Service, opts Options) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{d.Ref()}, args...)...))
	}
	f, ok := FunctionByName(svc.Name)
	if !ok {
		fail("no function %q in the design", svc.Name)
		return errs
	}
	if svc.Labels["networking.knative.dev/visibility"] != "cluster-local" {
		fail("not cluster-local: label networking.knative.dev/visibility must be cluster-local")
	}
	an := svc.Spec.Template.Annotations
	for k := range an {
		if strings.HasPrefix(k, "dapr.io/") && !daprAnnotations[k] {
			fail("annotation %s is not one Dapr's injector reads", k)
		}
	}
	want := map[string]string{
		"dapr.io/enabled":                   "true",
		"dapr.io/app-id":                    svc.Name,
		"dapr.io/app-port":                  "8080",
		"dapr.io/enable-api-logging":        "false",
		"autoscaling.knative.dev/min-scale": strconv.Itoa(f.MinScale),
	}
	if m, ok := opts.MinScale[svc.Name]; ok {
		want["autoscaling.knative.dev/min-scale"] = strconv.Itoa(m)
	}
	for k, v := range want {
		if an[k] != v {
			fail("annotation %s = %q, want %q", k, an[k], v)
		}
	}
	if an["dapr.io/config"] == "" {
		fail("no dapr.io/config")
	}
	if an["autoscaling.knative.dev/target"] == "" && svc.Spec.Template.Spec.ContainerConcurrency == nil {
		fail("no concurrency target")
	}
	// Dapr's default metrics port is queue-proxy's: the composed pod
	// shows the clash, this says what to do about it.
	if _, err := strconv.Atoi(an["dapr.io/metrics-port"]); err != nil {
		fail("dapr.io/metrics-port %q must be set to a port no other container of the pod uses", an["dapr.io/metrics-port"])
	}
	cs := svc.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		fail("want one container, have %d", len(cs))
		return errs
	}
	c := cs[0]
	wantImage := "ko://" + ImportPath + "/" + svc.Name
	if opts.ImageRegistry != "" {
		wantImage = strings.TrimSuffix(opts.ImageRegistry, "/") + "/" + svc.Name + ":"
	}
	if !strings.HasPrefix(c.Image, wantImage) || (opts.ImageRegistry == "" && c.Image != wantImage) {
		fail("image %q, want %s", c.Image, wantImage)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 8080 {
		fail("container port must be 8080")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			fail("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			fail("no %s limit", r)
		}
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path {
			fail("%s probe must GET %s", name, path)
		}
	}
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("readiness", c.ReadinessProbe, "/readyz")
	sc := c.SecurityContext
	switch {
	case sc == nil:
		fail("no securityContext")
	default:
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			fail("runAsNonRoot must be true")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			fail("readOnlyRootFilesystem must be true")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			fail("allowPrivilegeEscalation must be false")
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			fail("capabilities must drop ALL")
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			fail("seccompProfile must be RuntimeDefault")
		}
	}
	return errs
}

// sinkOf checks that a source delivers to the named Knative Service at path.
func sinkOf(sink duckv1.Destination) (service, path string) {
	if sink.Ref != nil && sink.Ref.Kind == "Service" && sink.Ref.APIVersion == "serving.knative.dev/v1" {
		service = sink.Ref.Name
	}
	if sink.URI != nil {
		path = sink.URI.String()
	}
	return service, path
}

// bulkAgrees checks the Subscription's bulkSubscribe against the function's
// SUBSCRIBE_BULK_* variables. daprd prefers the subscription the function
// announces, which those variables decide, so the mirror must say the
// same. Both variables are required together, so the runtime's default
// wait is never assumed here.
func bulkAgrees(sub *subscriptionsv2alpha1.Subscription, svc *servingv1.Service) error {
	var want subscriptionsv2alpha1.BulkSubscribe
	if cs := svc.Spec.Template.Spec.Containers; len(cs) > 0 {
		n, _ := envValue(&cs[0], "SUBSCRIBE_BULK_MAX_MESSAGES")
		wait, _ := envValue(&cs[0], "SUBSCRIBE_BULK_MAX_AWAIT")
		if n != "" && n != "0" {
			count, err := strconv.ParseInt(n, 10, 32)
			if err != nil {
				return fmt.Errorf("SUBSCRIBE_BULK_MAX_MESSAGES=%q: %w", n, err)
			}
			d, err := time.ParseDuration(wait)
			if err != nil {
				return fmt.Errorf("SUBSCRIBE_BULK_MAX_MESSAGES is set, SUBSCRIBE_BULK_MAX_AWAIT=%q is not a duration", wait)
			}
			want = subscriptionsv2alpha1.BulkSubscribe{Enabled: true, MaxMessagesCount: int32(count), MaxAwaitDurationMs: int32(d.Milliseconds())}
		}
	}
	if sub.Spec.BulkSubscribe != want {
		return fmt.Errorf("bulkSubscribe %+v, but the function's SUBSCRIBE_BULK_* variables announce %+v", sub.Spec.BulkSubscribe, want)
	}
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// wiring checks the documents against the design and each other.
func (s *set) wiring(opts Options) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	appIDs := map[string]bool{ChatAPI: true}
	for _, f := range System() {
		appIDs[f.Name] = true
	}

	// Per function, what is present must match the design; what is
	// expected must be present.
	for _, f := range System() {
		expected := slices.Contains(opts.Functions, f.Name)
		svc, ok := s.services[f.Name]
		if !ok {
			if expected {
				fail("%s: no Knative Service", f.Name)
			}
		} else {
			cfg := svc.Spec.Template.Annotations["dapr.io/config"]
			if _, ok := s.configs[cfg]; !ok && expected {
				fail("%s: dapr.io/config names Configuration %q, which is not defined", f.Name, cfg)
			}
			if sa := svc.Spec.Template.Spec.ServiceAccountName; sa != "" && !s.accounts[sa] && expected {
				fail("%s: service account %q is not defined", f.Name, sa)
			}
		}
		if c, ok := s.configs[f.Name]; ok {
			ac := c.Spec.AccessControlSpec
			if ac == nil || ac.DefaultAction != "deny" {
				fail("Configuration %s: accessControl.defaultAction must be deny", f.Name)
			} else {
				var callers []string
				for _, p := range ac.AppPolicies {
					callers = append(callers, p.AppName)
					if p.DefaultAction != "allow" && len(p.AppOperationActions) == 0 {
						fail("Configuration %s: policy for %s allows nothing", f.Name, p.AppName)
					}
				}
				if !sameSet(callers, f.InvokedBy) {
					fail("Configuration %s: callers %v, want %v", f.Name, callers, f.InvokedBy)
				}
			}
			if c.Spec.MTLSSpec == nil || c.Spec.MTLSSpec.Enabled == nil || !*c.Spec.MTLSSpec.Enabled {
				fail("Configuration %s: mtls must be enabled", f.Name)
			}
			if c.Spec.TracingSpec == nil || c.Spec.TracingSpec.SamplingRate == "" {
				fail("Configuration %s: no tracing sampling rate", f.Name)
			}
		}
		for _, topic := range f.Topics {
			var sub *subscriptionsv2alpha1.Subscription
			for _, x := range s.subs {
				if x.Spec.Topic == topic && slices.Contains(x.Scopes, f.Name) {
					sub = x
				}
			}
			switch {
			case sub == nil:
				if expected {
					fail("%s: no Dapr Subscription to %s", f.Name, topic)
				}
			default:
				if sub.Spec.Pubsubname != "pubsub" || sub.Spec.Routes.Default != "/dapr/topics/"+topic ||
					sub.Spec.DeadLetterTopic != topic+".dlq" || !slices.Equal(sub.Scopes, []string{f.Name}) {
					fail("Subscription %s: want pubsub %s -> /dapr/topics/%s, dead letters to %s.dlq, scoped to %s only",
						sub.Name, topic, topic, topic, f.Name)
				}
				if svc != nil {
					if err := bulkAgrees(sub, svc); err != nil {
						fail("Subscription %s: %v", sub.Name, err)
					}
				}
			}
			var ks *KafkaSource
			for _, x := range s.kafka {
				if svcName, path := sinkOf(x.Spec.Sink); svcName == f.Name && path == "/events/"+topic {
					ks = x
				}
			}
			switch {
			case ks == nil:
				if expected {
					fail("%s: no KafkaSource delivering %s to /events/%s", f.Name, topic, topic)
				}
			case !slices.Equal(ks.Spec.Topics, []string{topic}):
				fail("KafkaSource %s: topics %v, want [%s]", ks.Name, ks.Spec.Topics, topic)
			}
		}
		for _, want := range f.Pings {
			found := false
			for _, ps := range s.pings {
				svcName, path := sinkOf(ps.Spec.Sink)
				if svcName == f.Name && path == want.Path && ps.Spec.Schedule == want.Schedule {
					found = true
				}
			}
			if !found && expected {
				fail("%s: no PingSource %q -> %s", f.Name, want.Schedule, want.Path)
			}
		}
		if h, ok := s.endpoints[f.Name]; ok {
			if !sameSet(h.Scopes, f.InvokedBy) {
				fail("HTTPEndpoint %s: scopes %v, want its callers %v", f.Name, h.Scopes, f.InvokedBy)
			}
			if !strings.HasPrefix(h.Spec.BaseURL, "http://"+f.Name+".") {
				fail("HTTPEndpoint %s: baseUrl %s is not the function's Knative Service", f.Name, h.Spec.BaseURL)
			}
		}
	}
	for name := range s.services {
		if _, ok := FunctionByName(name); !ok {
			fail("Knative Service %s is not a function of the design", name)
		}
	}
	for name := range s.endpoints {
		if f, ok := FunctionByName(name); !ok || len(f.InvokedBy) == 0 {
			fail("HTTPEndpoint %s: not a function anyone invokes", name)
		}
	}

	// Every source wakes a function, under its own consumer group.
	groups := map[string]string{}
	for name, ks := range s.kafka {
		if svcName, _ := sinkOf(ks.Spec.Sink); svcName == "" {
			fail("KafkaSource %s: sink is not a Knative Service", name)
		} else if _, ok := FunctionByName(svcName); !ok {
			fail("KafkaSource %s: sink %s is not a function", name, svcName)
		}
		if appIDs[ks.Spec.ConsumerGroup] {
			fail("KafkaSource %s: consumer group %s is a Dapr app-id's group: Kafka would split records between them", name, ks.Spec.ConsumerGroup)
		}
		if other, dup := groups[ks.Spec.ConsumerGroup]; dup {
			fail("KafkaSource %s: consumer group %s is also %s's", name, ks.Spec.ConsumerGroup, other)
		}
		groups[ks.Spec.ConsumerGroup] = name
	}
	for name, ps := range s.pings {
		if svcName, _ := sinkOf(ps.Spec.Sink); svcName == "" {
			fail("PingSource %s: sink is not a Knative Service", name)
		} else if _, ok := FunctionByName(svcName); !ok {
			fail("PingSource %s: sink %s is not a function", name, svcName)
		}
	}

	// Components: the right type, scoped to exactly their users.
	users := map[string][]string{}
	for _, f := range System() {
		for _, c := range f.Components {
			users[c] = append(users[c], f.Name)
		}
	}
	for name, c := range s.components {
		typ, ok := ComponentTypes[name]
		if !ok {
			fail("Component %s: not a component of the design", name)
			continue
		}
		if c.Spec.Type != typ {
			fail("Component %s: type %s, want %s", name, c.Spec.Type, typ)
		}
		if !sameSet(c.Scopes, users[name]) {
			fail("Component %s: scopes %v, want its users %v", name, c.Scopes, users[name])
		}
		if strings.HasPrefix(typ, "state.") {
			for _, m := range c.Spec.Metadata {
				if m.Name == "keyPrefix" && m.Value.String() != "name" {
					fail("Component %s: keyPrefix must be name (functions share keys)", name)
				}
			}
		}
		if typ == "pubsub.kafka" {
			for _, m := range c.Spec.Metadata {
				if m.Name == "consumerGroup" || m.Name == "consumerID" {
					fail("Component %s: %s set: all subscribers would share one group", name, m.Name)
				}
			}
		}
	}
	if opts.Platform {
		for name := range ComponentTypes {
			if _, ok := s.components[name]; !ok {
				fail("no Component %s", name)
			}
		}
		if len(s.resiliences) == 0 {
			fail("no Resiliency")
		}
	}
	for _, r := range s.resiliences {
		for app := range r.Spec.Targets.Apps {
			if !appIDs[app] {
				fail("Resiliency %s: target app %s is not an app of the design", r.Name, app)
			}
		}
		for comp := range r.Spec.Targets.Components {
			if _, ok := ComponentTypes[comp]; !ok {
				fail("Resiliency %s: target component %s is not a component of the design", r.Name, comp)
			}
		}
		if opts.Platform {
			for _, kind := range []string{"pubsub", "tasks", "dedupe"} {
				if _, ok := r.Spec.Targets.Components[kind]; !ok {
					fail("Resiliency %s: no policy for component %s", r.Name, kind)
				}
			}
		}
	}
	return errs
}

// Join reports errors one per line.
func Join(errs []error) error { return errors.Join(errs...) }
