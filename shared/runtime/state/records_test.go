package state_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/testkit/devstack"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
)

// recordsEnv is one store the records contract runs on.
type recordsEnv struct {
	store *state.Store
	// clock is the clock of leases (and, in the fake, of TTLs).
	clock *fakes.Clock
	// outlive waits until a record written now with a TTL of d expired.
	outlive func(d time.Duration)
	// run keeps one run's keys apart from another's on a shared store.
	run string
}

type record struct {
	Name  string `json:"name"`
	Count int    `json:"count,omitempty"`
}

// recordsContract is what state.Records promises, checked the same way on
// the fake store and through daprd.
func recordsContract(t *testing.T, env recordsEnv) {
	ctx := context.Background()
	const lease = 10 * time.Second
	n := 0
	key := func() string { n++; return env.run + "/" + strconv.Itoa(n) }
	recs := func(ttl, lease time.Duration) state.Records {
		return state.Records{Store: env.store, TTL: ttl, Lease: lease, Now: env.clock.Now}
	}
	// get reads what k holds through r; stored reads it as the store keeps it.
	get := func(t *testing.T, r state.Records, k string) (record, bool) {
		var got record
		ok, err := r.Get(ctx, k, &got)
		require.NoError(t, err)
		return got, ok
	}
	stored := func(t *testing.T, k string) map[string]any {
		var m map[string]any
		_, err := env.store.Get(ctx, k, &m)
		require.NoError(t, err)
		return m
	}
	marks := recs(time.Hour, 0)
	claims := recs(0, lease)
	kept := recs(time.Hour, 0)

	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"mark twice: new once", func(t *testing.T) {
			k := key()
			on, err := marks.Marked(ctx, k)
			require.NoError(t, err)
			assert.False(t, on)
			first, err := marks.Mark(ctx, k)
			require.NoError(t, err)
			assert.True(t, first)
			again, err := marks.Mark(ctx, k)
			require.NoError(t, err)
			assert.False(t, again)
			on, err = marks.Marked(ctx, k)
			require.NoError(t, err)
			assert.True(t, on)
		}},
		{"a deleted mark is new again", func(t *testing.T) {
			k := key()
			_, err := marks.Mark(ctx, k)
			require.NoError(t, err)
			require.NoError(t, marks.Delete(ctx, k))
			require.NoError(t, marks.Delete(ctx, k), "deleting nothing is not an error")
			first, err := marks.Mark(ctx, k)
			require.NoError(t, err)
			assert.True(t, first)
		}},
		{"concurrent marks: one is new", func(t *testing.T) {
			k := key()
			assert.Equal(t, 1, race(t, func() (bool, error) { return marks.Mark(ctx, k) }))
		}},
		{"claim a free key, read it back as stored", func(t *testing.T) {
			k := key()
			won, err := claims.Claim(ctx, k, record{Name: "a", Count: 1}, nil)
			require.NoError(t, err)
			assert.True(t, won)
			got, ok := get(t, claims, k)
			assert.True(t, ok)
			assert.Equal(t, record{Name: "a", Count: 1}, got)

			raw := stored(t, k)
			until, err := time.Parse(time.RFC3339Nano, raw["lease_until"].(string))
			require.NoError(t, err, "the lease is stored beside the value's fields: %v", raw)
			assert.Equal(t, env.clock.Now().Add(lease).UTC(), until)
			assert.Equal(t, "a", raw["name"])
		}},
		{"claim when held under a live lease", func(t *testing.T) {
			k := key()
			_, err := claims.Claim(ctx, k, record{Name: "first"}, nil)
			require.NoError(t, err)
			env.clock.Advance(lease - time.Second)
			var held record
			won, err := claims.Claim(ctx, k, record{Name: "second"}, &held)
			assert.ErrorIs(t, err, state.ErrLeased)
			assert.False(t, won)
			assert.Equal(t, "first", held.Name)
		}},
		{"claim after the lease lapsed takes it over", func(t *testing.T) {
			k := key()
			_, err := claims.Claim(ctx, k, record{Name: "crashed"}, nil)
			require.NoError(t, err)
			env.clock.Advance(lease + time.Second)
			won, err := claims.Claim(ctx, k, record{Name: "retry"}, nil)
			require.NoError(t, err)
			assert.True(t, won)
			got, _ := get(t, claims, k)
			assert.Equal(t, "retry", got.Name)
		}},
		{"claim when held without a lease: never taken over", func(t *testing.T) {
			k := key()
			won, err := kept.Claim(ctx, k, record{Name: "first"}, nil)
			require.NoError(t, err)
			require.True(t, won)
			env.clock.Advance(time.Minute)
			var held record
			won, err = kept.Claim(ctx, k, record{Name: "second"}, &held)
			require.NoError(t, err)
			assert.False(t, won)
			assert.Equal(t, "first", held.Name)
		}},
		{"release lets a retry claim at once", func(t *testing.T) {
			k := key()
			_, err := claims.Claim(ctx, k, record{Name: "failed"}, nil)
			require.NoError(t, err)
			require.NoError(t, claims.Release(ctx, k))
			won, err := claims.Claim(ctx, k, record{Name: "retry"}, nil)
			require.NoError(t, err)
			assert.True(t, won)
			require.NoError(t, claims.Release(ctx, key()), "releasing nothing is not an error")
		}},
		{"finish keeps the value for good", func(t *testing.T) {
			k := key()
			_, err := claims.Claim(ctx, k, record{Name: "pending"}, nil)
			require.NoError(t, err)
			require.NoError(t, claims.Finish(ctx, k, record{Name: "done", Count: 2}))
			require.NoError(t, claims.Release(ctx, k), "a finished value is not released")
			env.clock.Advance(lease + time.Second)
			var held record
			won, err := claims.Claim(ctx, k, record{Name: "again"}, &held)
			require.NoError(t, err)
			assert.False(t, won)
			assert.Equal(t, record{Name: "done", Count: 2}, held)

			assert.NotContains(t, stored(t, k), "lease_until")
		}},
		{"finish a value claimed without a lease (first-write)", func(t *testing.T) {
			k := key()
			_, err := kept.Claim(ctx, k, record{Name: "pending"}, nil)
			require.NoError(t, err)
			require.NoError(t, kept.Finish(ctx, k, record{Name: "done"}))
			got, _ := get(t, kept, k)
			assert.Equal(t, "done", got.Name)
		}},
		{"finish needs a held value", func(t *testing.T) {
			assert.ErrorIs(t, claims.Finish(ctx, key(), record{Name: "x"}), state.ErrNotFound)
		}},
		{"put replaces what is held", func(t *testing.T) {
			k := key()
			require.NoError(t, kept.Put(ctx, k, record{Name: "one"}))
			require.NoError(t, kept.Put(ctx, k, record{Name: "two"}))
			got, ok := get(t, kept, k)
			assert.True(t, ok)
			assert.Equal(t, "two", got.Name)
			require.NoError(t, kept.Delete(ctx, k))
			_, ok = get(t, kept, k)
			assert.False(t, ok)
		}},
		{"concurrent claims of a free key: one wins", func(t *testing.T) {
			k := key()
			assert.Equal(t, 1, race(t, func() (bool, error) { return claimOrLeased(claims.Claim(ctx, k, record{Name: "c"}, nil)) }))
		}},
		{"concurrent takeovers of a lapsed claim: one wins", func(t *testing.T) {
			k := key()
			_, err := claims.Claim(ctx, k, record{Name: "crashed"}, nil)
			require.NoError(t, err)
			env.clock.Advance(lease + time.Second)
			assert.Equal(t, 1, race(t, func() (bool, error) { return claimOrLeased(claims.Claim(ctx, k, record{Name: "c"}, nil)) }))
		}},
		{"a claim with a lease needs a JSON object", func(t *testing.T) {
			_, err := claims.Claim(ctx, key(), "text", nil)
			assert.Error(t, err)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}

	t.Run("records expire after their TTL", func(t *testing.T) {
		const ttl = time.Second
		short := recs(ttl, 0)
		mk, ck := key(), key()
		_, err := short.Mark(ctx, mk)
		require.NoError(t, err)
		won, err := short.Claim(ctx, ck, record{Name: "old"}, nil)
		require.NoError(t, err)
		require.True(t, won)
		env.outlive(ttl)
		on, err := short.Marked(ctx, mk)
		require.NoError(t, err)
		assert.False(t, on, "the mark expired")
		first, err := short.Mark(ctx, mk)
		require.NoError(t, err)
		assert.True(t, first, "an expired mark is new again")
		won, err = short.Claim(ctx, ck, record{Name: "new"}, nil)
		require.NoError(t, err)
		assert.True(t, won, "an expired value is free again")
	})
}

// claimOrLeased counts a claim lost to ErrLeased as a plain loss.
func claimOrLeased(won bool, err error) (bool, error) {
	if errors.Is(err, state.ErrLeased) {
		return false, nil
	}
	return won, err
}

// race runs try from several goroutines at once and counts the wins.
func race(t *testing.T, try func() (bool, error)) int {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	start := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			won, err := try()
			assert.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			if won {
				wins++
			}
		}()
	}
	close(start)
	wg.Wait()
	return wins
}

func TestRecordsOverFakeState(t *testing.T) {
	clock := fakes.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	recordsContract(t, recordsEnv{
		store:   state.New(fakes.NewState(clock), "dedupe"),
		clock:   clock,
		outlive: func(d time.Duration) { clock.Advance(d) },
		run:     "fake",
	})
}

// The same contract through real daprd: the dedupe component on SQLite
// (bindings/local) and on Redis, and notification records' tasks component
// on PostgreSQL v2 (kafka-postgres, as in Kubernetes).
func TestRecordsThroughDapr(t *testing.T) {
	for _, c := range []struct {
		profile   devstack.Profile
		component []string
	}{
		{devstack.Local, []string{"dedupe"}},
		{devstack.KafkaPostgres, []string{"dedupe", "tasks"}},
	} {
		t.Run(string(c.profile), func(t *testing.T) {
			// send-notification is in both components' scopes.
			p := devstack.StartProject(t, devstack.ProjectOptions{Profile: c.profile, Functions: []string{"send-notification"}})
			for _, component := range c.component {
				t.Run(component, func(t *testing.T) {
					clock := fakes.NewClock(time.Now().UTC().Truncate(time.Millisecond))
					recordsContract(t, recordsEnv{
						store: p.State(t, "send-notification", component),
						clock: clock,
						// Stores keep TTLs in whole seconds.
						outlive: func(d time.Duration) { time.Sleep(d + 1500*time.Millisecond) },
						run:     "r" + strconv.FormatInt(time.Now().UnixNano(), 36),
					})
				})
			}
		})
	}
}
