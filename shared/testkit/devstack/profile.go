package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Profile is a set of Dapr components that the same function binaries run
// on: bindings/local, with the files of bindings/profiles/<name> in place
// of the same-named ones. Only YAML differs between profiles; the stack
// provides what each one's components read through LOCAL_* variables.
type Profile string

const (
	// Local is bindings/local as it is: the in-memory Kafka-protocol
	// broker and SQLite.
	Local Profile = "local"
	// KafkaPostgres is production's shape: Kafka protocol, tasks on
	// PostgreSQL (v2), short-lived records on Redis.
	KafkaPostgres Profile = "kafka-postgres"
	// RabbitMQMySQL is RabbitMQ, tasks on MySQL (MariaDB here), short-lived
	// records on Redis.
	RabbitMQMySQL Profile = "rabbitmq-mysql"
	// JetStreamSQLite is NATS JetStream with SQLite for both stores.
	JetStreamSQLite Profile = "jetstream-sqlite"
)

// Profiles lists every profile, in the order the end-to-end suite runs
// them.
var Profiles = []Profile{Local, KafkaPostgres, RabbitMQMySQL, JetStreamSQLite}

// ParseProfile returns the profile named name ("" is Local).
func ParseProfile(name string) (Profile, error) {
	if name == "" {
		return Local, nil
	}
	if p := Profile(name); slices.Contains(Profiles, p) {
		return p, nil
	}
	return "", fmt.Errorf("unknown profile %q (want one of %v)", name, Profiles)
}

// Where the profiles expect the machine's services: their default ports,
// here and in CI.
const (
	RabbitMQAddr = "127.0.0.1:5672"
	MySQLAddr    = "127.0.0.1:3306"
)

// Kafka reports whether the profile's pub/sub is the stack's own
// Kafka-protocol broker.
func (p Profile) Kafka() bool { return p == Local || p == KafkaPostgres }

// Need lists what the profile needs from the machine, each with the reason
// it is not available right now; empty when everything is there.
func (p Profile) Need() []string {
	var missing []string
	tcp := func(service, addr string) {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s not reachable at %s (%v)", service, addr, err))
			return
		}
		conn.Close()
	}
	program := func(name string) {
		if _, err := exec.LookPath(name); err != nil {
			missing = append(missing, fmt.Sprintf("%s not installed (%v)", name, err))
		}
	}
	switch p {
	case KafkaPostgres:
		tcp("PostgreSQL", PostgresAddr)
		tcp("Redis", RedisAddr)
	case RabbitMQMySQL:
		tcp("RabbitMQ", RabbitMQAddr)
		program("rabbitmqctl") // makes each run's virtual host
		tcp("MySQL", MySQLAddr)
		program("mysql") // creates the run's table
		tcp("Redis", RedisAddr)
	case JetStreamSQLite:
		program("nats-server") // each stack runs its own
	}
	return missing
}

// RequireProfile skips the test when the profile needs something the
// machine does not have, unless REQUIRE_SERVICES=1, where it fails.
func RequireProfile(t TB, p Profile) {
	t.Helper()
	SkipShort(t, "profile "+string(p)+"'s services")
	if missing := p.Need(); len(missing) > 0 {
		Unavailable(t, "profile "+string(p)+": "+strings.Join(missing, "; "))
	}
}

// WriteResources writes the profile's Dapr resources into dir: every YAML
// file of bindings/local, then the profile's own over the same names.
func (p Profile) WriteResources(root, dir string) error {
	from := []string{filepath.Join(root, "bindings", "local")}
	if p != Local {
		from = append(from, p.dir(root))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, src := range from {
		files, err := filepath.Glob(filepath.Join(src, "*.yaml"))
		if err != nil {
			return err
		}
		if len(files) == 0 {
			return fmt.Errorf("profile %s: no components in %s", p, src)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p Profile) dir(root string) string {
	return filepath.Join(root, "bindings", "profiles", string(p))
}

// Service is one more process of a stack's infrastructure (a NATS server),
// started with the broker and the scheduler, before any sidecar.
type Service struct {
	Name   string
	Args   []string // the binary first
	Health string   // tcp://host:port, or a URL answering 2xx when ready
	// Ready, when set, runs once the process is healthy and before any
	// sidecar starts: what the components expect to exist (a stream).
	Ready func(ctx context.Context) error
}

// ProfileRun is one stack's run of a profile, made ready.
type ProfileRun struct {
	Profile Profile
	// Env holds the LOCAL_* values the profile's components read.
	Env []string
	// Services are the processes the stack starts for the profile.
	Services []Service
	// RabbitMQURL and NATSURL locate the run's broker when the profile
	// uses one of them.
	RabbitMQURL, NATSURL string
	vhost                string
}

// Prepare readies a run of the profile for a stack whose data lives under
// dir. name (letters and digits) keeps what the run makes outside dir
// (tables, a RabbitMQ virtual host) apart from every other stack's; a
// second Prepare with the same name reuses them. natsPort is where the
// jetstream profile's own NATS server listens (0: a free port).
func (p Profile) Prepare(ctx context.Context, root, dir, name string, natsPort int) (*ProfileRun, error) {
	r := &ProfileRun{Profile: p}
	switch p {
	case KafkaPostgres:
		r.Env = []string{
			"LOCAL_PG_CONNECTION=host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable",
			"LOCAL_PG_TABLE_PREFIX=" + name + "_",
			"LOCAL_PG_METADATA_TABLE=" + name + "_metadata",
			"LOCAL_REDIS_HOST=" + RedisAddr,
		}
	case RabbitMQMySQL:
		r.vhost = "todo-" + name
		if err := rabbitmqctl(ctx, "add_vhost", r.vhost); err != nil && !strings.Contains(err.Error(), "already exists") {
			return nil, err
		}
		if err := rabbitmqctl(ctx, "set_permissions", "-p", r.vhost, "guest", ".*", ".*", ".*"); err != nil {
			return nil, err
		}
		if err := createTable(ctx, filepath.Join(p.dir(root), "tasks.sql"), name+"_tasks"); err != nil {
			return nil, err
		}
		r.RabbitMQURL = "amqp://guest:guest@" + RabbitMQAddr + "/" + r.vhost
		r.Env = []string{
			"LOCAL_RABBITMQ_URL=" + r.RabbitMQURL,
			"LOCAL_MYSQL_CONNECTION=root:@tcp(" + MySQLAddr + ")/?allowNativePasswords=true",
			"LOCAL_MYSQL_TABLE=" + name + "_tasks",
			"LOCAL_REDIS_HOST=" + RedisAddr,
		}
	case JetStreamSQLite:
		bin, err := exec.LookPath("nats-server")
		if err != nil {
			return nil, err
		}
		if natsPort == 0 {
			if natsPort, err = freeAt(0); err != nil {
				return nil, err
			}
		}
		addr := "127.0.0.1:" + strconv.Itoa(natsPort)
		r.NATSURL = "nats://" + addr
		r.Env = []string{"LOCAL_NATS_URL=" + r.NATSURL}
		stream := filepath.Join(p.dir(root), "stream.json")
		r.Services = []Service{{
			Name:   "nats",
			Args:   []string{bin, "-a", "127.0.0.1", "-p", strconv.Itoa(natsPort), "-js", "-sd", filepath.Join(dir, "nats")},
			Health: "tcp://" + addr,
			Ready:  func(ctx context.Context) error { return createStream(ctx, r.NATSURL, stream) },
		}}
	}
	return r, nil
}

// Close removes what the run made outside its folder and keeps nothing of
// (the RabbitMQ virtual host, with its queues). Tables stay, as SQLite
// files stay in the run folder.
func (r *ProfileRun) Close() error {
	if r.vhost == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return rabbitmqctl(ctx, "delete_vhost", r.vhost)
}

// createTable runs the SQL in file, with ${TABLE} set to table, through
// the mysql client.
func createTable(ctx context.Context, file, table string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(MySQLAddr)
	cmd := exec.CommandContext(ctx, "mysql", "-uroot", "-h"+host, "-P"+port)
	cmd.Stdin = strings.NewReader(os.Expand(string(b), func(k string) string {
		if k == "TABLE" {
			return table
		}
		return "${" + k + "}"
	}))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", file, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func rabbitmqctl(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "rabbitmqctl", append([]string{"-q"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// createStream creates (or brings up to date) the JetStream stream that
// file defines, in the NATS CLI's stream configuration format.
func createStream(ctx context.Context, url, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var cfg nats.StreamConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return err
	}
	// The server accepts connections a moment before JetStream answers.
	for {
		_, err = js.AddStream(&cfg, nats.Context(ctx))
		if errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
			_, err = js.UpdateStream(&cfg, nats.Context(ctx))
		}
		if err == nil || !errors.Is(err, nats.ErrJetStreamNotEnabled) && !errors.Is(err, nats.ErrTimeout) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("stream %s from %s: %w", cfg.Name, file, err)
	}
	return nil
}

func servicesReady(ctx context.Context, svcs []Service) error {
	for _, svc := range svcs {
		if svc.Ready == nil {
			continue
		}
		if err := svc.Ready(ctx); err != nil {
			return fmt.Errorf("%s: %w", svc.Name, err)
		}
	}
	return nil
}
