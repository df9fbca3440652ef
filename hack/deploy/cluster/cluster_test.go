//go:build cluster

// Package cluster applies the rendered deployment to a real API server
// (etcd and kube-apiserver built from source into bin/ by `make
// test-cluster`), with the CRDs of Knative Serving, Knative Eventing and
// Dapr from the pinned modules, and checks that every object is admitted.
package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/todo-chatbot/functions/hack/deploy/internal/manifest"
	"github.com/todo-chatbot/functions/hack/deploy/internal/render"
	"github.com/todo-chatbot/functions/hack/deploy/internal/repo"
)

// crdDirs are where the pinned modules keep their CRDs. KafkaSource's is
// in knative.dev/eventing-kafka-broker, which the module proxy does not
// serve: KafkaSources are checked in process only (internal/check).
var crdDirs = []struct{ module, dir string }{
	{"knative.dev/serving", "config/core/300-resources"},
	{"knative.dev/eventing", "config/core/resources"},
	{"github.com/dapr/dapr", "charts/dapr/crds"},
}

const fieldManager = "todo-chatbot-deploy"

func TestRenderedManifestsAreAdmitted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := apiServer(t)
	dyn := dynamic.NewForConfigOrDie(cfg)
	installCRDs(ctx, t, dyn)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))

	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	docs, err := render.Chart(filepath.Join(root, render.ChartDir), render.Options{})
	if err != nil {
		t.Fatal(err)
	}
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
		dir, err := repo.ModuleDir(src.module)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := manifest.ParseTree(filepath.Join(dir, filepath.FromSlash(src.dir)))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
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

func established(conds []any) bool {
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// apiServer starts etcd and kube-apiserver on loopback with a throwaway
// CA, and returns a client configuration with cluster-admin rights.
func apiServer(t *testing.T) *rest.Config {
	t.Helper()
	bin := os.Getenv("CLUSTER_BIN")
	if bin == "" {
		t.Fatal("CLUSTER_BIN (the folder with etcd and kube-apiserver) is not set: run make test-cluster")
	}
	dir := t.TempDir()
	etcdPort, peerPort, apiPort := freePort(t), freePort(t), freePort(t)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	start(t, dir, filepath.Join(bin, "etcd"), "--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL, "--listen-metrics-urls", "")

	ca, caKey := certificate(t, nil, nil, pkix.Name{CommonName: "throwaway-ca"}, true)
	srv, srvKey := certificate(t, ca, caKey, pkix.Name{CommonName: "kube-apiserver"}, false)
	admin, adminKey := certificate(t, ca, caKey, pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}, false)
	_, saKey := certificate(t, nil, nil, pkix.Name{CommonName: "service-accounts"}, true)
	files := map[string][]byte{
		"ca.crt": ca.Raw, "apiserver.crt": srv.Raw, "admin.crt": admin.Raw,
	}
	for name, der := range files {
		write(t, dir, name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	for name, key := range map[string]*ecdsa.PrivateKey{"apiserver.key": srvKey, "admin.key": adminKey, "sa.key": saKey} {
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		write(t, dir, name, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	p := func(n string) string { return filepath.Join(dir, n) }
	start(t, dir, filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(apiPort), "--cert-dir", p("certs"),
		"--tls-cert-file", p("apiserver.crt"), "--tls-private-key-file", p("apiserver.key"),
		"--client-ca-file", p("ca.crt"),
		"--service-account-key-file", p("sa.pub"), "--service-account-signing-key-file", p("sa.key"),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-cluster-ip-range", "10.96.0.0/24", "--authorization-mode", "RBAC",
		// The "kubernetes" Service's endpoints cannot be a loopback address.
		"--endpoint-reconciler-type", "none")

	cfg := &rest.Config{
		Host: "https://127.0.0.1:" + strconv.Itoa(apiPort),
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: p("ca.crt"), CertFile: p("admin.crt"), KeyFile: p("admin.key"),
		},
	}
	dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		body, err := dc.RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		if err == nil && strings.TrimSpace(string(body)) == "ok" {
			return cfg
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready: %v %s (logs in %s)", err, body, dir)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func start(t *testing.T, dir, bin string, args ...string) {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, filepath.Base(bin)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log.Close()
		if t.Failed() {
			if out, err := os.ReadFile(log.Name()); err == nil {
				t.Logf("%s log (tail):\n%s", filepath.Base(bin), tail(string(out), 40))
			}
		}
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func write(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// certificate issues a certificate for 127.0.0.1 signed by parent (self
// signed when parent is nil).
func certificate(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, subject pkix.Name, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:    []string{"localhost"},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
