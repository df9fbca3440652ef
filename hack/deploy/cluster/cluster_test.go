//go:build cluster

// Package cluster applies the rendered deployment to a real control plane
// (etcd, kube-apiserver and kube-controller-manager built from source into
// bin/ by `make test-cluster`), with the CRDs of Knative Serving, Knative
// Eventing and Dapr from the pinned modules, and Knative Serving's and
// Dapr's control planes (Serving's webhook and controller; Dapr's sentry,
// operator and sidecar injector) registered as the webhooks they are. It
// checks that every object is admitted, that Serving's controller makes
// each function's Revision and Deployment as the in-process composition
// (internal/pod) says, that the Deployment becomes a Pod Dapr's injector
// patches as that composition says, and that Dapr's operator serves and
// converts what it owns.
package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"knative.dev/pkg/kmeta"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/todo-chatbot/functions/hack/deploy/internal/check"
	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
	"github.com/todo-chatbot/functions/hack/deploy/internal/pod"
	"github.com/todo-chatbot/functions/hack/deploy/internal/render"
	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

// crdDirs are where the pinned modules keep their CRDs. KafkaSource's is
// in knative.dev/eventing-kafka-broker, which the module proxy does not
// serve: KafkaSources are checked in process only (internal/check).
var crdDirs = []moduleFiles{
	{"knative.dev/serving", "config/core/300-resources"},
	// The networking layer's and the image cache's, which Serving's
	// controller watches and creates.
	{"knative.dev/networking", "config"},
	{"knative.dev/caching", "config"},
	{"knative.dev/eventing", "config/core/resources"},
	{"github.com/dapr/dapr", "charts/dapr/crds"},
}

const fieldManager = "todo-chatbot-deploy"

func TestControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cp := startControlPlane(t)
	dyn := dynamic.NewForConfigOrDie(cp.cfg)
	installCRDs(ctx, t, dyn)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cp.cfg)))

	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	// Images from a registry, as a user deploying prebuilt images sets
	// them (the chart's ko:// references are for `ko resolve`): Serving's
	// controller resolves a tag to a digest by asking the registry, but
	// for registries it is configured to skip, such as dev.local.
	docs, err := render.Chart(filepath.Join(root, render.ChartDir), render.Options{Set: []string{"image.registry=dev.local/todo-chatbot"}})
	if err != nil {
		t.Fatal(err)
	}
	startServingWebhook(ctx, t, cp, dyn, mapper)
	t.Run("RenderedManifestsAreAdmitted", func(t *testing.T) {
		renderedManifestsAreAdmitted(ctx, t, dyn, mapper, docs)
	})
	t.Run("KnativeWebhookDefaultsAndValidates", func(t *testing.T) {
		knativeWebhookDefaultsAndValidates(ctx, t, dyn, mapper, docs)
	})
	if t.Failed() {
		return
	}
	startDapr(ctx, t, cp, dyn, mapper)
	startServingController(t, cp)
	t.Run("ServicesBecomeInjectedPods", func(t *testing.T) {
		servicesBecomeInjectedPods(ctx, t, kubernetes.NewForConfigOrDie(cp.cfg), servingclient.NewForConfigOrDie(cp.cfg), docs)
	})
	t.Run("SubscriptionsConvert", func(t *testing.T) {
		subscriptionsConvert(ctx, t, dyn, docs)
	})
}

// subscriptionsConvert reads every Subscription at the version it is not
// stored at, through Dapr's operator as the CRD's conversion webhook.
func subscriptionsConvert(ctx context.Context, t *testing.T, dyn dynamic.Interface, docs []manifest.Doc) {
	read := 0
	for _, d := range docs {
		if d.Kind != "Subscription" || d.Group() != "dapr.io" {
			continue
		}
		other := "v1alpha1"
		if d.APIVersion == "dapr.io/v1alpha1" {
			other = "v2alpha1"
		}
		got, err := dyn.Resource(schema.GroupVersionResource{Group: "dapr.io", Version: other, Resource: "subscriptions"}).
			Namespace(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s at dapr.io/%s: %v", d.Ref(), other, err)
			continue
		}
		for _, f := range []string{"topic", "pubsubname"} {
			want, _, _ := unstructured.NestedString(d.Object, "spec", f)
			if have, _, _ := unstructured.NestedString(got.Object, "spec", f); have != want {
				t.Errorf("%s at dapr.io/%s: spec.%s %q, want %q", d.Ref(), other, f, have, want)
			}
		}
		read++
	}
	if read == 0 {
		t.Fatal("the render has no Dapr Subscription")
	}
	t.Logf("%d subscriptions read through Dapr's conversion webhook", read)
}

func renderedManifestsAreAdmitted(ctx context.Context, t *testing.T, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, docs []manifest.Doc) {
	namespaces := map[string]bool{}
	applied := 0
	for _, d := range docs {
		if d.Kind == "KafkaSource" {
			t.Logf("%s: not applied (its CRD's module is not available)", d.Ref())
			continue
		}
		if !namespaces[d.Namespace] {
			namespaces[d.Namespace] = true
			apply(ctx, t, dyn, mapper, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": d.Namespace},
			}})
		}
		if err := apply(ctx, t, dyn, mapper, &unstructured.Unstructured{Object: d.Object}); err != nil {
			t.Errorf("%s: not admitted: %v", d.Ref(), err)
			continue
		}
		applied++
	}
	if applied == 0 {
		t.Fatal("nothing applied")
	}
	t.Logf("%d objects admitted", applied)

	// The API server really enforces the CRDs' schemas: the same objects
	// with a field of the wrong type are refused.
	stringField := map[string]string{"PingSource": "schedule", "Component": "type", "Service": "template"}
	for _, d := range docs {
		field, ok := stringField[d.Kind]
		if !ok || d.Kind == "Service" && d.Group() != "serving.knative.dev" {
			continue
		}
		bad := (&unstructured.Unstructured{Object: d.Object}).DeepCopy()
		bad.SetName(bad.GetName() + "-bad")
		if err := unstructured.SetNestedField(bad.Object, int64(5), "spec", field); err != nil {
			t.Fatal(err)
		}
		if err := apply(ctx, t, dyn, mapper, bad); err == nil {
			t.Errorf("%s with a number for spec.%s: admitted", d.Ref(), field)
		}
	}
}

func apply(ctx context.Context, t *testing.T, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, obj *unstructured.Unstructured) error {
	t.Helper()
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		mapper.Reset()
		if m, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return err
		}
	}
	var r dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if ns := obj.GetNamespace(); ns != "" {
		r = dyn.Resource(m.Resource).Namespace(ns)
	}
	_, err = r.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	return err
}

func installCRDs(ctx context.Context, t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	crds := dyn.Resource(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions"))
	var names []string
	for _, src := range crdDirs {
		for _, d := range src.docs(t) {
			if d.Kind != "CustomResourceDefinition" {
				continue
			}
			if _, err := crds.Apply(ctx, d.Name, &unstructured.Unstructured{Object: d.Object},
				metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
				t.Fatalf("CRD %s from %s: %v", d.Name, src.module, err)
			}
			names = append(names, d.Name)
		}
	}
	for _, n := range names {
		for {
			u, err := crds.Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			if established(conds) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("CRD %s never established", n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("%d CRDs established", len(names))
}

// moduleFiles are manifests a pinned module ships: a folder or a file of
// it.
type moduleFiles struct{ module, path string }

func (m moduleFiles) docs(t *testing.T) []manifest.Doc {
	t.Helper()
	dir, err := repo.ModuleDir(m.module)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.ParseTree(filepath.Join(dir, filepath.FromSlash(m.path)))
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func established(conds []any) bool {
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// servicesBecomeInjectedPods waits, for each function, for what the
// controllers make of its Knative Service: Knative Serving's controller the
// Configuration, the Revision and the Revision's Deployment; then
// kube-controller-manager the ReplicaSet and the Pod, which Dapr's injector
// patches on admission. The Deployment must be the one the in-process
// composition (internal/pod) builds with the same release's code, and the
// Pod is checked as the composed pod is (check.ComposedPod), its daprd
// compared with the in-process patch. Nothing schedules or runs the Pod:
// it stays Pending.
func servicesBecomeInjectedPods(ctx context.Context, t *testing.T, kube kubernetes.Interface, serving servingclient.Interface, docs []manifest.Doc) {
	p, err := pod.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	reads, err := check.EnvReads(root)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, d := range docs {
		if d.APIVersion != "serving.knative.dev/v1" || d.Kind != "Service" {
			continue
		}
		svc, err := check.KnativeService(d)
		if err != nil {
			t.Error(err)
			continue
		}
		want, err := p.Compose(svc)
		if err != nil {
			t.Error(err)
			continue
		}
		rev, dep, err := waitRevision(ctx, kube, serving, svc.Namespace, want.Revision.Name)
		if err != nil {
			t.Errorf("%s: %v", svc.Name, err)
			continue
		}
		if owner := metav1.GetControllerOf(rev); owner == nil || owner.Kind != "Configuration" || owner.Name != svc.Name {
			t.Errorf("%s: Revision %s is not controlled by Configuration %s: %v", svc.Name, rev.Name, svc.Name, owner)
		}
		if owner := metav1.GetControllerOf(dep); owner == nil || owner.Kind != "Revision" || owner.UID != rev.UID {
			t.Errorf("%s: Deployment %s is not controlled by Revision %s: %v", svc.Name, dep.Name, rev.Name, owner)
		}
		if diff, err := templateDiff(ctx, kube, want.Deployment, dep); err != nil {
			t.Errorf("%s: %v", svc.Name, err)
		} else if diff != "" {
			t.Errorf("%s: the Deployment Knative Serving's controller made differs from the in-process composition (-in process +controller):\n%s", svc.Name, diff)
		}
		got, err := waitPod(ctx, kube, dep.Namespace, metav1.FormatLabelSelector(dep.Spec.Selector))
		if err != nil {
			t.Errorf("%s: %v", svc.Name, err)
			continue
		}
		checked++
		c := *want
		c.Pod = got
		for _, err := range check.ComposedPod(&c, reads) {
			t.Errorf("on the API server: %v", err)
		}
		if diff := daprdDiff(want.Pod, got); diff != "" {
			t.Errorf("%s: daprd as Dapr's injector patched the pod on the API server differs from the in-process patch (-in process +API server):\n%s", svc.Name, diff)
		}
		if got.Spec.NodeName != "" || got.Status.Phase != corev1.PodPending {
			t.Errorf("%s: pod %s is on node %q in phase %s, but nothing here schedules or runs pods", svc.Name, got.Name, got.Spec.NodeName, got.Status.Phase)
		}
		// Dapr's operator gives every Dapr-enabled Deployment a Service
		// for its sidecar, which the functions invoke each other through.
		appID := svc.Spec.Template.Annotations["dapr.io/app-id"]
		if err := waitService(ctx, kube, dep.Namespace, appID+"-dapr"); err != nil {
			t.Errorf("%s: %v", svc.Name, err)
		}
		owner := metav1.GetControllerOf(got)
		if owner == nil || owner.Kind != "ReplicaSet" {
			t.Errorf("%s: pod %s is not controlled by a ReplicaSet: %v", svc.Name, got.Name, owner)
			continue
		}
		t.Logf("%s: Revision %s, Deployment %s, pod %s created by ReplicaSet %s: containers %v, phase %s",
			svc.Name, rev.Name, dep.Name, got.Name, owner.Name, containerNames(got), got.Status.Phase)
	}
	if checked == 0 {
		t.Fatal("no Knative Service of the render became a pod")
	}
}

// waitRevision waits for Knative Serving's controller to make the Revision
// name and its Deployment; if they do not come, the error says how far the
// Service got.
func waitRevision(ctx context.Context, kube kubernetes.Interface, serving servingclient.Interface, namespace, name string) (*servingv1.Revision, *appsv1.Deployment, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		rev, err := serving.ServingV1().Revisions(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			dep, err := kube.AppsV1().Deployments(namespace).Get(ctx, kmeta.ChildName(name, "-deployment"), metav1.GetOptions{})
			if err == nil {
				return rev, dep, nil
			}
		}
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("no Revision %s/%s with its Deployment from Knative Serving's controller: %v; revision conditions %v", namespace, name, err, revisionConditions(serving, namespace, name))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func revisionConditions(serving servingclient.Interface, namespace, name string) any {
	rev, err := serving.ServingV1().Revisions(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	return rev.Status.Conditions
}

// templateDiff compares the pod templates of two Deployments of one
// Revision, a the in-process composition, b the controller's. a is first
// defaulted by the API server (a dry-run create), as b was when it was
// stored. What names the UIDs the API server gave the Service, the
// Configuration and the Revision, and the user Serving's webhook records
// as the Service's creator, cannot be known in process and are left out.
func templateDiff(ctx context.Context, kube kubernetes.Interface, a, b *appsv1.Deployment) (string, error) {
	a = a.DeepCopy()
	a.Name += "-in-process"
	a.OwnerReferences = nil
	a, err := kube.AppsV1().Deployments(a.Namespace).Create(ctx, a, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		return "", fmt.Errorf("the in-process Deployment, created with a dry run: %w", err)
	}
	of := func(d *appsv1.Deployment) *corev1.PodTemplateSpec {
		tmpl := d.Spec.Template.DeepCopy()
		for _, k := range []string{serving.RevisionUID, serving.ConfigurationUIDLabelKey, serving.ServiceUIDLabelKey} {
			delete(tmpl.Labels, k)
		}
		delete(tmpl.Annotations, serving.CreatorAnnotation)
		return &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: tmpl.Labels, Annotations: tmpl.Annotations},
			Spec:       tmpl.Spec,
		}
	}
	return cmp.Diff(of(a), of(b), cmpopts.EquateEmpty()), nil
}

// waitPod waits for the pod the Deployment's ReplicaSet creates; if none
// comes, the error says why the ReplicaSet could not create it.
func waitPod(ctx context.Context, kube kubernetes.Interface, namespace, selector string) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		pods, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil && len(pods.Items) > 0 {
			return &pods.Items[0], nil
		}
		if ctx.Err() != nil {
			why := "no ReplicaSet"
			if rss, err := kube.AppsV1().ReplicaSets(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: selector}); err == nil && len(rss.Items) > 0 {
				why = fmt.Sprintf("ReplicaSet %s, conditions %v", rss.Items[0].Name, rss.Items[0].Status.Conditions)
			}
			return nil, fmt.Errorf("no pod for %s in %s: %s", selector, namespace, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitService waits for the Service called name.
func waitService(ctx context.Context, kube kubernetes.Interface, namespace, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := kube.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("no Service %s/%s from Dapr's operator: %v", namespace, name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// daprdDiff compares what makes daprd what it is (its command line and
// environment, its ports) in two pods. The root of trust is left out: in
// process it is a stand-in.
func daprdDiff(a, b *corev1.Pod) string {
	type daprd struct {
		Args  []string
		Env   map[string]string
		Ports map[string]int32
	}
	of := func(p *corev1.Pod) *daprd {
		i := slices.IndexFunc(p.Spec.Containers, func(c corev1.Container) bool { return c.Name == check.Daprd })
		if i < 0 {
			return nil
		}
		c := p.Spec.Containers[i]
		d := &daprd{Args: append(slices.Clone(c.Command), c.Args...), Env: map[string]string{}, Ports: map[string]int32{}}
		for _, e := range c.Env {
			switch {
			case e.Name == "DAPR_TRUST_ANCHORS":
			case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
				d.Env[e.Name] = "field " + e.ValueFrom.FieldRef.FieldPath // its apiVersion is defaulted on the server
			case e.ValueFrom != nil:
				d.Env[e.Name] = fmt.Sprintf("from %+v", *e.ValueFrom)
			default:
				d.Env[e.Name] = e.Value
			}
		}
		for _, p := range c.Ports {
			d.Ports[p.Name] = p.ContainerPort
		}
		return d
	}
	return cmp.Diff(of(a), of(b))
}

func containerNames(p *corev1.Pod) []string {
	var out []string
	for _, c := range p.Spec.Containers {
		out = append(out, c.Name)
	}
	return out
}
