// Command broker runs a single-node, Kafka-protocol broker for local runs
// and tests. It keeps messages in memory (or under -data-dir); production
// uses a real Kafka cluster, which Dapr's pubsub.kafka talks to the same way.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9092, "port to listen on (127.0.0.1)")
	partitions := flag.Int("partitions", 3, "partitions of each topic")
	topics := flag.String("topics", "todo.tasks.events,todo.reminders.events,todo.tasks.events.dlq,todo.reminders.events.dlq", "topics created at start (others are created on first use)")
	dataDir := flag.String("data-dir", "", "keep the log on disk here so a restart keeps messages (default: memory only)")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("process", "broker")
	opts := []kfake.Opt{
		kfake.Ports(*port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
		kfake.ClusterID("todo-local"),
	}
	if *topics != "" {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), strings.Split(*topics, ",")...))
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "broker: %v\n", err)
		os.Exit(1)
	}
	log.Info("broker ready", "addrs", c.ListenAddrs(), "data_dir", *dataDir)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	c.Close()
	log.Info("broker stopped")
}
