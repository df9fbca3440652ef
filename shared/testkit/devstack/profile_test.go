package devstack

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

type component struct {
	Kind     string
	Metadata struct{ Name string }
	Spec     struct {
		Type     string
		Metadata []struct {
			EnvRef string `yaml:"envRef"`
		}
	}
	Scopes []string
}

func readComponents(t *testing.T, dir string) map[string]component {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	out := map[string]component{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var c component
		require.NoError(t, yaml.Unmarshal(b, &c), f)
		out[filepath.Base(f)] = c
	}
	return out
}

// A profile swaps components, never adds or removes one, and keeps who may
// use each: only the type and its connection differ.
func TestProfilesSwapComponentsOnly(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	local := readComponents(t, filepath.Join(root, "bindings", "local"))
	for _, p := range Profiles[1:] {
		t.Run(string(p), func(t *testing.T) {
			own := readComponents(t, p.dir(root))
			require.NotEmpty(t, own)
			for file, c := range own {
				base, ok := local[file]
				require.True(t, ok, "%s replaces no file of bindings/local", file)
				assert.Equal(t, base.Metadata.Name, c.Metadata.Name, file)
				assert.Equal(t, base.Scopes, c.Scopes, "%s keeps the scopes of bindings/local/%s", file, file)
				assert.NotEqual(t, base.Spec.Type, c.Spec.Type, "%s changes nothing", file)
			}

			dir := t.TempDir()
			require.NoError(t, p.WriteResources(root, dir))
			got := readComponents(t, dir)
			require.Len(t, got, len(local))
			for file := range local {
				want := local[file]
				if c, ok := own[file]; ok {
					want = c
				}
				assert.Equal(t, want.Spec.Type, got[file].Spec.Type, file)
			}
		})
	}
}

func TestParseProfile(t *testing.T) {
	for _, p := range Profiles {
		got, err := ParseProfile(string(p))
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	got, err := ParseProfile("")
	require.NoError(t, err)
	assert.Equal(t, Local, got)
	_, err = ParseProfile("kafka-mongo")
	assert.ErrorContains(t, err, "unknown profile")
}

// The stream the jetstream profile creates holds every topic and its
// dead-letter topic.
func TestJetStreamStreamCoversEveryTopic(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(JetStreamSQLite.dir(root), "stream.json"))
	require.NoError(t, err)
	var cfg nats.StreamConfig
	require.NoError(t, json.Unmarshal(b, &cfg))
	require.Equal(t, []string{"todo.>"}, cfg.Subjects)
	for _, topic := range []string{task.Topic, reminder.Topic, task.Topic + ".dlq", reminder.Topic + ".dlq"} {
		assert.True(t, strings.HasPrefix(topic, "todo."), "%s is not in the stream", topic)
	}
	assert.Equal(t, nats.FileStorage, cfg.Storage, "events survive a restart of the server")
	assert.Positive(t, cfg.Duplicates, "a republished event id is dropped within the window")
}

// The jetstream profile's own server gets the stream before anything
// else runs, and the topic watcher reads what was published on it.
func TestJetStreamRunCreatesTheStream(t *testing.T) {
	RequireProfile(t, JetStreamSQLite)
	root, err := RepoRoot()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	run, err := JetStreamSQLite.Prepare(ctx, root, dir, "t"+randomHex(4), 0)
	require.NoError(t, err)
	require.Len(t, run.Services, 1)
	svc := run.Services[0]
	cmd := exec.Command(svc.Args[0], svc.Args[1:]...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool { return healthy(t.Context(), nil, svc.Health) }, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, svc.Ready(ctx))
	require.NoError(t, svc.Ready(ctx), "a second start finds the stream and keeps it")

	nc, err := nats.Connect(run.NATSURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	_, err = js.Publish(task.Topic, []byte(`{"id":"1"}`), nats.MsgId("1"))
	require.NoError(t, err)
	_, err = js.Publish(task.Topic, []byte(`{"id":"1"}`), nats.MsgId("1"))
	require.NoError(t, err, "a duplicate publish is answered, and dropped")
	log := watchJetStream(t, run.NATSURL, task.Topic)
	require.Eventually(t, func() bool { return len(log.Records()) == 1 }, 10*time.Second, 50*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	assert.Len(t, log.Records(), 1, "the stream dropped the repeated message id")
}

// Each rabbitmq run has a virtual host of its own, gone when it closes;
// the watcher sees what is published on a topic's exchange.
func TestRabbitMQRunHasItsOwnVirtualHost(t *testing.T) {
	RequireProfile(t, RabbitMQMySQL)
	root, err := RepoRoot()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := RabbitMQMySQL.Prepare(ctx, root, t.TempDir(), "t"+randomHex(4), 0)
	require.NoError(t, err)
	assert.Contains(t, run.Env, "LOCAL_RABBITMQ_URL="+run.RabbitMQURL)

	conn, err := amqp.Dial(run.RabbitMQURL)
	require.NoError(t, err)
	ch, err := conn.Channel()
	require.NoError(t, err)
	// As the component declares it (bindings/profiles/rabbitmq-mysql).
	require.NoError(t, ch.ExchangeDeclare(task.Topic, amqp.ExchangeFanout, true, false, false, false, nil))
	log := watchRabbitMQ(t, run.RabbitMQURL, task.Topic)
	require.NoError(t, ch.PublishWithContext(ctx, task.Topic, "", false, false, amqp.Publishing{Body: []byte(`{"id":"1"}`)}))
	require.Eventually(t, func() bool { return len(log.Records()) == 1 }, 10*time.Second, 50*time.Millisecond)
	require.NoError(t, conn.Close())

	require.NoError(t, run.Close())
	_, err = amqp.Dial(run.RabbitMQURL)
	assert.Error(t, err, "the virtual host is gone")
}
