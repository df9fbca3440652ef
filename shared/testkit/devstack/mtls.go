package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// The trust domain and namespace of a local stack's identities: a sidecar's
// SPIFFE id is spiffe://localhost/ns/default/<app-id>, which is what an
// access-control policy of a local Configuration names.
const (
	trustDomain = "localhost"
	namespace   = "default"
)

// sentryConfig turns mTLS on for the whole stack, as the dapr-system
// Configuration does in a cluster.
const sentryConfig = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: daprsystem}
spec:
  mtls: {enabled: true, workloadCertTTL: 24h, allowedClockSkew: 15m}
`

func (s *Stack) sentryDir() string { return filepath.Join(s.opts.Dir, "sentry") }

// SentryAddr is the certificate authority's host:port, empty without mTLS.
func (s *Stack) SentryAddr() string {
	if s.opts.SentryPort == 0 {
		return ""
	}
	return "127.0.0.1:" + strconv.Itoa(s.opts.SentryPort)
}

func (s *Stack) sentryProc() *proc {
	p := s.opts.SentryPort
	return &proc{
		name: "sentry",
		args: []string{
			filepath.Join(s.opts.BinDir, "sentry"),
			"--config", filepath.Join(s.sentryDir(), "config.yaml"),
			"--issuer-credentials", filepath.Join(s.sentryDir(), "credentials"),
			"--trust-domain", trustDomain,
			"--port", strconv.Itoa(p), "--listen-address", "127.0.0.1",
			"--healthz-port", strconv.Itoa(p + 1), "--healthz-listen-address", "127.0.0.1",
			"--enable-metrics=false", "--log-as-json",
		},
		health: "http://127.0.0.1:" + strconv.Itoa(p+1) + "/healthz",
	}
}

// bootstrapCA has sentry write a self-signed root and issuer the first
// time a run folder is used, and stops it: sentry reloads when its
// credentials change under it, so the stack's own sentry starts on files
// that are already there. It returns the root certificate (PEM), which
// every sidecar trusts.
func (s *Stack) bootstrapCA(ctx context.Context) ([]byte, error) {
	creds := filepath.Join(s.sentryDir(), "credentials")
	if err := os.MkdirAll(creds, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(s.sentryDir(), "config.yaml"), []byte(sentryConfig), 0o644); err != nil {
		return nil, err
	}
	written := func() bool {
		for _, f := range []string{"ca.crt", "issuer.crt", "issuer.key"} {
			if st, err := os.Stat(filepath.Join(creds, f)); err != nil || st.Size() == 0 {
				return false
			}
		}
		return true
	}
	if !written() {
		if err := s.start("sentry"); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(30 * time.Second)
		for !written() {
			if time.Now().After(deadline) || ctx.Err() != nil {
				_ = s.Kill("sentry")
				return nil, fmt.Errorf("sentry wrote no CA in %s; see %s:\n%s", creds, s.procs["sentry"].logPath, Tail(s.procs["sentry"].logPath, 15))
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Files are written one after another: let the last one finish.
		time.Sleep(200 * time.Millisecond)
		if err := s.Kill("sentry"); err != nil {
			return nil, err
		}
	}
	return os.ReadFile(filepath.Join(creds, "ca.crt"))
}

// mtlsEnv is what a sidecar needs to fetch its identity: the root it
// trusts and its namespace.
func mtlsEnv(anchors []byte) []string {
	return []string{"DAPR_TRUST_ANCHORS=" + string(anchors), "NAMESPACE=" + namespace}
}

// withNameResolution returns a Configuration file for the stack's
// sidecars: the given one (or an empty one) with the stack's own name
// resolution added when it sets none (see NameResolution).
func withNameResolution(dir, path string) (string, error) {
	cfg := map[string]any{
		"apiVersion": "dapr.io/v1alpha1",
		"kind":       "Configuration",
		"metadata":   map[string]any{"name": "devstack"},
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("dapr configuration: %w", err)
		}
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			return "", fmt.Errorf("dapr configuration %s: %w", path, err)
		}
	}
	spec, _ := cfg["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		cfg["spec"] = spec
	}
	if _, set := spec["nameResolution"]; set {
		return path, nil
	}
	spec["nameResolution"] = NameResolution(dir)
	out := filepath.Join(dir, "dapr-config.yaml")
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	return out, os.WriteFile(out, b, 0o644)
}
