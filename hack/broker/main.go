// Command broker runs a Kafka-protocol broker cluster for local runs and
// tests: one or more brokers in one process, sharing one log. It keeps
// messages in memory (or under -data-dir); production uses a real Kafka
// cluster, which Dapr's pubsub.kafka talks to the same way.
//
// With -admin-port, one broker of the cluster can be taken down and
// brought back (POST /brokers/<id>/stop, /brokers/<id>/start): its
// listener closes and every connection to it is cut, as clients see a
// killed broker, and its partitions move to the others. The log is shared,
// so nothing is lost, as with a replication factor of the cluster's size.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9092, "port of the first broker (127.0.0.1); broker i listens on port+i")
	brokers := flag.Int("brokers", 1, "brokers in the cluster")
	partitions := flag.Int("partitions", 6, "partitions of each topic: at most this many replicas of one function consume a topic at once")
	topics := flag.String("topics", "todo.tasks.events,todo.reminders.events,todo.tasks.events.dlq,todo.reminders.events.dlq", "topics created at start (others are created on first use)")
	dataDir := flag.String("data-dir", "", "keep the log on disk here so a restart keeps messages (default: memory only)")
	adminPort := flag.Int("admin-port", 0, "serve /brokers/<id>/stop and /start on this port (0: off)")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("process", "broker")
	if *partitions < 1 || *partitions > math.MaxInt32 {
		log.Error("-partitions must be at least 1 and fit in 32 bits", "partitions", *partitions)
		os.Exit(2)
	}
	ports := make([]int, *brokers)
	for i := range ports {
		ports[i] = *port + i
	}
	conns := &connTracker{byPort: map[int]map[net.Conn]bool{}}
	opts := []kfake.Opt{
		kfake.Ports(ports...),
		kfake.ListenFn(conns.listen),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
		kfake.ClusterID("todo-local"),
	}
	if *topics != "" {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), strings.Split(*topics, ",")...)) //nolint:gosec // -partitions is checked to fit above
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "broker: %v\n", err)
		os.Exit(1)
	}
	log.Info("broker ready", "addrs", c.ListenAddrs(), "partitions", *partitions, "data_dir", *dataDir)
	if *adminPort != 0 {
		a := &admin{c: c, conns: conns, ports: ports, log: log}
		srv := &http.Server{Addr: "127.0.0.1:" + strconv.Itoa(*adminPort), Handler: a.routes(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("admin endpoint stopped", "error", err)
			}
		}()
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	c.Close()
	log.Info("broker stopped")
}

// connTracker remembers every connection accepted on each broker's port,
// so that stopping a broker can cut them: kfake only closes the listener.
type connTracker struct {
	mu     sync.Mutex
	byPort map[int]map[net.Conn]bool
}

func (t *connTracker) listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return &trackedListener{Listener: ln, t: t, port: ln.Addr().(*net.TCPAddr).Port}, nil
}

// cut closes every connection accepted on port and returns how many.
func (t *connTracker) cut(port int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.byPort[port])
	for c := range t.byPort[port] {
		c.Close()
	}
	delete(t.byPort, port)
	return n
}

type trackedListener struct {
	net.Listener
	t    *connTracker
	port int
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.t.mu.Lock()
	defer l.t.mu.Unlock()
	if l.t.byPort[l.port] == nil {
		l.t.byPort[l.port] = map[net.Conn]bool{}
	}
	l.t.byPort[l.port][c] = true
	return c, nil
}

// admin takes brokers of the cluster down and brings them back. Broker id
// i listens on ports[i].
type admin struct {
	mu    sync.Mutex
	c     *kfake.Cluster
	conns *connTracker
	ports []int
	log   *slog.Logger
}

func (a *admin) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /brokers/{id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		id64, err := strconv.ParseInt(r.PathValue("id"), 10, 32)
		id := int32(id64)
		if err != nil || id < 0 || int(id) >= len(a.ports) {
			http.Error(w, "no broker "+r.PathValue("id"), http.StatusNotFound)
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		switch r.PathValue("action") {
		case "stop":
			if err := a.c.RemoveNode(id); err != nil {
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			a.log.Warn("broker stopped", "broker", id, "connections_cut", a.conns.cut(a.ports[id]))
		case "start":
			if _, _, err := a.c.AddNode(id, a.ports[id]); err != nil {
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			a.log.Info("broker started", "broker", id, "port", a.ports[id])
		default:
			http.Error(w, "action is stop or start", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
