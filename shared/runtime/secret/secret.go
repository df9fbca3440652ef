// Package secret reads secrets from a Dapr secret store into a Value that
// never prints, marshals or logs its content.
package secret

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/logging"
)

const redacted = "[REDACTED]"

// Value holds a secret. Every way of rendering it (fmt verbs, JSON, text,
// slog) yields "[REDACTED]"; only Reveal returns the content.
type Value struct {
	v string
}

// NewValue wraps s and registers it with the log scrubber.
func NewValue(s string) Value {
	logging.Redact(s)
	return Value{v: s}
}

// Reveal returns the secret itself, for the one call that needs it.
func (v Value) Reveal() string { return v.v }

// IsZero reports whether the value is empty.
func (v Value) IsZero() bool { return v.v == "" }

// Equal compares in constant time with other's content (the length is not
// hidden: it says nothing that guessing a token could use).
func (v Value) Equal(other string) bool {
	return subtle.ConstantTimeCompare([]byte(v.v), []byte(other)) == 1
}

func (v Value) String() string                { return redacted }
func (v Value) GoString() string              { return redacted }
func (v Value) Format(f fmt.State, _ rune)    { _, _ = f.Write([]byte(redacted)) }
func (v Value) MarshalJSON() ([]byte, error)  { return []byte(`"` + redacted + `"`), nil }
func (v Value) MarshalText() ([]byte, error)  { return []byte(redacted), nil }
func (v Value) LogValue() slog.Value          { return slog.StringValue(redacted) }
func (v *Value) UnmarshalText(b []byte) error { *v = NewValue(string(b)); return nil }

// Getter is the part of the Dapr client the store needs.
type Getter interface {
	GetSecret(ctx context.Context, storeName, key string, meta map[string]string) (map[string]string, error)
}

// Store reads secrets from one Dapr secret store component.
type Store struct {
	client Getter
	name   string

	maxAge time.Duration // 0: every Get reads the store
	now    func() time.Time
	mu     sync.Mutex
	cached map[string]cachedSecret
}

type cachedSecret struct {
	data map[string]string
	at   time.Time
}

// NewStore returns a Store over the named Dapr secret store component.
func NewStore(client Getter, name string) *Store {
	return &Store{client: client, name: name, now: time.Now}
}

// CachedFor makes s keep what it read for maxAge: a secret read on every
// request is a round trip through the sidecar (and, in Kubernetes, on to
// the API server) each time. A rotated secret is seen within maxAge.
func (s *Store) CachedFor(maxAge time.Duration) *Store {
	s.maxAge = maxAge
	s.cached = map[string]cachedSecret{}
	return s
}

// Get returns field key of secret name. Errors name the store, secret and
// field, never a value.
func (s *Store) Get(ctx context.Context, name, key string) (Value, error) {
	data, err := s.read(ctx, name)
	if err != nil {
		return Value{}, err
	}
	v, ok := data[key]
	if !ok {
		return Value{}, fmt.Errorf("secret %s/%s has no field %q", s.name, name, key)
	}
	return NewValue(v), nil
}

func (s *Store) read(ctx context.Context, name string) (map[string]string, error) {
	if s.maxAge > 0 {
		s.mu.Lock()
		c, ok := s.cached[name]
		s.mu.Unlock()
		if ok && s.now().Sub(c.at) < s.maxAge {
			return c.data, nil
		}
	}
	data, err := s.client.GetSecret(ctx, s.name, name, nil)
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", s.name, name, err)
	}
	for _, v := range data {
		logging.Redact(v)
	}
	if s.maxAge > 0 {
		s.mu.Lock()
		s.cached[name] = cachedSecret{data: data, at: s.now()}
		s.mu.Unlock()
	}
	return data, nil
}
