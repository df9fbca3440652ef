//go:build cluster

package cluster

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"knative.dev/serving/pkg/apis/autoscaling"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
	"github.com/todo-chatbot/functions/hack/deploy/internal/pod"
)

// servingWebhook is the Service Knative Serving's webhook configurations
// name, and the name its certificate is issued for.
const servingWebhook = "webhook"

// servingInstall is what Knative Serving's release installs besides its
// CRDs and deployments, from the pinned modules: the config maps (the
// networking layer's config-network included), the webhook
// configurations and the Secret the webhook keeps its certificate in.
var servingInstall = []moduleFiles{
	{pod.ServingModule, "config/core/configmaps"},
	{pod.ServingModule, "config/core/webhooks"},
	{"knative.dev/networking", "config/config-network.yaml"},
}

// startServingWebhook runs Knative Serving's webhook (bin/serving-webhook,
// built from the pinned knative.dev/serving) as the defaulting, validating
// and config-map-validating admission webhook its release registers. It
// issues its own certificate and writes its CA into those webhook
// configurations, as in a cluster; it is healthy once it has.
//
// What differs from a cluster is what differs for Dapr's (startDapr): the
// Service the API server calls it through is an ExternalName for
// localhost, and the webhook configurations name the port it listens on.
func startServingWebhook(ctx context.Context, t *testing.T, cp *controlPlane, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper) {
	t.Helper()
	port := freePort(t)
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": pod.ServingNamespace}}},
		externalName(servingWebhook, pod.ServingNamespace),
	}
	for _, src := range servingInstall {
		for _, d := range src.docs(t) {
			obj := (&unstructured.Unstructured{Object: d.Object}).DeepCopy()
			if d.Group() == "admissionregistration.k8s.io" {
				setWebhookPort(t, obj, port)
			}
			objs = append(objs, obj)
		}
	}
	for _, obj := range objs {
		if err := apply(ctx, t, dyn, mapper, obj); err != nil {
			t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	p := cp.start(t, "serving-webhook", servingEnv(t, "webhook",
		"WEBHOOK_NAME="+servingWebhook, "WEBHOOK_PORT="+strconv.Itoa(port)),
		"--kubeconfig", cp.kubeconfig)
	for _, wh := range []struct{ resource, name string }{
		{"mutatingwebhookconfigurations", "webhook.serving.knative.dev"},
		{"validatingwebhookconfigurations", "validation.webhook.serving.knative.dev"},
		{"validatingwebhookconfigurations", "config.webhook.serving.knative.dev"},
	} {
		waitCABundle(ctx, t, p, dyn.Resource(schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: wh.resource}), wh.name)
	}
}

// startServingController runs Knative Serving's controller
// (bin/serving-controller): the service, configuration, revision and route
// reconcilers among others. Nothing runs the autoscaler or a networking
// layer, so Revisions never become Ready and Routes get no address; what
// is checked is what the controller creates.
func startServingController(t *testing.T, cp *controlPlane) {
	t.Helper()
	cp.start(t, "serving-controller", servingEnv(t, "controller"), "--kubeconfig", cp.kubeconfig)
}

// servingEnv is the environment Serving's release gives its deployments,
// with the profiling and metrics servers on free loopback ports: each
// process would otherwise take 8008 and 9090.
func servingEnv(t *testing.T, name string, extra ...string) []string {
	return append([]string{
		"SYSTEM_NAMESPACE=" + pod.ServingNamespace, "POD_NAME=" + name + "-0",
		"CONFIG_LOGGING_NAME=config-logging", "CONFIG_OBSERVABILITY_NAME=config-observability",
		"PROFILING_PORT=" + strconv.Itoa(freePort(t)),
	}, extra...)
}

// setWebhookPort points every webhook of a webhook configuration at port.
func setWebhookPort(t *testing.T, obj *unstructured.Unstructured, port int) {
	t.Helper()
	hooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
	for _, h := range hooks {
		if err := unstructured.SetNestedField(h.(map[string]any), int64(port), "clientConfig", "service", "port"); err != nil {
			t.Fatal(err)
		}
	}
	if err := unstructured.SetNestedSlice(obj.Object, hooks, "webhooks"); err != nil {
		t.Fatal(err)
	}
}

// waitCABundle waits until every webhook of the configuration name carries
// a CA bundle, which the webhook process writes once it serves.
func waitCABundle(ctx context.Context, t *testing.T, p *process, r dynamic.NamespaceableResourceInterface, name string) {
	t.Helper()
	p.waitFor(ctx, t, "wrote its CA into "+name, func() error {
		u, err := r.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !allHaveCABundle(u) {
			return errors.New("a webhook has no caBundle yet")
		}
		return nil
	})
}

func allHaveCABundle(u *unstructured.Unstructured) bool {
	hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
	for _, h := range hooks {
		if b, _, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "caBundle"); b == "" {
			return false
		}
	}
	return len(hooks) > 0
}

// knativeWebhookDefaultsAndValidates shows Knative Serving's webhook on
// the admission path of every function's Knative Service: the stored
// Service carries what only its defaulting adds (the user who created it,
// the traffic to the latest Revision), and the same Service with an
// autoscaling annotation Knative cannot read, which the CRD's schema lets
// through, is refused by its validation.
func knativeWebhookDefaultsAndValidates(ctx context.Context, t *testing.T, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, docs []manifest.Doc) {
	services := dyn.Resource(servingv1.SchemeGroupVersion.WithResource("services"))
	checked := 0
	for _, d := range docs {
		if d.Kind != "Service" || d.Group() != servingv1.SchemeGroupVersion.Group {
			continue
		}
		got, err := services.Namespace(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s: %v", d.Ref(), err)
			continue
		}
		if creator := got.GetAnnotations()[serving.CreatorAnnotation]; creator != adminUser {
			t.Errorf("%s: annotation %s is %q, want %q: Serving's defaulting webhook did not see it", d.Ref(), serving.CreatorAnnotation, creator, adminUser)
		}
		if traffic, _, _ := unstructured.NestedSlice(got.Object, "spec", "traffic"); len(traffic) == 0 {
			t.Errorf("%s: stored without spec.traffic, which Serving's defaulting sets", d.Ref())
		}

		bad := (&unstructured.Unstructured{Object: d.Object}).DeepCopy()
		bad.SetName(bad.GetName() + "-bad")
		ann, _, _ := unstructured.NestedStringMap(bad.Object, "spec", "template", "metadata", "annotations")
		if ann == nil {
			ann = map[string]string{}
		}
		ann[autoscaling.MinScaleAnnotationKey] = "many"
		if err := unstructured.SetNestedStringMap(bad.Object, ann, "spec", "template", "metadata", "annotations"); err != nil {
			t.Fatal(err)
		}
		err = apply(ctx, t, dyn, mapper, bad)
		switch {
		case err == nil:
			t.Errorf("%s with %s=many: admitted", d.Ref(), autoscaling.MinScaleAnnotationKey)
		case !strings.Contains(err.Error(), "validation.webhook.serving.knative.dev"):
			t.Errorf("%s with %s=many: refused, but not by Serving's validating webhook: %v", d.Ref(), autoscaling.MinScaleAnnotationKey, err)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("the render has no Knative Service")
	}
	t.Logf("%d Knative Services defaulted and validated by Serving's webhook", checked)
}
