// Package fn is the function runtime: a function declares its triggers
// (HTTP, Dapr topics, cron bindings, Dapr jobs, CloudEvents from Knative
// Eventing) with plain Go handlers, and Run serves them all on $PORT, on a
// server of its own with the Dapr go-sdk's decoding mounted on it.
package fn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/dapr/go-sdk/service/common"
	daprhttp "github.com/dapr/go-sdk/service/http"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"knative.dev/pkg/network/handlers"

	"github.com/todo-chatbot/functions/shared/runtime/events"
	"github.com/todo-chatbot/functions/shared/runtime/logging"
	"github.com/todo-chatbot/functions/shared/runtime/secret"
	"github.com/todo-chatbot/functions/shared/runtime/sidecar"
	"github.com/todo-chatbot/functions/shared/runtime/state"
)

// Function is one deployable function: its triggers, its sidecar client
// and the HTTP service that serves them.
type Function struct {
	cfg    Config
	log    *slog.Logger
	client dapr.Client
	prober *sidecar.Prober

	mux      *chi.Mux       // the runtime's routes and middleware
	api      *http.ServeMux // the function's own routes (Handle)
	server   *http.Server
	svc      common.Service // go-sdk's decoding of topic events and bindings, mounted on mux
	drainer  *handlers.Drainer
	inflight sync.WaitGroup
	dedupe   Deduper
	mappers  []ErrorMapper

	routes       []string                // patterns given to Handle
	events       []string                // paths of CloudEvents over HTTP
	jobs         map[string]JobHandler   // by name prefix
	daprTopic    map[string]Subscription // Dapr subscriptions, by route
	topicHandler map[string]EventHandler // their handlers, by route
	cronRoute    map[string]string       // cron bindings, by route
	metrics      *http.Server            // nil when METRICS_PORT is 0
	pprof        *http.Server            // nil when PPROF_PORT is 0
	errs         []error                 // registration errors, reported by Run
}

// Server timeouts. A request body is at most a few MiB and every handler
// finishes well within Knative's request timeout (30 s in the chart), so a
// connection that is slower than this is a client to let go of.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
)

// New returns the function named name, configured from the environment.
func New(name string) (*Function, error) {
	cfg, err := ConfigFromEnv(name)
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", name, err)
	}
	return NewWithConfig(cfg, logging.Default(name, cfg.LogLevel))
}

// NewWithConfig returns a function with an explicit configuration.
func NewWithConfig(cfg Config, log *slog.Logger) (*Function, error) {
	client, err := sidecar.Dial(cfg.Sidecar)
	if err != nil {
		return nil, err
	}
	f := &Function{
		cfg:          cfg,
		log:          log,
		client:       client,
		prober:       sidecar.NewProber(cfg.Sidecar),
		mux:          chi.NewRouter(),
		api:          http.NewServeMux(),
		jobs:         map[string]JobHandler{},
		daprTopic:    map[string]Subscription{},
		topicHandler: map[string]EventHandler{},
		cronRoute:    map[string]string{},
	}
	f.drainer = &handlers.Drainer{QuietPeriod: cfg.DrainQuietPeriod, HealthCheck: f.probe}
	// chi wants every middleware before the first route.
	f.mux.Use(f.drain, f.track, lingerBody, f.recover, f.trace, f.measure, f.authenticate, f.guardTopics)
	// The go-sdk only decodes here: its handlers are mounted on mux, and
	// the server is the runtime's own, with timeouts.
	f.svc = daprhttp.NewServiceWithMux("", f.mux)
	f.server = &http.Server{
		Addr:              ":" + strconv.Itoa(cfg.Port),
		Handler:           f.mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}
	f.mux.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	f.mux.Get("/readyz", f.ready)
	f.mux.Get("/dapr/subscribe", f.serveSubscriptions)
	f.mux.Post("/job/{name}", f.serveJob)
	f.mux.Handle("/*", f.api)
	return f, nil
}

// Name is the function's app-id.
func (f *Function) Name() string { return f.cfg.Name }

// Config is the function's configuration.
func (f *Function) Config() Config { return f.cfg }

// Logger is the function's structured logger.
func (f *Function) Logger() *slog.Logger { return f.log }

// Dapr is the sidecar client.
func (f *Function) Dapr() dapr.Client { return f.client }

// State returns the function's main state store (STATE_STORE_NAME).
func (f *Function) State() *state.Store { return state.New(f.client, f.cfg.StateStore) }

// DedupeState returns the store for short-lived records (DEDUPE_STORE_NAME).
func (f *Function) DedupeState() *state.Store { return state.New(f.client, f.cfg.DedupeStore) }

// Secrets returns the secret store (SECRET_STORE_NAME).
func (f *Function) Secrets() *secret.Store { return secret.NewStore(f.client, f.cfg.SecretStore) }

// Publisher publishes CloudEvents through PUBSUB_NAME, with the function
// as their source.
func (f *Function) Publisher() *events.DaprPublisher {
	return events.NewPublisher(f.client, f.cfg.PubSub, f.cfg.Name)
}

// Run serves until ctx is cancelled (SIGTERM in Knative), then stops taking
// new work, waits for what is in flight and returns.
func (f *Function) Run(ctx context.Context) error {
	if err := errors.Join(f.errs...); err != nil {
		return fmt.Errorf("%s: %w", f.cfg.Name, err)
	}
	errc := make(chan error, 3)
	go func() { errc <- f.server.ListenAndServe() }()
	if f.cfg.MetricsPort != 0 {
		f.metrics = &http.Server{Addr: ":" + strconv.Itoa(f.cfg.MetricsPort), Handler: promhttp.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- f.metrics.ListenAndServe() }()
	}
	if f.cfg.PprofPort != 0 {
		f.pprof = &http.Server{Addr: "127.0.0.1:" + strconv.Itoa(f.cfg.PprofPort), Handler: profiles(), ReadHeaderTimeout: readHeaderTimeout}
		go func() { errc <- f.pprof.ListenAndServe() }()
	}
	f.log.Info("function started", "port", f.cfg.Port, "metrics_port", f.cfg.MetricsPort, "dapr_http_port", f.cfg.Sidecar.HTTPPort, "dapr_grpc_port", f.cfg.Sidecar.GRPCPort)

	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("%s: serve: %w", f.cfg.Name, err)
	case <-ctx.Done():
	}

	// Keep serving until no request came for the quiet period (probes fail
	// meanwhile, so no new traffic is routed here), then wait for what is in
	// flight. The sidecar keeps calling (cron, deliveries), so the whole
	// shutdown is bounded by one deadline.
	deadline := time.After(f.cfg.ShutdownTimeout)
	f.log.Info("shutting down: draining", "quiet_period", f.cfg.DrainQuietPeriod, "timeout", f.cfg.ShutdownTimeout)
	if f.cfg.DrainQuietPeriod > 0 {
		drained := make(chan struct{})
		go func() { f.drainer.Drain(); close(drained) }()
		select {
		case <-drained:
		case <-deadline:
			deadline = nil
		}
	}
	idle := make(chan struct{})
	go func() { f.inflight.Wait(); close(idle) }()
	if deadline != nil {
		select {
		case <-idle:
		case <-deadline:
			f.log.Warn("shutdown timeout with requests in flight", "timeout", f.cfg.ShutdownTimeout)
		}
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := f.server.Shutdown(stopCtx)
	for _, s := range []*http.Server{f.metrics, f.pprof} {
		if s != nil {
			_ = s.Close()
		}
	}
	f.client.Close()
	f.log.Info("stopped")
	return err
}

// profiles serves net/http/pprof's handlers, without registering them on
// the default mux (which nothing else should expose).
func profiles() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func (f *Function) ready(w http.ResponseWriter, r *http.Request) {
	if err := f.prober.Probe(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// probe answers kubelet and Knative probes, which the drainer routes here
// whatever their path: readiness needs the sidecar, liveness only the process.
func (f *Function) probe(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/readyz" {
		f.ready(w, r)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (f *Function) drain(next http.Handler) http.Handler {
	f.drainer.Inner = next
	return f.drainer
}

func (f *Function) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.inflight.Add(1)
		defer f.inflight.Done()
		next.ServeHTTP(w, r)
	})
}

// lingerBytes bounds how much of a body a handler refused (413, 401, ...)
// is read and discarded before the answer goes out.
const lingerBytes = 8 << 20

// lingerBody reads what a handler left of the request body, up to
// lingerBytes, before the answer is sent, as servers with a lingering close
// do. A client that writes its whole body before it reads (most HTTP
// libraries without Expect: 100-continue) would otherwise have the
// connection reset under it and never see the answer. A larger body is not
// read: the server closes the connection. A client that asked for 100
// Continue and was answered without it sends no body to read.
func lingerBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := r.Body
		next.ServeHTTP(w, r)
		if body == nil || r.ContentLength > lingerBytes || strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
			return
		}
		_, _ = io.CopyN(io.Discard, body, lingerBytes)
	})
}

// authenticate checks APP_API_TOKEN, which daprd sends on every call it
// makes to the app. Probes carry no token. Knative Eventing deliveries
// (/events/) cannot carry one either; they reach the function only from
// inside the cluster (cluster-local visibility).
func (f *Function) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.cfg.AppToken.IsZero() || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || strings.HasPrefix(r.URL.Path, "/events/") {
			next.ServeHTTP(w, r)
			return
		}
		if !f.cfg.AppToken.Equal(r.Header.Get("dapr-api-token")) {
			f.log.WarnContext(r.Context(), "request refused: missing or wrong app token", "method", r.Method, "path", r.URL.Path)
			writeProblem(w, http.StatusUnauthorized, "a valid dapr-api-token header is required")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (f *Function) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // a recovered panic value, compared as net/http documents
					panic(v)
				}
				f.log.ErrorContext(r.Context(), "handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeProblem(w, http.StatusInternalServerError, "the request could not be completed")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
