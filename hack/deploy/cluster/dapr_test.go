//go:build cluster

package cluster

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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

// startDaprInjector runs Dapr's sentry and sidecar injector (bin/sentry,
// bin/injector, built from the pinned dapr/dapr), and registers the
// injector as the mutating admission webhook Dapr's chart declares.
//
// What differs from a cluster, and why:
//   - sentry runs in standalone mode, so it signs the injector's
//     certificate without a Kubernetes service-account token (the injector
//     is a process here, not a pod); the injector still gets its serving
//     certificate, for dapr-sidecar-injector.dapr-system.svc, from sentry.
//   - the injector's Service is of type ExternalName, pointing at
//     localhost: without a pod network the API server cannot reach a
//     ClusterIP, and Endpoints may not hold loopback addresses. The API
//     server then calls https://localhost:<port>/mutate and checks the
//     certificate for the Service's DNS name against the caBundle the
//     injector itself writes into the webhook configuration, as in a
//     cluster. The webhook is given the injector's port (the chart leaves
//     it at 443).
func startDaprInjector(ctx context.Context, t *testing.T, cp *controlPlane, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper) {
	t.Helper()
	inj, err := pod.DaprDefaults()
	if err != nil {
		t.Fatal(err)
	}
	docs, _, err := pod.DaprChart()
	if err != nil {
		t.Fatal(err)
	}
	injectorPort := freePort(t)
	var webhook *unstructured.Unstructured
	for _, d := range docs {
		if d.Kind == "MutatingWebhookConfiguration" && d.Name == "dapr-sidecar-injector" {
			webhook = (&unstructured.Unstructured{Object: d.Object}).DeepCopy()
		}
	}
	if webhook == nil {
		t.Fatal("Dapr's chart renders no dapr-sidecar-injector MutatingWebhookConfiguration")
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
	for _, obj := range []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": pod.DaprNamespace}}},
		{Object: map[string]any{
			"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": "dapr-sidecar-injector", "namespace": pod.DaprNamespace},
			"spec":     map[string]any{"type": "ExternalName", "externalName": "localhost"},
		}},
		webhook,
	} {
		if err := apply(ctx, t, dyn, mapper, obj); err != nil {
			t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}

	// Dapr's certificate authority, on a throwaway root and issuer.
	dir := filepath.Join(cp.dir, "sentry")
	creds := filepath.Join(dir, "credentials")
	if err := os.MkdirAll(creds, 0o700); err != nil {
		t.Fatal(err)
	}
	root, rootKey := certificate(t, nil, nil, pkix.Name{CommonName: "dapr-root"}, true)
	issuer, issuerKey := certificate(t, root, rootKey, pkix.Name{CommonName: "dapr-issuer"}, true)
	write(t, creds, "ca.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}))
	write(t, creds, "issuer.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issuer.Raw}))
	der, err := x509.MarshalECPrivateKey(issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	write(t, creds, "issuer.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	write(t, dir, "config.yaml", []byte(sentryConfig))
	sentryPort, sentryHealth := freePort(t), freePort(t)
	sentry := cp.start(t, "sentry", []string{"NAMESPACE=" + pod.DaprNamespace},
		"--config", filepath.Join(dir, "config.yaml"), "--issuer-credentials", creds,
		"--trust-domain", inj.Env["DAPR_CONTROL_PLANE_TRUST_DOMAIN"],
		"--port", strconv.Itoa(sentryPort), "--listen-address", "127.0.0.1",
		"--healthz-port", strconv.Itoa(sentryHealth), "--healthz-listen-address", "127.0.0.1",
		"--enable-metrics=false")
	waitHealthy(ctx, t, sentry, "http://127.0.0.1:"+strconv.Itoa(sentryHealth)+"/healthz")

	// The injector's configuration is the environment Dapr's chart gives
	// it, but for where it finds sentry and the root it trusts. It refuses
	// to run as root, which the chart's pod never is and this test may be.
	env := []string{
		"DAPR_SENTRY_ADDRESS=127.0.0.1:" + strconv.Itoa(sentryPort),
		"DAPR_TRUST_ANCHORS_FILE=" + filepath.Join(creds, "ca.crt"),
		"DAPR_UNSAFE_SKIP_CONTAINER_UID_GID_CHECK=true",
	}
	for k, v := range inj.Env {
		switch k {
		case "DAPR_SENTRY_ADDRESS", "DAPR_TRUST_ANCHORS_FILE":
		default:
			env = append(env, k+"="+v)
		}
	}
	injectorHealth := freePort(t)
	injector := cp.start(t, "injector", env,
		"--kubeconfig", cp.kubeconfig, "--port", strconv.Itoa(injectorPort),
		"--healthz-port", strconv.Itoa(injectorHealth), "--healthz-listen-address", "127.0.0.1",
		"--enable-metrics=false")
	// Healthy once it serves and has written its root into the webhook
	// configuration.
	waitHealthy(ctx, t, injector, "http://127.0.0.1:"+strconv.Itoa(injectorHealth)+"/healthz")
}
