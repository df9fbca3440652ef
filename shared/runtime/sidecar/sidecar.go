// Package sidecar connects a function to its Dapr sidecar: a go-sdk client
// that never blocks start-up, carries DAPR_API_TOKEN and the caller's trace,
// and a health probe for readiness.
package sidecar

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path"
	"strconv"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/todo-chatbot/functions/shared/runtime/logging"
	"github.com/todo-chatbot/functions/shared/runtime/metrics"
	"github.com/todo-chatbot/functions/shared/runtime/secret"
)

// Config says where the sidecar listens, from the variables the Dapr
// injector and CLI set. Defaults are Dapr's.
type Config struct {
	Host     string       `env:"DAPR_HOST,default=127.0.0.1"`
	HTTPPort int          `env:"DAPR_HTTP_PORT,default=3500"`
	GRPCPort int          `env:"DAPR_GRPC_PORT,default=50001"`
	APIToken secret.Value `env:"DAPR_API_TOKEN"` // sent on every call when set
}

// Validate checks the ports.
func (c Config) Validate() error {
	for env, p := range map[string]int{"DAPR_HTTP_PORT": c.HTTPPort, "DAPR_GRPC_PORT": c.GRPCPort} {
		if p <= 0 || p > 65535 {
			return fmt.Errorf("%s=%d: not a port number", env, p)
		}
	}
	return nil
}

// HTTPAddr is the sidecar's HTTP API base URL.
func (c Config) HTTPAddr() string {
	return "http://" + net.JoinHostPort(c.Host, strconv.Itoa(c.HTTPPort))
}

// Dial returns a Dapr client. Unlike the go-sdk's own constructors it does
// not wait for the sidecar: in Knative the app and its sidecar start
// together, and readiness, not start-up, is where an absent sidecar shows.
func Dial(c Config) (dapr.Client, error) {
	target := net.JoinHostPort(c.Host, strconv.Itoa(c.GRPCPort))
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			metrics.SidecarCalls.WithLabelValues(path.Base(method)).Inc()
			return invoker(outgoing(ctx, c.APIToken), method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			metrics.SidecarCalls.WithLabelValues(path.Base(method)).Inc()
			return streamer(outgoing(ctx, c.APIToken), desc, cc, method, opts...)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("dapr client for %s: %w", target, err)
	}
	return dapr.NewClientWithConnection(conn), nil
}

func outgoing(ctx context.Context, token secret.Value) context.Context {
	var kv []string
	if !token.IsZero() {
		kv = append(kv, "dapr-api-token", token.Reveal())
	}
	for k, v := range logging.TraceContext(ctx) {
		kv = append(kv, k, v)
	}
	if len(kv) == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// Prober reports whether the sidecar is up with its components loaded.
type Prober struct {
	URL    string // .../v1.0/healthz/outbound
	Token  secret.Value
	Client *http.Client
}

// NewProber probes the sidecar of c.
func NewProber(c Config) *Prober {
	return &Prober{
		// The outbound probe does not wait for the app itself to be ready,
		// which would deadlock an app whose readiness waits on the sidecar.
		URL:    c.HTTPAddr() + "/v1.0/healthz/outbound",
		Token:  c.APIToken,
		Client: &http.Client{Timeout: 2 * time.Second},
	}
}

// Probe returns nil when the sidecar answers healthy.
func (p *Prober) Probe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return err
	}
	if !p.Token.IsZero() {
		req.Header.Set("dapr-api-token", p.Token.Reveal())
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return fmt.Errorf("dapr sidecar not reachable: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("dapr sidecar not healthy: %s", resp.Status)
	}
	return nil
}
