package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Records keeps short-lived records in a state store, each under a key the
// caller names, as JSON, for TTL after its last write:
//
//   - a marker says that something happened (an event processed, a
//     reminder fired): Mark it once, ask whether it is Marked, Delete it to
//     forget it;
//   - a held value is what one claimant at a time works on: Claim it (it
//     is stored if the key is free or the claim on it lapsed), Get what is
//     held, Finish it (it is then kept for good) or Release it (a retry
//     may claim it at once); Put holds a value whatever is there.
//
// A claim made with a Lease is stored with its end as the value's
// "lease_until" field, beside the value's own: the value must be a JSON
// object. A value held without one (claimed with no Lease, or finished) is
// never taken over.
type Records struct {
	Store *Store
	// TTL is how long a record lives after its last write; 0 keeps it
	// until it is deleted.
	TTL time.Duration
	// Lease is how long a claim keeps other claimants away; 0 for as long
	// as the record lives.
	Lease time.Duration
	// Now is the clock of leases; time.Now when nil.
	Now func() time.Time
}

// ErrLeased means a live claim holds the key: try again once its holder
// has finished or released it, or its lease has lapsed.
var ErrLeased = errors.New("state: claimed, lease not lapsed")

// marker is the value of a marker.
type marker struct{}

// Mark marks key, and reports whether it was not marked before.
func (r Records) Mark(ctx context.Context, key string) (bool, error) {
	err := r.Store.Apply(ctx, Create(key, marker{}).WithTTL(r.TTL))
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// Marked reports whether key holds a record.
func (r Records) Marked(ctx context.Context, key string) (bool, error) {
	return r.Get(ctx, key, nil)
}

// Get decodes the value held under key into v (when v is not nil), and
// reports whether there is one.
func (r Records) Get(ctx context.Context, key string, v any) (bool, error) {
	var raw json.RawMessage
	_, err := r.Store.Get(ctx, key, &raw)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			return false, fmt.Errorf("decode %s/%s: %w", r.Store.Name(), key, err)
		}
	}
	return true, nil
}

// Put holds v under key, replacing whatever is there.
func (r Records) Put(ctx context.Context, key string, v any) error {
	return r.Store.Apply(ctx, Put(key, v, "").WithTTL(r.TTL))
}

// Delete removes what key holds, if anything.
func (r Records) Delete(ctx context.Context, key string) error {
	return r.Store.Apply(ctx, Delete(key, ""))
}

// Claim stores v under key, with a lease of r.Lease, if nothing is held
// there or the claim on it lapsed, and reports whether it did. When it did
// not, held (unless nil) is what the key holds; the error is ErrLeased
// while another claim is live. Two claims racing for a key: one wins.
func (r Records) Claim(ctx context.Context, key string, v, held any) (bool, error) {
	now := r.now()
	mine, err := r.leased(v, now)
	if err != nil {
		return false, err
	}
	err = r.Store.Apply(ctx, Create(key, mine).WithTTL(r.TTL))
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, ErrConflict) {
		return false, err
	}
	var raw json.RawMessage
	etag, err := r.Store.Get(ctx, key, &raw)
	if err != nil {
		return false, fmt.Errorf("%s/%s is claimed but unreadable: %w", r.Store.Name(), key, err)
	}
	if held != nil {
		if err := json.Unmarshal(raw, held); err != nil {
			return false, fmt.Errorf("decode %s/%s: %w", r.Store.Name(), key, err)
		}
	}
	until, ok := leaseOf(raw)
	if !ok {
		return false, nil
	}
	if now.Before(until) {
		return false, ErrLeased
	}
	// The claim lapsed (its holder crashed or gave up): take it over at
	// its ETag, so that of two claimants taking it over one wins.
	err = r.Store.Apply(ctx, Put(key, mine, etag).WithTTL(r.TTL))
	if errors.Is(err, ErrConflict) {
		return false, ErrLeased
	}
	return err == nil, err
}

// Finish replaces the value held under key with v, without a lease: it is
// kept for TTL and never taken over. It writes at the held value's ETag
// (a value created first-write takes no other write on Redis), so it fails
// with ErrNotFound when nothing is held and ErrConflict when the value
// changed meanwhile.
func (r Records) Finish(ctx context.Context, key string, v any) error {
	var raw json.RawMessage
	etag, err := r.Store.Get(ctx, key, &raw)
	if err != nil {
		return err
	}
	return r.Store.Apply(ctx, Put(key, v, etag).WithTTL(r.TTL))
}

// Release gives up a claim on key so that a retry may claim it at once.
// A finished value (held without a lease) stays.
func (r Records) Release(ctx context.Context, key string) error {
	var raw json.RawMessage
	etag, err := r.Store.Get(ctx, key, &raw)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := leaseOf(raw); !ok {
		return nil
	}
	return r.Store.Apply(ctx, Delete(key, etag))
}

func (r Records) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// lease is the field a claim's lease is stored in.
type lease struct {
	Until *time.Time `json:"lease_until,omitempty"`
}

// leased is v as stored by a claim at now: with "lease_until" after its
// own fields when r has a Lease, else as it is.
func (r Records) leased(v any, now time.Time) (any, error) {
	if r.Lease <= 0 {
		return v, nil
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	until := now.Add(r.Lease)
	field, err := json.Marshal(lease{Until: &until})
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' {
		return nil, fmt.Errorf("state: a claim with a lease needs a JSON object, not %.20s", body)
	}
	if len(bytes.TrimSpace(body[1:len(body)-1])) > 0 {
		field[0] = ','
	} else {
		field = field[1:]
	}
	return json.RawMessage(append(body[:len(body)-1:len(body)-1], field...)), nil
}

// leaseOf returns the end of the lease a stored value carries, if any.
func leaseOf(raw json.RawMessage) (time.Time, bool) {
	var l lease
	if json.Unmarshal(raw, &l) != nil || l.Until == nil {
		return time.Time{}, false
	}
	return *l.Until, true
}
