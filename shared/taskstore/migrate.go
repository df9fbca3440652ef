package taskstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/todo-chatbot/functions/shared/state"
	"github.com/todo-chatbot/functions/shared/task"
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
	next := head{Count: len(all), Next: h.Next}
	for entries := range slices.Chunk(all, PageSize) {
		pg := page{Entries: entries}
		next.Pages = append(next.Pages, pageRef{N: next.Next, Count: len(entries), First: entries[0]})
		ops = append(ops, state.Create(pageKey(userID, next.Next), pg))
		next.Next++
	}
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
