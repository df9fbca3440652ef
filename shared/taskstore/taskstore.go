// Package taskstore keeps tasks in a Dapr state store. A task and its
// user's task index change in one transaction guarded by ETags, so a
// concurrent writer never loses an update (it gets ErrConflict and retries).
package taskstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/todo-chatbot/functions/shared/state"
	"github.com/todo-chatbot/functions/shared/task"
)

var (
	// ErrNotFound: no such task for that user.
	ErrNotFound = errors.New("task not found")
	// ErrConflict: the task changed since it was read.
	ErrConflict = errors.New("task changed concurrently")
)

// Version identifies one stored revision of a task (its ETag).
type Version string

// Store is what handlers need of task storage.
type Store interface {
	// Create stores a new task; creating an id that exists is ErrConflict.
	Create(ctx context.Context, t task.Task) error
	Get(ctx context.Context, userID, id string) (task.Task, Version, error)
	// Update replaces the task if it is still at version v.
	Update(ctx context.Context, t task.Task, v Version) error
	// Complete stores done (at version v) and, in the same transaction, the
	// next occurrence unless it already exists.
	Complete(ctx context.Context, done task.Task, v Version, next *task.Task) error
	Delete(ctx context.Context, userID, id string, v Version) error
	// List returns every task of the user, in no particular order.
	List(ctx context.Context, userID string) ([]task.Task, error)
	// Users returns every user that has ever had a task.
	Users(ctx context.Context) ([]string, error)
}

// Keys never contain '/' in an id (request.ValidID forbids it), so one
// user's keys cannot be mistaken for another's.
func taskKey(userID, id string) string { return "task/" + userID + "/" + id }
func indexKey(userID string) string    { return "index/" + userID }

const usersKey = "users"

type index struct {
	IDs []string `json:"ids"`
}

// maxAttempts bounds retries when another writer changed an index first.
const maxAttempts = 20

// Dapr is a Store over a Dapr state store with transactions.
type Dapr struct {
	st *state.Store
}

// NewDapr returns the store over st.
func NewDapr(st *state.Store) *Dapr { return &Dapr{st: st} }

func (d *Dapr) Get(ctx context.Context, userID, id string) (task.Task, Version, error) {
	var t task.Task
	etag, err := d.st.Get(ctx, taskKey(userID, id), &t)
	if errors.Is(err, state.ErrNotFound) {
		return t, "", ErrNotFound
	}
	if err != nil {
		return t, "", err
	}
	return t, Version(etag), nil
}

func (d *Dapr) index(ctx context.Context, key string) (index, string, error) {
	var ix index
	etag, err := d.st.Get(ctx, key, &ix)
	if errors.Is(err, state.ErrNotFound) {
		return index{}, "", nil
	}
	return ix, etag, err
}

// indexOps returns the writes that put ids into (and drop out of) the
// user's index, adding the user to the user list on their first task.
func (d *Dapr) indexOps(ctx context.Context, userID string, add []string, drop string) ([]state.Op, error) {
	ix, etag, err := d.index(ctx, indexKey(userID))
	if err != nil {
		return nil, err
	}
	var ops []state.Op
	if etag == "" {
		users, uetag, err := d.index(ctx, usersKey)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(users.IDs, userID) {
			users.IDs = append(users.IDs, userID)
			ops = append(ops, putOrCreate(usersKey, users, uetag))
		}
	}
	for _, id := range add {
		if !slices.Contains(ix.IDs, id) {
			ix.IDs = append(ix.IDs, id)
		}
	}
	if drop != "" {
		ix.IDs = slices.DeleteFunc(ix.IDs, func(id string) bool { return id == drop })
	}
	return append(ops, putOrCreate(indexKey(userID), ix, etag)), nil
}

func putOrCreate(key string, v any, etag string) state.Op {
	if etag == "" {
		return state.Create(key, v)
	}
	return state.Put(key, v, etag)
}

// retry runs attempt until it does not conflict on an index. Writers of
// one user's index race each other; a random, growing pause spreads them.
func retry(ctx context.Context, attempt func() error) error {
	var err error
	for i := 0; i < maxAttempts; i++ {
		if err = attempt(); !errors.Is(err, errIndexRace) {
			return err
		}
		pause := time.Duration(rand.Int64N(int64(5*time.Millisecond) << min(i, 6)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return fmt.Errorf("%w: index kept changing: %v", ErrConflict, err)
}

// errIndexRace: the transaction failed, and it is not yet known whether
// the task or an index caused it.
var errIndexRace = errors.New("index changed")

func (d *Dapr) Create(ctx context.Context, t task.Task) error {
	return retry(ctx, func() error {
		ops, err := d.indexOps(ctx, t.UserID, []string{t.ID}, "")
		if err != nil {
			return err
		}
		err = d.st.Transact(ctx, append([]state.Op{state.Create(taskKey(t.UserID, t.ID), t)}, ops...)...)
		return d.classify(ctx, err, t.UserID, t.ID, "")
	})
}

// classify tells a lost race on an index (retry) from a conflict on the
// task itself (the caller's problem).
func (d *Dapr) classify(ctx context.Context, err error, userID, id string, v Version) error {
	if !errors.Is(err, state.ErrConflict) {
		return err
	}
	_, cur, gerr := d.Get(ctx, userID, id)
	switch {
	case v == "" && gerr == nil:
		return fmt.Errorf("%w: task %s exists", ErrConflict, id) // a create found it
	case v != "" && (errors.Is(gerr, ErrNotFound) || cur != v):
		return fmt.Errorf("%w: task %s", ErrConflict, id)
	}
	return errIndexRace
}

func (d *Dapr) Update(ctx context.Context, t task.Task, v Version) error {
	err := d.st.Apply(ctx, state.Put(taskKey(t.UserID, t.ID), t, string(v)))
	if errors.Is(err, state.ErrConflict) {
		return fmt.Errorf("%w: task %s", ErrConflict, t.ID)
	}
	return err
}

func (d *Dapr) Complete(ctx context.Context, done task.Task, v Version, next *task.Task) error {
	if next == nil {
		return d.Update(ctx, done, v)
	}
	if _, _, err := d.Get(ctx, next.UserID, next.ID); err == nil {
		// The next occurrence exists: an earlier attempt stored it.
		return d.Update(ctx, done, v)
	}
	return retry(ctx, func() error {
		ops, err := d.indexOps(ctx, done.UserID, []string{next.ID}, "")
		if err != nil {
			return err
		}
		err = d.st.Transact(ctx, append([]state.Op{
			state.Put(taskKey(done.UserID, done.ID), done, string(v)),
			state.Create(taskKey(next.UserID, next.ID), next),
		}, ops...)...)
		return d.classify(ctx, err, done.UserID, done.ID, v)
	})
}

func (d *Dapr) Delete(ctx context.Context, userID, id string, v Version) error {
	return retry(ctx, func() error {
		ops, err := d.indexOps(ctx, userID, nil, id)
		if err != nil {
			return err
		}
		err = d.st.Transact(ctx, append([]state.Op{state.Delete(taskKey(userID, id), string(v))}, ops...)...)
		return d.classify(ctx, err, userID, id, v)
	})
}

func (d *Dapr) List(ctx context.Context, userID string) ([]task.Task, error) {
	ix, _, err := d.index(ctx, indexKey(userID))
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(ix.IDs))
	for i, id := range ix.IDs {
		keys[i] = taskKey(userID, id)
	}
	items, err := d.st.GetMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]task.Task, 0, len(items))
	for _, it := range items {
		var t task.Task
		if err := json.Unmarshal(it.Value, &t); err != nil {
			return nil, fmt.Errorf("decode %s: %w", it.Key, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func (d *Dapr) Users(ctx context.Context) ([]string, error) {
	users, _, err := d.index(ctx, usersKey)
	return users.IDs, err
}
