// Command stack is `make run`: it starts the broker, the Dapr scheduler and
// every function with its own daprd sidecar on documented ports, plus a
// local stand-in for the chat webhook that notifications are delivered to,
// on one profile's components (bindings/local by default). Each function
// may run as several replicas, the scheduler as a cluster and the broker as
// several brokers, as in Kubernetes. It prints what runs where, writes
// .run/stack.json, and stops everything on Ctrl-C or SIGTERM.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

const (
	brokerPort    = 9092
	schedulerPort = 7006 // and 7007-7010 for its health, metrics and etcd
	sentryPort    = 7011 // and 7012 for its health (with -mtls)
	webhookPort   = 8099
	natsPort      = 4223 // the jetstream profile's own NATS server, beside a machine's on 4222
)

// schedulerPeerPorts are the base ports of the second and third scheduler
// nodes (five each), around the sentry's.
var schedulerPeerPorts = []int{7013, 7018}

func main() {
	dir := flag.String("dir", ".run", "run folder: logs, data, stack.json")
	bin := flag.String("bin", "bin", "folder with daprd, scheduler, broker and the function binaries")
	profile := flag.String("profile", string(devstack.Local), fmt.Sprintf("components to run on: one of %v", devstack.Profiles))
	sweep := flag.String("sweep", "@every 30s", "schedule of the reminder-sweep cron binding")
	notify := flag.String("notify", "", "URL send-notification delivers to, instead of the stand-in chat webhook (e.g. examples/fastapi's /notify)")
	mtls := flag.Bool("mtls", false, "run the Dapr sentry and mTLS between every sidecar, as in a cluster")
	config := flag.String("config", "", "Dapr Configuration file for every sidecar (e.g. access control, with -mtls)")
	var sc scale
	flag.StringVar(&sc.replicas, "replicas", "1", `replicas of every function ("2"), or of some ("fire-reminder=3,send-notification=2")`)
	flag.IntVar(&sc.schedulers, "schedulers", 1, "scheduler nodes: 1, or 3 for a cluster (each embeds an etcd member)")
	flag.IntVar(&sc.brokers, "brokers", 1, "brokers in the local Kafka cluster (on 9092 and up)")
	flag.IntVar(&sc.partitions, "partitions", 0, "partitions of each topic (0: the broker's default)")
	flag.Parse()
	if err := run(*dir, *bin, *profile, *sweep, *notify, *config, *mtls, sc); err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

// scale is how many of each thing run.
type scale struct {
	replicas                        string
	schedulers, brokers, partitions int
}

func run(dir, bin, profileName, sweep, notify, config string, mtls bool, sc scale) error {
	replicas, err := devstack.ParseReplicas(sc.replicas, devstack.Functions)
	if err != nil {
		return err
	}
	if sc.schedulers != 1 && sc.schedulers != 3 {
		return fmt.Errorf("schedulers %d: run 1, or 3 for a cluster that outlives one node", sc.schedulers)
	}
	profile, err := devstack.ParseProfile(profileName)
	if err != nil {
		return err
	}
	if missing := profile.Need(); len(missing) > 0 {
		return fmt.Errorf("profile %s: %s", profile, strings.Join(missing, "; "))
	}
	root, err := devstack.RepoRoot()
	if err != nil {
		return err
	}
	dir, _ = filepath.Abs(dir)
	bin, _ = filepath.Abs(bin)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return err
	}
	// Written afresh each time: the components of the profile asked for.
	resources := filepath.Join(dir, "resources")
	if err := os.RemoveAll(resources); err != nil {
		return err
	}
	if err := profile.WriteResources(root, resources); err != nil {
		return err
	}
	if err := ensureSecrets(filepath.Join(root, "bindings", "local", "secrets.example.json"), filepath.Join(dir, "secrets.json")); err != nil {
		return err
	}
	webhook := fmt.Sprintf("http://127.0.0.1:%d/notify", webhookPort)
	if notify == "" {
		token, err := webhookToken(filepath.Join(dir, "secrets.json"))
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", webhookPort))
		if err != nil {
			return fmt.Errorf("%w: %d (local chat webhook): %w", devstack.ErrPortInUse, webhookPort, err)
		}
		hook, err := startWebhook(ln, filepath.Join(dir, "logs", "webhook.log"), token)
		if err != nil {
			return err
		}
		defer func() { _ = hook.Close() }()
	}

	// Ports by the function's place in the list (devstack's RunPorts).
	var fns []devstack.Function
	for i, name := range devstack.Functions {
		for _, f := range devstack.Replicate(devstack.Function{Name: name, Binary: filepath.Join(bin, name), Env: append([]string{"LOG_LEVEL=info"}, devstack.DeployedEnv(name)...)}, replicas[name]) {
			f.RunPorts(i)
			fns = append(fns, f)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// One run of the profile per folder: its tables and virtual host are
	// named "run", and stay, as the SQLite files do.
	prof, err := profile.Prepare(ctx, root, dir, "run", natsPort)
	if err != nil {
		return err
	}
	fmt.Println("starting broker, scheduler and", len(fns), "function replicas with their sidecars on profile", profile, "(logs in", filepath.Join(dir, "logs")+")")
	o := devstack.Options{
		Dir:          dir,
		BinDir:       bin,
		ResourcesDir: resources,
		ConfigFile:   config,
		BrokerPort:   brokerPort,
		Brokers:      sc.brokers,
		Partitions:   sc.partitions,
		SchedPort:    schedulerPort,
		Functions:    fns,
		ReadyTimeout: 3 * time.Minute,
		Services:     prof.Services,
	}
	if sc.schedulers == 3 {
		o.SchedPeerPorts = schedulerPeerPorts
	}
	o.Env = append(devstack.LocalEnv(dir, strings.Join(o.BrokerAddrs(), ","), cmp.Or(notify, webhook), sweep), prof.Env...)
	if mtls {
		o.SentryPort = sentryPort
	}
	s, err := devstack.Start(ctx, o)
	if err != nil {
		return err
	}
	defer s.Stop()
	if err := s.WriteManifest(filepath.Join(dir, "stack.json")); err != nil {
		return err
	}
	fmt.Print("\n" + s.Table())
	if notify == "" {
		fmt.Printf("%-20s %s (deliveries logged to %s)\n", "chat webhook", webhook, filepath.Join(dir, "logs", "webhook.log"))
	} else {
		fmt.Printf("%-20s %s\n", "chat webhook", notify)
	}
	fmt.Printf("%-20s %s (components in %s)\n\n", "profile", profile, resources)
	fmt.Println("ready: every sidecar is healthy. Ctrl-C stops everything.")
	<-ctx.Done()
	fmt.Println("\nstopping...")
	return nil
}

// ensureSecrets creates the local secret file from the committed example
// the first time, and never overwrites one a developer edited.
func ensureSecrets(example, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	b, err := os.ReadFile(example)
	if err != nil {
		return fmt.Errorf("secrets example: %w", err)
	}
	return os.WriteFile(path, b, 0o600)
}

func webhookToken(path string) (string, error) {
	var s map[string]map[string]string
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return s["notify-webhook"]["token"], nil
}

// startWebhook serves the stand-in chat webhook: it checks the bearer token
// send-notification read from the secret store, and logs each delivery
// (never the token).
func startWebhook(ln net.Listener, logPath, token string) (*http.Server, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(f, nil)).With("process", "chat-webhook")
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			log.Warn("delivery refused: bad or missing bearer token", "path", r.URL.Path)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var v any
		if json.Unmarshal(body, &v) != nil {
			v = string(body)
		}
		log.Info("notification delivered", "notification", v)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("webhook stopped", "error", err)
		}
	}()
	return srv, nil
}
