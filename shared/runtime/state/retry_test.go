package state_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/todo-chatbot/functions/shared/runtime/state"
)

func TestRetryOnConflict(t *testing.T) {
	ctx := context.Background()
	quick := state.Retry{Attempts: 4, Pause: time.Microsecond, MaxPause: 10 * time.Microsecond}
	lost := fmt.Errorf("write: %w", state.ErrConflict)

	t.Run("gives up after the attempts, with the conflict", func(t *testing.T) {
		calls := 0
		err := state.RetryOnConflict(ctx, quick, state.ErrConflict, func() error { calls++; return lost })
		assert.ErrorIs(t, err, state.ErrConflict)
		assert.Equal(t, 4, calls)
	})
	t.Run("stops at the first success", func(t *testing.T) {
		calls := 0
		err := state.RetryOnConflict(ctx, quick, state.ErrConflict, func() error {
			calls++
			if calls < 3 {
				return lost
			}
			return nil
		})
		assert.NoError(t, err)
		assert.Equal(t, 3, calls)
	})
	t.Run("stops on any other error", func(t *testing.T) {
		down := errors.New("down")
		calls := 0
		err := state.RetryOnConflict(ctx, quick, state.ErrConflict, func() error { calls++; return down })
		assert.Equal(t, down, err, "returned as it is")
		assert.Equal(t, 1, calls)
	})
	t.Run("retries only the caller's conflict", func(t *testing.T) {
		mine := errors.New("index changed")
		calls := 0
		err := state.RetryOnConflict(ctx, quick, mine, func() error { calls++; return lost })
		assert.ErrorIs(t, err, state.ErrConflict)
		assert.Equal(t, 1, calls, "a conflict of another kind is the caller's to handle")
	})
	t.Run("respects the context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		slow := state.Retry{Attempts: 100, Pause: time.Hour, MaxPause: time.Hour}
		calls := 0
		start := time.Now()
		err := state.RetryOnConflict(ctx, slow, state.ErrConflict, func() error { calls++; cancel(); return lost })
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, calls)
		assert.Less(t, time.Since(start), time.Minute, "it did not sit out the pause")
	})
	t.Run("the policy's attempt count can be set", func(t *testing.T) {
		assert.Equal(t, 5, state.OnContention.WithAttempts(5).Attempts)
		assert.Equal(t, 20, state.OnContention.Attempts, "the named policy is unchanged")
	})
}
