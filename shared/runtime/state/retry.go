package state

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Retry says how a write that lost an ETag race is tried again: up to
// Attempts times in all, pausing between attempts for a random time below
// a bound that starts at Pause and doubles up to MaxPause ("full jitter"),
// so that writers who collided once do not collide again in step.
type Retry struct {
	Attempts        int
	Pause, MaxPause time.Duration
}

// OnContention is the policy for ETag races. The writers that race are
// those of one user (one task, one index, one inbox), a handful at most:
// 20 attempts let each of a burst of them through in turn, and the pauses
// (5 ms doubling to 320 ms, about 2 s at worst in all) stay within a
// request's deadline. taskstore's test of one user's concurrent creates
// passes with it through daprd on SQLite, PostgreSQL and MySQL.
var OnContention = Retry{Attempts: 20, Pause: 5 * time.Millisecond, MaxPause: 320 * time.Millisecond}

// WithAttempts returns r with n attempts in all.
func (r Retry) WithAttempts(n int) Retry { r.Attempts = n; return r }

// RetryOnConflict runs attempt until it returns anything but an error that
// is conflict (nil included), and returns that. After r.Attempts conflicts
// it returns the last one, still matching conflict; when ctx ends during a
// pause it returns ctx's error. conflict is the error of a lost race at the
// caller's level: ErrConflict for a single write, or a caller's own error
// when only some of its conflicts are worth another attempt.
func RetryOnConflict(ctx context.Context, r Retry, conflict error, attempt func() error) error {
	bound := r.Pause
	for i := 1; ; i++ {
		err := attempt()
		if !errors.Is(err, conflict) {
			return err
		}
		if i >= r.Attempts {
			return fmt.Errorf("gave up after %d attempts: %w", i, err)
		}
		var pause time.Duration
		if bound > 0 {
			pause = rand.N(bound) //nolint:gosec // jitter, not a secret
		}
		bound = min(2*bound, r.MaxPause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
