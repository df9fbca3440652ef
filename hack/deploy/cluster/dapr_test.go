//go:build cluster

package cluster

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/todo-chatbot/functions/hack/deploy/internal/pod"
)

// sentryConfig turns mTLS on, as the dapr-system Configuration does.
const sentryConfig = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: daprsystem}
spec:
  mtls: {enabled: true, workloadCertTTL: 24h, allowedClockSkew: 15m}
`

// daprSubscriptions is the CRD whose versions Dapr's operator converts
// between, as its conversion webhook.
const daprSubscriptions = "subscriptions.dapr.io"

// startDapr runs Dapr's control plane as Dapr's chart installs it, from
// the pinned dapr/dapr (bin/sentry, bin/operator, bin/injector): sentry,
// which issues the others their serving certificates; the operator, as
// the Subscription CRD's conversion webhook and the reconciler that gives
// every Dapr-enabled Deployment its <app-id>-dapr Service; the sidecar
// injector, as the mutating admission webhook the chart registers.
//
// What differs from a cluster, and why:
//   - sentry runs in standalone mode, so it signs the operator's and the
//     injector's certificates without a Kubernetes service-account token
//     (they are processes here, not pods); each still gets its serving
//     certificate, for its Service's DNS name, from sentry.
//   - the Services the API server calls them through (dapr-webhook,
//     dapr-sidecar-injector) are of type ExternalName, pointing at
//     localhost: without a pod network the API server cannot reach a
//     ClusterIP, and Endpoints may not hold loopback addresses. The API
//     server then calls https://localhost:<port>/... and checks the
//     certificate for the Service's DNS name against the caBundle the
//     operator and the injector themselves write, as in a cluster. The
//     webhooks are given the ports the processes listen on (the chart
//     leaves them at 443).
//   - they are allowed to run as root, which the chart's pods never are
//     and this test may be.
func startDapr(ctx context.Context, t *testing.T, cp *controlPlane, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper) {
	t.Helper()
	inj, err := pod.DaprDefaults()
	if err != nil {
		t.Fatal(err)
	}
	docs, _, err := pod.DaprChart()
	if err != nil {
		t.Fatal(err)
	}
	trustDomain := inj.Env["DAPR_CONTROL_PLANE_TRUST_DOMAIN"]
	injectorPort, operatorWebhookPort, sentryPort := freePort(t), freePort(t), freePort(t)
	var webhook, config *unstructured.Unstructured
	for _, d := range docs {
		switch {
		case d.Kind == "MutatingWebhookConfiguration" && d.Name == "dapr-sidecar-injector":
			webhook = (&unstructured.Unstructured{Object: d.Object}).DeepCopy()
		case d.Kind == "Configuration" && d.Name == "daprsystem":
			config = (&unstructured.Unstructured{Object: d.Object}).DeepCopy()
		}
	}
	if webhook == nil || config == nil {
		t.Fatal("Dapr's chart renders no dapr-sidecar-injector MutatingWebhookConfiguration or daprsystem Configuration")
	}
	hooks, _, _ := unstructured.NestedSlice(webhook.Object, "webhooks")
	if len(hooks) != 1 {
		t.Fatalf("Dapr's injector webhook configuration has %d webhooks, want 1", len(hooks))
	}
	hook := hooks[0].(map[string]any)
	if err := unstructured.SetNestedField(hook, int64(injectorPort), "clientConfig", "service", "port"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedSlice(webhook.Object, hooks, "webhooks"); err != nil {
		t.Fatal(err)
	}
	// The operator finds sentry through the daprsystem Configuration.
	if err := unstructured.SetNestedField(config.Object, "127.0.0.1:"+strconv.Itoa(sentryPort), "spec", "mtls", "sentryAddress"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(config.Object, trustDomain, "spec", "mtls", "controlPlaneTrustDomain"); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": pod.DaprNamespace}}},
		externalName("dapr-sidecar-injector", pod.DaprNamespace), externalName("dapr-webhook", pod.DaprNamespace), webhook, config,
	} {
		if err := apply(ctx, t, dyn, mapper, obj); err != nil {
			t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	crds := dyn.Resource(apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions"))
	portPatch := `[{"op":"add","path":"/spec/conversion/webhook/clientConfig/service/port","value":` + strconv.Itoa(operatorWebhookPort) + `}]`
	if _, err := crds.Patch(ctx, daprSubscriptions, types.JSONPatchType, []byte(portPatch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("CRD %s: %v", daprSubscriptions, err)
	}

	// Dapr's certificate authority, on a throwaway root and issuer.
	dir := filepath.Join(cp.dir, "sentry")
	creds := filepath.Join(dir, "credentials")
	if err := os.MkdirAll(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	root, rootKey := certificate(t, nil, nil, pkix.Name{CommonName: "dapr-root"}, true)
	issuer, issuerKey := certificate(t, root, rootKey, pkix.Name{CommonName: "dapr-issuer"}, true)
	anchors := filepath.Join(creds, "ca.crt")
	write(t, creds, "ca.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}))
	write(t, creds, "issuer.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issuer.Raw}))
	der, err := x509.MarshalECPrivateKey(issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	write(t, creds, "issuer.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	write(t, dir, "config.yaml", []byte(sentryConfig))
	sentryHealth := freePort(t)
	sentry := cp.start(t, "sentry", []string{"NAMESPACE=" + pod.DaprNamespace},
		"--config", filepath.Join(dir, "config.yaml"), "--issuer-credentials", creds,
		"--trust-domain", trustDomain,
		"--port", strconv.Itoa(sentryPort), "--listen-address", "127.0.0.1",
		"--healthz-port", strconv.Itoa(sentryHealth), "--healthz-listen-address", "127.0.0.1",
		"--enable-metrics=false")
	waitHealthy(ctx, t, sentry, "http://127.0.0.1:"+strconv.Itoa(sentryHealth)+"/healthz")

	processEnv := []string{"NAMESPACE=" + pod.DaprNamespace, "DAPR_UNSAFE_SKIP_CONTAINER_UID_GID_CHECK=true"}
	operatorHealth := freePort(t)
	operator := cp.start(t, "operator", slices.Concat(processEnv, []string{"KUBECONFIG=" + cp.kubeconfig}),
		"--kubeconfig", cp.kubeconfig, "--trust-anchors-file", anchors,
		"--port", strconv.Itoa(freePort(t)), "--listen-address", "127.0.0.1",
		"--webhook-server-port", strconv.Itoa(operatorWebhookPort),
		"--healthz-port", strconv.Itoa(operatorHealth), "--healthz-listen-address", "127.0.0.1",
		"--disable-leader-election", "--watch-interval", "0", "--enable-metrics=false")

	// The injector's configuration is the environment Dapr's chart gives
	// it, but for where it finds sentry and the root it trusts.
	env := slices.Concat(processEnv, []string{
		"DAPR_SENTRY_ADDRESS=127.0.0.1:" + strconv.Itoa(sentryPort),
		"DAPR_TRUST_ANCHORS_FILE=" + anchors,
	})
	for k, v := range inj.Env {
		switch k {
		case "DAPR_SENTRY_ADDRESS", "DAPR_TRUST_ANCHORS_FILE", "NAMESPACE":
		default:
			env = append(env, k+"="+v)
		}
	}
	injectorHealth := freePort(t)
	injector := cp.start(t, "injector", env,
		"--kubeconfig", cp.kubeconfig, "--port", strconv.Itoa(injectorPort),
		"--healthz-port", strconv.Itoa(injectorHealth), "--healthz-listen-address", "127.0.0.1",
		"--enable-metrics=false")
	// Healthy once they serve and have written their root into the
	// webhook configuration and the CRD.
	waitHealthy(ctx, t, operator, "http://127.0.0.1:"+strconv.Itoa(operatorHealth)+"/healthz")
	waitHealthy(ctx, t, injector, "http://127.0.0.1:"+strconv.Itoa(injectorHealth)+"/healthz")
}

// externalName is a Service for name in namespace that resolves to
// localhost, where the webhook processes listen: without a pod network the
// API server cannot reach a ClusterIP, and Endpoints may not hold loopback
// addresses.
func externalName(name, namespace string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"spec":     map[string]any{"type": "ExternalName", "externalName": "localhost"},
	}}
}
