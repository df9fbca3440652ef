package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/todo-chatbot/functions/hack/bench/load"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
)

// stateValue is about the size of a stored task.
var stateValue = []byte(`{"id":"01JBENCH0000000000000000000","user_id":"bench-u0001","title":"Pay the electricity bill",` +
	`"description":"before the end of the month","priority":"high","tags":["home","money"],` +
	`"due_at":"2026-01-31T10:00:00Z","remind_at":"2026-01-31T09:00:00Z","completed":false,` +
	`"created_at":"2026-01-01T10:00:00Z","updated_at":"2026-01-01T10:00:00Z"}`)

const stateKeys = 1000 // keys each operation cycles over

// storeOps are the three operations measured on one store by one path.
type storeOps struct {
	get, save, tx load.Func
	seed          func(ctx context.Context, i int) error // writes what get reads
}

func key(kind string, i int) string { return kind + "-" + strconv.Itoa(i%stateKeys) }

// daprOps go through bench-caller's sidecar with the go-sdk client, as the
// functions do (shared/runtime/state).
func (b *bench) daprOps(store, prefix string) storeOps {
	c := b.s.callerDapr
	return storeOps{
		seed: func(ctx context.Context, i int) error {
			return c.SaveState(ctx, store, prefix+key("get", i), stateValue, nil)
		},
		get: func(ctx context.Context, i int, _ time.Time) error {
			it, err := c.GetState(ctx, store, prefix+key("get", i), nil)
			if err == nil && (it == nil || len(it.Value) == 0) {
				err = errors.New("value missing")
			}
			return err
		},
		save: func(ctx context.Context, i int, _ time.Time) error {
			return c.SaveState(ctx, store, prefix+key("save", i), stateValue, nil)
		},
		tx: func(ctx context.Context, i int, _ time.Time) error {
			return c.ExecuteStateTransaction(ctx, store, nil, []*dapr.StateOperation{
				{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: prefix + key("txa", i), Value: stateValue}},
				{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: prefix + key("txb", i), Value: stateValue}},
			})
		},
	}
}

// The statements the state.postgresql v2 component runs for a get and an
// upsert without ETag, on a table of the same shape.
const (
	pgCreate = `CREATE TABLE IF NOT EXISTS %[1]s (
  key text NOT NULL PRIMARY KEY,
  value bytea NOT NULL,
  etag uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamp with time zone NOT NULL DEFAULT now(),
  updated_at timestamp with time zone,
  expires_at timestamp with time zone
)`
	pgGet    = `SELECT value, etag, expires_at FROM %s WHERE key = $1 AND (expires_at IS NULL OR expires_at >= now())`
	pgUpsert = `INSERT INTO %s AS t (key, value, etag, expires_at) VALUES ($1, $2, gen_random_uuid(), NULL)
ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = now(), etag = gen_random_uuid(), expires_at = NULL`
)

func pgOps(pool *pgxpool.Pool, table string) storeOps {
	get, upsert := fmt.Sprintf(pgGet, table), fmt.Sprintf(pgUpsert, table)
	return storeOps{
		seed: func(ctx context.Context, i int) error {
			_, err := pool.Exec(ctx, upsert, key("get", i), stateValue)
			return err
		},
		get: func(ctx context.Context, i int, _ time.Time) error {
			var (
				v    []byte
				etag string
				exp  *time.Time
			)
			return pool.QueryRow(ctx, get, key("get", i)).Scan(&v, &etag, &exp)
		},
		save: func(ctx context.Context, i int, _ time.Time) error {
			_, err := pool.Exec(ctx, upsert, key("save", i), stateValue)
			return err
		},
		tx: func(ctx context.Context, i int, _ time.Time) error {
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, upsert, key("txa", i), stateValue); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, upsert, key("txb", i), stateValue)
				return err
			})
		},
	}
}

// redisSet is the script the state.redis component runs for a save.
const redisSet = `
	local etag = redis.pcall("HGET", KEYS[1], "version");
	if type(etag) == "table" then
	  redis.call("DEL", KEYS[1]);
	end;
	local fwr = redis.pcall("HGET", KEYS[1], "first-write");
	if not etag or type(etag)=="table" or etag == "" or etag == ARGV[1] or (not fwr and ARGV[1] == "0") then
	  redis.call("HSET", KEYS[1], "data", ARGV[2]);
	  if ARGV[3] == "0" then
	    redis.call("HSET", KEYS[1], "first-write", 0);
	  end;
	  return redis.call("HINCRBY", KEYS[1], "version", 1)
	else
	  return error("failed to set key " .. KEYS[1])
	end`

// redisOps issue the commands the state.redis component issues: HGETALL,
// the save script, and the script twice in MULTI/EXEC.
func redisOps(c *redis.Client, prefix string) storeOps {
	return storeOps{
		seed: func(ctx context.Context, i int) error {
			return c.Do(ctx, "EVAL", redisSet, 1, prefix+key("get", i), 0, stateValue, 1).Err()
		},
		get: func(ctx context.Context, i int, _ time.Time) error {
			m, err := c.HGetAll(ctx, prefix+key("get", i)).Result()
			if err == nil && m["data"] == "" {
				err = errors.New("value missing")
			}
			return err
		},
		save: func(ctx context.Context, i int, _ time.Time) error {
			return c.Do(ctx, "EVAL", redisSet, 1, prefix+key("save", i), 0, stateValue, 1).Err()
		},
		tx: func(ctx context.Context, i int, _ time.Time) error {
			p := c.TxPipeline()
			p.Do(ctx, "EVAL", redisSet, 1, prefix+key("txa", i), 0, stateValue)
			p.Do(ctx, "EVAL", redisSet, 1, prefix+key("txb", i), 0, stateValue)
			_, err := p.Exec(ctx)
			return err
		},
	}
}

// state: get, save and a two-key transaction through the sidecar's
// PostgreSQL and Redis components, and the same statements straight to
// the servers.
func (b *bench) state(ctx context.Context) error {
	if !b.s.pg && !b.s.redis {
		b.rep.note("state: neither PostgreSQL nor Redis is running; nothing measured.")
		return nil
	}
	type target struct {
		name         string
		dapr, direct storeOps
	}
	var targets []target
	if b.s.pg {
		pool, err := pgxpool.New(ctx, pgConn)
		if err != nil {
			return err
		}
		defer pool.Close()
		table := b.s.prefix + "direct"
		if _, err := pool.Exec(ctx, fmt.Sprintf(pgCreate, table)); err != nil {
			return err
		}
		targets = append(targets, target{"PostgreSQL", b.daprOps(storePG, ""), pgOps(pool, table)})
	}
	if b.s.redis {
		c := redis.NewClient(&redis.Options{Addr: devstack.RedisAddr})
		defer func() { _ = c.Close() }()
		p := redisPrefix(b.s.prefix)
		targets = append(targets, target{"Redis", b.daprOps(storeRedis, p+"dapr:"), redisOps(c, p+"direct:")})
	}
	for _, t := range targets {
		if err := seed(ctx, t.dapr, t.direct); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		cfg := b.cfg(b.sz.StateRate, b.sz.StateSeconds)
		for _, op := range []struct {
			name         string
			dapr, direct load.Func
		}{
			{"get", t.dapr.get, t.direct.get},
			{"save", t.dapr.save, t.direct.save},
			{"transaction (2 upserts)", t.dapr.tx, t.direct.tx},
		} {
			// Warm connections on both paths.
			warm := b.cfg(200, b.sz.Warm/2)
			load.Run(ctx, warm, op.direct)
			load.Run(ctx, warm, op.dapr)
			p := pairRounds(t.name+" "+op.name, cfg.Rate, b.sz.StateSeconds, b.rounds(), b.settle,
				func(int) measurement { return fromResult(load.Run(ctx, cfg, op.direct)) },
				func(int) measurement { return fromResult(load.Run(ctx, cfg, op.dapr)) })
			b.log("state %s: P95 direct %.2f ms, through Dapr %.2f ms, added %.2f ms (errors %d / %d)", p.Name,
				p.Base.P95.Median, p.Dapr.P95.Median, p.AddedP95.Median, p.Base.Errors, p.Dapr.Errors)
			b.rep.State = append(b.rep.State, p)
		}
	}
	return ctx.Err()
}

func redisPrefix(prefix string) string {
	return "bench:" + strings.TrimSuffix(strings.TrimPrefix(prefix, "bench_"), "_") + ":"
}

// seed writes the keys the get benchmark reads, on both paths, a few at
// a time.
func seed(ctx context.Context, paths ...storeOps) error {
	for _, o := range paths {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(16)
		for i := 0; i < stateKeys; i++ {
			g.Go(func() error { return o.seed(gctx, i) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return nil
}

// cleanupStores drops the bench's tables and keys.
func (s *stack) cleanupStores() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.pg {
		if conn, err := pgx.Connect(ctx, pgConn); err == nil {
			for _, t := range []string{"state", "metadata", "direct", "t_state", "t_metadata"} {
				_, _ = conn.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{s.prefix + t}.Sanitize())
			}
			_ = conn.Close(ctx)
		}
	}
	if s.redis {
		c := redis.NewClient(&redis.Options{Addr: devstack.RedisAddr})
		defer func() { _ = c.Close() }()
		iter := c.Scan(ctx, 0, redisPrefix(s.prefix)+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 500 {
				c.Del(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	}
}
