// Package taskstore keeps tasks in a Dapr state store. A task changes in
// one transaction with its user's task index and its agenda entries,
// guarded by ETags, so a concurrent writer never loses an update (it gets
// ErrConflict and retries). It uses only what every transactional Dapr
// state store offers: get, bulk get, transactions with ETags, and TTLs.
// No key is shared by all users, and none grows with their number.
package taskstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

var (
	// ErrNotFound: no such task for that user.
	ErrNotFound = errors.New("task not found")
	// ErrConflict: the task changed since it was read.
	ErrConflict = errors.New("task changed concurrently")
	// ErrFull: the user has MaxTasks tasks, and a new one would exceed it.
	ErrFull = errors.New("task limit reached")
)

// Version identifies one stored revision of a task (its ETag).
type Version string

// Store is what handlers need of task storage.
type Store interface {
	// Create stores a new task; creating an id that exists is ErrConflict,
	// a user's task past MaxTasks ErrFull.
	Create(ctx context.Context, t task.Task) error
	Get(ctx context.Context, userID, id string) (task.Task, Version, error)
	// Update replaces the task if it is still at version v.
	Update(ctx context.Context, t task.Task, v Version) error
	// Complete stores done (at version v) and, in the same transaction, the
	// next occurrence unless it already exists.
	Complete(ctx context.Context, done task.Task, v Version, next *task.Task) error
	Delete(ctx context.Context, userID, id string, v Version) error
	// Scan returns up to n of the user's tasks in creation order (newest
	// first when desc) that come after from (nil: from the start), and
	// whether more follow.
	Scan(ctx context.Context, userID string, from *task.Position, desc bool, n int) ([]task.Task, bool, error)
	// List returns every task of the user (at most MaxTasks), in creation
	// order.
	List(ctx context.Context, userID string) ([]task.Task, error)
	// Agenda returns the tasks that had a reminder or due time in [from,
	// to) when they were written; the caller checks their current times.
	Agenda(ctx context.Context, from, to time.Time) ([]task.Task, error)
}

// Keys never contain '/' in an id (request.ValidID forbids it), so one
// user's keys cannot be mistaken for another's.
func taskKey(userID, id string) string { return "task/" + userID + "/" + id }

// Reapply is the retry policy of a read-modify-write of one task (read
// it, change it, write it at its version), as the handlers do: fewer
// attempts than state.OnContention, because each attempt's write runs this
// store's own retries of index races, and nested retries multiply.
var Reapply = state.OnContention.WithAttempts(5)

// Dapr is a Store over a Dapr state store with transactions.
type Dapr struct {
	st *state.Store
	// Now is when a write happens, for the agenda; time.Now by default.
	Now func() time.Time
}

// NewDapr returns the store over st.
func NewDapr(st *state.Store) *Dapr { return &Dapr{st: st, Now: time.Now} }

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

func (d *Dapr) head(ctx context.Context, userID string) (head, string, error) {
	var h head
	etag, err := d.st.Get(ctx, headKey(userID), &h)
	if errors.Is(err, state.ErrNotFound) {
		return head{}, "", nil
	}
	return h, etag, err
}

func (d *Dapr) page(ctx context.Context, userID string, n int) (page, string, error) {
	var pg page
	etag, err := d.st.Get(ctx, pageKey(userID, n), &pg)
	if errors.Is(err, state.ErrNotFound) {
		return page{}, "", nil
	}
	return pg, etag, err
}

// indexOps returns the writes that add a position to the user's index or
// drop one from it (nil for neither).
func (d *Dapr) indexOps(ctx context.Context, userID string, add, drop *task.Position) ([]state.Op, error) {
	h, hetag, err := d.head(ctx, userID)
	if err != nil {
		return nil, err
	}
	var writes []pageWrite
	switch {
	case add != nil && h.Count >= MaxTasks:
		return nil, errFull
	case add != nil && len(h.Pages) == 0:
		writes = h.insert(-1, page{}, "", *add)
	case add != nil:
		i := h.find(*add)
		pg, etag, err := d.page(ctx, userID, h.Pages[i].N)
		if err != nil {
			return nil, err
		}
		writes = h.insert(i, pg, etag, *add)
	case drop != nil && len(h.Pages) > 0:
		i := h.find(*drop)
		pg, etag, err := d.page(ctx, userID, h.Pages[i].N)
		if err != nil {
			return nil, err
		}
		writes = h.remove(i, pg, etag, *drop)
	}
	if len(writes) == 0 {
		return nil, nil
	}
	ops := []state.Op{putOrCreate(headKey(userID), h, hetag)}
	for _, w := range writes {
		k := pageKey(userID, w.n)
		if len(w.pg.Entries) == 0 {
			ops = append(ops, state.Delete(k, w.etag))
		} else {
			ops = append(ops, putOrCreate(k, w.pg, w.etag))
		}
	}
	return ops, nil
}

func putOrCreate(key string, v any, etag string) state.Op {
	if etag == "" {
		return state.Create(key, v)
	}
	return state.Put(key, v, etag)
}

// retry runs attempt until it does not conflict on an index or agenda
// key: writers of one user's index race each other.
func retry(ctx context.Context, attempt func() error) error {
	err := state.RetryOnConflict(ctx, state.OnContention, errIndexRace, attempt)
	if errors.Is(err, errIndexRace) {
		return fmt.Errorf("%w: index kept changing: %w", ErrConflict, err)
	}
	return err
}

// errIndexRace: the transaction failed, and it is not yet known whether
// the task or an index caused it.
var errIndexRace = errors.New("index changed")

// transact writes the task ops with the index and agenda ops of one
// change, if there are any, and tells a lost race on those (retry) from a
// conflict on the task (the caller's).
func (d *Dapr) transact(ctx context.Context, taskOps []state.Op, extra []state.Op, userID, id string, v Version) error {
	var err error
	if len(extra) == 0 && len(taskOps) == 1 {
		err = d.st.Apply(ctx, taskOps[0])
	} else {
		err = d.st.Transact(ctx, append(taskOps, extra...)...)
	}
	if !errors.Is(err, state.ErrConflict) {
		return err
	}
	_, cur, gerr := d.Get(ctx, userID, id)
	switch {
	case v == "" && gerr == nil:
		return fmt.Errorf("%w: task %s exists", ErrConflict, id) // a create found it
	case v != "" && (errors.Is(gerr, ErrNotFound) || cur != v):
		return fmt.Errorf("%w: task %s", ErrConflict, id)
	case len(extra) == 0:
		return fmt.Errorf("%w: task %s", ErrConflict, id)
	}
	return errIndexRace
}

// changeOps are the index and agenda writes of storing t, new when add.
func (d *Dapr) changeOps(ctx context.Context, t task.Task, add bool) ([]state.Op, error) {
	var ops []state.Op
	if add {
		pos := task.PositionOf(t)
		ix, err := d.indexOps(ctx, t.UserID, &pos, nil)
		if err != nil {
			return nil, err
		}
		ops = ix
	}
	ag, err := d.agendaOps(ctx, t)
	return append(ops, ag...), err
}

func (d *Dapr) Create(ctx context.Context, t task.Task) error {
	return retry(ctx, func() error {
		ops, err := d.changeOps(ctx, t, true)
		if err != nil {
			return err
		}
		return d.transact(ctx, []state.Op{state.Create(taskKey(t.UserID, t.ID), t)}, ops, t.UserID, t.ID, "")
	})
}

func (d *Dapr) Update(ctx context.Context, t task.Task, v Version) error {
	return retry(ctx, func() error {
		ops, err := d.changeOps(ctx, t, false)
		if err != nil {
			return err
		}
		return d.transact(ctx, []state.Op{state.Put(taskKey(t.UserID, t.ID), t, string(v))}, ops, t.UserID, t.ID, v)
	})
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
		ops, err := d.changeOps(ctx, *next, true)
		if err != nil {
			return err
		}
		return d.transact(ctx, []state.Op{
			state.Put(taskKey(done.UserID, done.ID), done, string(v)),
			state.Create(taskKey(next.UserID, next.ID), next),
		}, ops, done.UserID, done.ID, v)
	})
}

func (d *Dapr) Delete(ctx context.Context, userID, id string, v Version) error {
	return retry(ctx, func() error {
		// The index is ordered by creation: the task says where it is.
		t, cur, err := d.Get(ctx, userID, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if err != nil || cur != v {
			return fmt.Errorf("%w: task %s", ErrConflict, id)
		}
		pos := task.PositionOf(t)
		ops, err := d.indexOps(ctx, userID, nil, &pos)
		if err != nil {
			return err
		}
		// Its agenda entries stay: readers find the task gone.
		return d.transact(ctx, []state.Op{state.Delete(taskKey(userID, id), string(v))}, ops, userID, id, v)
	})
}

func (d *Dapr) Scan(ctx context.Context, userID string, from *task.Position, desc bool, n int) ([]task.Task, bool, error) {
	h, _, err := d.head(ctx, userID)
	if err != nil {
		return nil, false, err
	}
	refs := h.window(from, desc, n)
	pages, _, err := d.pages(ctx, userID, refs)
	if err != nil {
		return nil, false, err
	}
	var pos []task.Position
	for _, entries := range pages {
		if desc {
			slices.Reverse(entries)
		}
		for _, p := range entries {
			if from != nil && (desc && p.Compare(*from) >= 0 || !desc && p.Compare(*from) <= 0) {
				continue
			}
			pos = append(pos, p)
		}
		if len(pos) > n {
			break
		}
	}
	more := len(pos) > n
	if !more && len(refs) > 0 {
		last := refs[len(refs)-1]
		at := slices.IndexFunc(h.Pages, func(r pageRef) bool { return r.N == last.N })
		more = desc && at > 0 || !desc && at < len(h.Pages)-1
	}
	pos = pos[:min(n, len(pos))]
	tkeys := make([]string, len(pos))
	for i, p := range pos {
		tkeys[i] = taskKey(userID, p.ID)
	}
	tasks, err := d.tasks(ctx, tkeys)
	return tasks, more, err
}

// pages reads the pages refs name, in their order: each page's positions,
// and its ETag by page number.
func (d *Dapr) pages(ctx context.Context, userID string, refs []pageRef) ([][]task.Position, map[int]string, error) {
	keys := make([]string, len(refs))
	for i, r := range refs {
		keys[i] = pageKey(userID, r.N)
	}
	items, err := d.st.GetMany(ctx, keys)
	if err != nil {
		return nil, nil, err
	}
	byKey := map[string]state.Item{}
	for _, it := range items {
		byKey[it.Key] = it
	}
	out := make([][]task.Position, 0, len(refs))
	etags := map[int]string{}
	for i, r := range refs {
		it, ok := byKey[keys[i]]
		if !ok {
			continue
		}
		var pg page
		if err := json.Unmarshal(it.Value, &pg); err != nil {
			return nil, nil, fmt.Errorf("decode %s: %w", it.Key, err)
		}
		out = append(out, pg.Entries)
		etags[r.N] = it.ETag
	}
	return out, etags, nil
}

func (d *Dapr) List(ctx context.Context, userID string) ([]task.Task, error) {
	tasks, _, err := d.Scan(ctx, userID, nil, false, MaxTasks)
	return tasks, err
}

// tasks reads the tasks under keys, in their order; missing ones are left
// out.
func (d *Dapr) tasks(ctx context.Context, keys []string) ([]task.Task, error) {
	items, err := d.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]json.RawMessage, len(items))
	for _, it := range items {
		byKey[it.Key] = it.Value
	}
	out := make([]task.Task, 0, len(keys))
	for _, k := range keys {
		raw, ok := byKey[k]
		if !ok {
			continue
		}
		var t task.Task
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, fmt.Errorf("decode %s: %w", k, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// getMany reads keys readBatch at a time, so no bulk read grows with the
// caller's list; keys not stored are left out.
func (d *Dapr) getMany(ctx context.Context, keys []string) ([]state.Item, error) {
	var out []state.Item
	for chunk := range slices.Chunk(keys, readBatch) {
		items, err := d.st.GetMany(ctx, chunk)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}
