//go:build cluster

package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// adminUser is who the test acts as on the API server (a system:masters
// client certificate).
const adminUser = "admin"

// controlPlane is etcd, kube-apiserver and kube-controller-manager, on
// loopback, with a throwaway CA.
type controlPlane struct {
	bin        string // where make test-cluster built the binaries
	dir        string // certificates, kubeconfig, data and logs
	cfg        *rest.Config
	kubeconfig string // the same, as a file, for the other processes
}

// kubeControllers are the controllers a Deployment needs to become Pod
// objects: the Deployment and ReplicaSet controllers, and the service
// account controller, which creates each namespace's "default" service
// account that the API server requires before it admits a pod.
// Nothing schedules or runs the pods: there is no scheduler, kubelet or
// container runtime, so they stay Pending.
var kubeControllers = []string{"deployment-controller", "replicaset-controller", "serviceaccount-controller"}

// startControlPlane starts etcd and kube-apiserver and waits until the API
// server is ready, then starts kube-controller-manager.
func startControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	bin := os.Getenv("CLUSTER_BIN")
	if bin == "" {
		t.Fatal("CLUSTER_BIN (the folder with etcd, kube-apiserver and the rest) is not set: run make test-cluster")
	}
	cp := &controlPlane{bin: bin, dir: t.TempDir()}
	dir := cp.dir
	etcdPort, peerPort, apiPort := freePort(t), freePort(t), freePort(t)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	cp.start(t, "etcd", nil, "--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL, "--listen-metrics-urls", "")

	ca, caKey := certificate(t, nil, nil, pkix.Name{CommonName: "throwaway-ca"}, true)
	srv, srvKey := certificate(t, ca, caKey, pkix.Name{CommonName: "kube-apiserver"}, false)
	admin, adminKey := certificate(t, ca, caKey, pkix.Name{CommonName: adminUser, Organization: []string{"system:masters"}}, false)
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
	cp.start(t, "kube-apiserver", nil,
		"--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(apiPort), "--cert-dir", p("certs"),
		"--tls-cert-file", p("apiserver.crt"), "--tls-private-key-file", p("apiserver.key"),
		"--client-ca-file", p("ca.crt"),
		"--service-account-key-file", p("sa.pub"), "--service-account-signing-key-file", p("sa.key"),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-cluster-ip-range", "10.96.0.0/24", "--authorization-mode", "RBAC",
		// The "kubernetes" Service's endpoints cannot be a loopback address.
		"--endpoint-reconciler-type", "none")

	cp.cfg = &rest.Config{
		Host: "https://127.0.0.1:" + strconv.Itoa(apiPort),
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: p("ca.crt"), CertFile: p("admin.crt"), KeyFile: p("admin.key"),
		},
	}
	cp.kubeconfig = p("kubeconfig")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["throwaway"] = &clientcmdapi.Cluster{Server: cp.cfg.Host, CertificateAuthority: p("ca.crt")}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificate: p("admin.crt"), ClientKey: p("admin.key")}
	kc.Contexts["throwaway"] = &clientcmdapi.Context{Cluster: "throwaway", AuthInfo: "admin"}
	kc.CurrentContext = "throwaway"
	if err := clientcmd.WriteToFile(*kc, cp.kubeconfig); err != nil {
		t.Fatal(err)
	}

	dc := discovery.NewDiscoveryClientForConfigOrDie(cp.cfg)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		body, err := dc.RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		if err == nil && strings.TrimSpace(string(body)) == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready: %v %s (logs in %s)", err, body, dir)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// Each controller acts as its own service account, as in a cluster:
	// Dapr's injector patches only pods that the workload controllers'
	// accounts create.
	cp.start(t, "kube-controller-manager", nil,
		"--kubeconfig", cp.kubeconfig, "--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(freePort(t)), "--cert-dir", p("kcm-certs"),
		"--leader-elect=false", "--use-service-account-credentials",
		"--controllers", strings.Join(kubeControllers, ","), "--root-ca-file", p("ca.crt"))
	return cp
}

// start runs bin/name with args (and env added to the test's), logging to
// the control plane's folder; the process is killed when the test ends,
// and the tail of its log printed if the test failed.
func (cp *controlPlane) start(t *testing.T, name string, env []string, args ...string) *process {
	t.Helper()
	log, err := os.CreateTemp(cp.dir, name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(cp.bin, name), args...)
	cmd.Stdout, cmd.Stderr = log, log
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		log.Close()
		if t.Failed() {
			if out, err := os.ReadFile(log.Name()); err == nil {
				t.Logf("%s log (tail):\n%s", name, tail(string(out), 40))
			}
		}
	})
	return p
}

// process is a binary of the control plane, started by start.
type process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
}

func (p *process) stop() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// waitHealthy waits until url, p's health endpoint, answers 200.
func waitHealthy(ctx context.Context, t *testing.T, p *process, url string) {
	t.Helper()
	p.waitFor(ctx, t, "healthy at "+url, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

// waitFor polls ready until it returns nil; the test fails if p exits or
// ctx ends first, with ready's last error.
func (p *process) waitFor(ctx context.Context, t *testing.T, what string, ready func() error) {
	t.Helper()
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited: %v", p.name, p.cmd.ProcessState)
		case <-ctx.Done():
			t.Fatalf("%s never %s: %v", p.name, what, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
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
