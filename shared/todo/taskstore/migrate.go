package taskstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// The legacy layout: one key listing every user that ever had a task, and
// per user one array of every task id. Tasks themselves are stored under
// the same keys in both layouts.
const legacyUsersKey = "users"

func legacyIndexKey(userID string) string { return "index/" + userID }

type legacyIndex struct {
	IDs []string `json:"ids"`
}

// Migrated counts what Migrate moved.
type Migrated struct {
	Users, Tasks, Skipped int
}

// migrateBatch is how many users' legacy indexes one bulk read checks.
const migrateBatch = 100

// Migrate moves every user of the legacy layout into the paged index and
// the agenda. A user moves in one transaction that also deletes their
// legacy index, so an interrupted run loses nothing, a user is never moved
// twice, and running it again continues with the users left; the legacy
// user list goes last. Tasks written in the new layout meanwhile are kept.
// progress, when set, is called after each user.
func (d *Dapr) Migrate(ctx context.Context, progress func(userID string, tasks int)) (Migrated, error) {
	var res Migrated
	var users legacyIndex
	uetag, err := d.st.Get(ctx, legacyUsersKey, &users)
	if errors.Is(err, state.ErrNotFound) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	for chunk := range slices.Chunk(users.IDs, migrateBatch) {
		keys := make([]string, len(chunk))
		for i, u := range chunk {
			keys[i] = legacyIndexKey(u)
		}
		items, err := d.st.GetMany(ctx, keys)
		if err != nil {
			return res, err
		}
		for _, it := range items {
			if err := ctx.Err(); err != nil {
				return res, err // interrupted: the next run continues
			}
			userID := it.Key[len("index/"):]
			var n int
			err := retry(ctx, func() (err error) {
				n, err = d.migrateUser(ctx, userID)
				return err
			})
			if err != nil {
				return res, fmt.Errorf("user %s: %w", userID, err)
			}
			res.Users++
			res.Tasks += n
			if progress != nil {
				progress(userID, n)
			}
		}
		res.Skipped += len(chunk) - len(items)
	}
	return res, d.st.Apply(ctx, state.Delete(legacyUsersKey, uetag))
}

// migrateUser moves one user's legacy index into the paged index, merged
// with whatever the paged index already holds, and files their pending
// times in the agenda. It returns how many tasks it moved.
func (d *Dapr) migrateUser(ctx context.Context, userID string) (int, error) {
	var legacy legacyIndex
	letag, err := d.st.Get(ctx, legacyIndexKey(userID), &legacy)
	if errors.Is(err, state.ErrNotFound) {
		return 0, nil // moved meanwhile
	}
	if err != nil {
		return 0, err
	}
	h, hetag, err := d.head(ctx, userID)
	if err != nil {
		return 0, err
	}
	pages, pageETags, err := d.pages(ctx, userID, h.Pages)
	if err != nil {
		return 0, err
	}
	all := slices.Concat(pages...)
	keys := make([]string, len(legacy.IDs))
	for i, id := range legacy.IDs {
		keys[i] = taskKey(userID, id)
	}
	moved, err := d.tasks(ctx, keys)
	if err != nil {
		return 0, err
	}
	for _, t := range moved {
		all = append(all, task.PositionOf(t))
	}
	slices.SortFunc(all, task.Position.Compare)
	all = slices.CompactFunc(all, func(a, b task.Position) bool { return a.Compare(b) == 0 })

	// The pages are written anew under fresh numbers and the old ones
	// deleted, all under the head's ETag.
	var ops []state.Op
	for n, etag := range pageETags {
		ops = append(ops, state.Delete(pageKey(userID, n), etag))
	}
	next, pageOps := paginate(userID, h.Next, all)
	ops = append(ops, pageOps...)
	ops = append(ops, putOrCreate(headKey(userID), next, hetag), state.Delete(legacyIndexKey(userID), letag))
	agenda, err := d.agendaOps(ctx, moved...)
	if err != nil {
		return 0, err
	}
	if err := d.st.Transact(ctx, append(ops, agenda...)...); err != nil {
		if errors.Is(err, state.ErrConflict) {
			return 0, errIndexRace
		}
		return 0, err
	}
	return len(moved), nil
}

// paginate lays positions (sorted) out in full pages numbered from first,
// and returns the head over them and the writes of the new pages.
func paginate(userID string, first int, all []task.Position) (head, []state.Op) {
	h := head{Count: len(all), Next: first}
	var ops []state.Op
	for entries := range slices.Chunk(all, PageSize) {
		h.Pages = append(h.Pages, pageRef{N: h.Next, Count: len(entries), First: entries[0]})
		ops = append(ops, state.Create(pageKey(userID, h.Next), page{Entries: entries}))
		h.Next++
	}
	return h, ops
}

// importBatch is about how many writes one transaction of Import carries.
const importBatch = 500

// Import stores the tasks of users who have none yet, many in one
// transaction, with their index and agenda entries: the fast way to load
// a store (benchmarks, restores). A user who already has tasks makes it
// fail with ErrConflict; users of a failed batch are not stored.
func (d *Dapr) Import(ctx context.Context, tasks []task.Task) error {
	byUser := map[string][]task.Task{}
	var users []string
	for _, t := range tasks {
		if _, ok := byUser[t.UserID]; !ok {
			users = append(users, t.UserID)
		}
		byUser[t.UserID] = append(byUser[t.UserID], t)
	}
	var ops []state.Op
	var batch []task.Task
	flush := func() error {
		agenda, err := d.agendaOps(ctx, batch...)
		if err == nil {
			err = d.st.Transact(ctx, append(ops, agenda...)...)
		}
		if errors.Is(err, state.ErrConflict) {
			err = fmt.Errorf("%w: a user already has tasks, or the agenda changed meanwhile: %w", ErrConflict, err)
		}
		ops, batch = nil, nil
		return err
	}
	for _, u := range users {
		ts := byUser[u]
		pos := make([]task.Position, len(ts))
		for i, t := range ts {
			pos[i] = task.PositionOf(t)
			ops = append(ops, state.Create(taskKey(u, t.ID), t))
			if len(ops) >= importBatch {
				// A long list's tasks go ahead of its index: unlisted
				// until the index is written.
				if err := d.st.Transact(ctx, ops...); err != nil {
					return err
				}
				ops = nil
			}
		}
		slices.SortFunc(pos, task.Position.Compare)
		h, pageOps := paginate(u, 0, pos)
		ops = append(append(ops, pageOps...), state.Create(headKey(u), h))
		batch = append(batch, ts...)
		if len(ops) >= importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(ops) == 0 {
		return nil
	}
	return flush()
}
