package fakes

import (
	"context"
	"sync"

	"github.com/todo-chatbot/functions/shared/todo/notify"
)

// Channel is a notify.Channel that records deliveries and can be told to
// fail. A failed delivery is not recorded.
type Channel struct {
	// ChannelName is what Name returns; "fake" when empty.
	ChannelName string
	// Block, when set, holds every delivery until it is closed: a slow
	// channel, for tests of concurrent deliveries.
	Block chan struct{}

	mu        sync.Mutex
	delivered []notify.Notification
	failNext  []error
	attempts  int
}

var _ notify.Channel = (*Channel)(nil)

// Name names the channel.
func (c *Channel) Name() string {
	if c.ChannelName == "" {
		return "fake"
	}
	return c.ChannelName
}

// Deliver records n, or returns an injected failure.
func (c *Channel) Deliver(ctx context.Context, n notify.Notification) error {
	c.mu.Lock()
	c.attempts++
	block := c.Block
	c.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failNext) > 0 {
		err := c.failNext[0]
		c.failNext = c.failNext[1:]
		return err
	}
	c.delivered = append(c.delivered, n)
	return nil
}

// FailNext makes the next Deliver fail with err (ErrInjected when nil).
func (c *Channel) FailNext(err error) {
	if err == nil {
		err = ErrInjected
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failNext = append(c.failNext, err)
}

// Delivered returns what was delivered, in order.
func (c *Channel) Delivered() []notify.Notification {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]notify.Notification(nil), c.delivered...)
}

// Attempts counts Deliver calls, failed ones included.
func (c *Channel) Attempts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attempts
}
