package taskstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/testkit/fakes"
	"github.com/todo-chatbot/functions/shared/todo/task"
	"github.com/todo-chatbot/functions/shared/todo/taskstore"
)

// suite checks the Dapr store's layout over st: fakes.State (a state store
// in memory) and real daprd on SQLite and PostgreSQL run the same checks.
// run keeps the users of one run apart from another's on a shared
// database.
func suite(t *testing.T, st *state.Store, run string) {
	ctx := context.Background()
	s := taskstore.NewDapr(st)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	newTask := func(user, id string, created time.Time) task.Task {
		return task.Task{ID: id, UserID: user, Title: "task " + id, Priority: task.PriorityMedium, CreatedAt: created, UpdatedAt: created}
	}
	ids := func(ts []task.Task) []string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = t.ID
		}
		return out
	}

	t.Run("index pages keep creation order through splits and deletes", func(t *testing.T) {
		user := run + "-pages"
		const n = 2*taskstore.PageSize + 50
		var want []string
		for i := range n {
			// Every seventh task was created "earlier", so it lands in an
			// older page, as with a skewed clock.
			created := t0.Add(time.Duration(i) * time.Second)
			if i%7 == 6 {
				created = t0.Add(time.Duration(i-5)*time.Second - time.Millisecond)
			}
			tk := newTask(user, fmt.Sprintf("t%04d", i), created)
			require.NoError(t, s.Create(ctx, tk))
			want = append(want, tk.ID)
		}
		order := func(id string) task.Position {
			tk, _, err := s.Get(ctx, user, id)
			require.NoError(t, err)
			return task.PositionOf(tk)
		}
		slices.SortFunc(want, func(a, b string) int { return order(a).Compare(order(b)) })

		all, err := s.List(ctx, user)
		require.NoError(t, err)
		assert.Equal(t, want, ids(all))

		walk := func(desc bool, step int) []string {
			var got []string
			var from *task.Position
			for {
				page, more, err := s.Scan(ctx, user, from, desc, step)
				require.NoError(t, err)
				require.LessOrEqual(t, len(page), step)
				got = append(got, ids(page)...)
				if !more {
					return got
				}
				require.NotEmpty(t, page)
				p := task.PositionOf(page[len(page)-1])
				from = &p
			}
		}
		assert.Equal(t, want, walk(false, 37))
		rev := slices.Clone(want)
		slices.Reverse(rev)
		assert.Equal(t, rev, walk(true, 50))

		// Delete a run long enough to empty a page, and every fifth task.
		var kept []string
		for i, id := range want {
			if (i >= 10 && i < 10+taskstore.PageSize) || i%5 == 0 {
				_, v, err := s.Get(ctx, user, id)
				require.NoError(t, err)
				require.NoError(t, s.Delete(ctx, user, id, v))
				continue
			}
			kept = append(kept, id)
		}
		assert.Equal(t, kept, walk(false, 20))
		first, more, err := s.Scan(ctx, user, nil, false, 3)
		require.NoError(t, err)
		assert.True(t, more)
		assert.Equal(t, kept[:3], ids(first))

		_, v, err := s.Get(ctx, user, kept[0])
		require.NoError(t, err)
		assert.ErrorIs(t, s.Delete(ctx, user, kept[0], "stale-"+v), taskstore.ErrConflict)
		assert.ErrorIs(t, s.Create(ctx, newTask(user, kept[0], t0)), taskstore.ErrConflict)
	})

	t.Run("complete stores the next occurrence in the index", func(t *testing.T) {
		user := run + "-complete"
		tk := newTask(user, "r", t0)
		require.NoError(t, s.Create(ctx, tk))
		_, v, err := s.Get(ctx, user, "r")
		require.NoError(t, err)
		done, next := tk, newTask(user, "r-next", t0.Add(time.Minute))
		done.Completed, done.CompletedAt = true, &t0
		require.NoError(t, s.Complete(ctx, done, v, &next))
		all, err := s.List(ctx, user)
		require.NoError(t, err)
		assert.Equal(t, []string{"r", "r-next"}, ids(all))
		assert.True(t, all[0].Completed)
	})

	t.Run("concurrent creates of one user and of new users lose nothing", func(t *testing.T) {
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 8 {
					created := time.Now().UTC()
					assert.NoError(t, s.Create(ctx, newTask(run+"-busy", fmt.Sprintf("w%d-%d", w, i), created)))
					assert.NoError(t, s.Create(ctx, newTask(fmt.Sprintf("%s-new-%d-%d", run, w, i), "first", created)))
				}
			}()
		}
		wg.Wait()
		all, err := s.List(ctx, run+"-busy")
		require.NoError(t, err)
		assert.Len(t, all, 48)
		for w := range 6 {
			got, err := s.List(ctx, fmt.Sprintf("%s-new-%d-7", run, w))
			require.NoError(t, err)
			assert.Equal(t, []string{"first"}, ids(got))
		}
	})

	t.Run("the agenda files reminders and due times by minute", func(t *testing.T) {
		user := run + "-agenda"
		now := time.Now().UTC()
		at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
		remind := newTask(user, "remind", now)
		remind.RemindAt = at(3 * time.Minute)
		due := newTask(user, "due", now)
		due.DueAt = at(6 * time.Minute)
		done := newTask(user, "done", now)
		done.RemindAt, done.Completed, done.CompletedAt = at(3*time.Minute), true, &now
		late := newTask(user, "late", now)
		late.DueAt = at(-time.Hour) // already past: filed under the minute of the write
		for _, tk := range []task.Task{remind, due, done, late} {
			require.NoError(t, s.Create(ctx, tk))
		}
		mine := func(from, to time.Duration) []string {
			got, err := s.Agenda(ctx, now.Add(from), now.Add(to))
			require.NoError(t, err)
			var out []string
			for _, tk := range got {
				if tk.UserID == user {
					out = append(out, tk.ID)
				}
			}
			slices.Sort(out)
			return out
		}
		assert.Equal(t, []string{"late"}, mine(0, time.Minute))
		assert.Equal(t, []string{"remind"}, mine(2*time.Minute, 4*time.Minute))
		assert.Equal(t, []string{"due"}, mine(5*time.Minute, 7*time.Minute))

		// Moving the reminder files it under its new minute too.
		cur, v, err := s.Get(ctx, user, "remind")
		require.NoError(t, err)
		cur.RemindAt = at(20 * time.Minute)
		require.NoError(t, s.Update(ctx, cur, v))
		assert.Equal(t, []string{"remind"}, mine(19*time.Minute, 21*time.Minute))

		// A deleted task leaves its entries, but is not returned.
		_, v, err = s.Get(ctx, user, "due")
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, user, "due", v))
		assert.Empty(t, mine(5*time.Minute, 7*time.Minute))
	})

	t.Run("import loads new users in bulk", func(t *testing.T) {
		now := time.Now().UTC()
		var tasks []task.Task
		for u := range 3 {
			for i := range 1 + u*350 {
				tk := newTask(fmt.Sprintf("%s-import-%d", run, u), fmt.Sprintf("i%04d", i), t0.Add(-time.Duration(i)*time.Second))
				if i == 0 {
					r := now.Add(10 * time.Minute)
					tk.RemindAt = &r
				}
				tasks = append(tasks, tk)
			}
		}
		require.NoError(t, s.Import(ctx, tasks))
		for u := range 3 {
			all, err := s.List(ctx, fmt.Sprintf("%s-import-%d", run, u))
			require.NoError(t, err)
			require.Len(t, all, 1+u*350)
			assert.Equal(t, fmt.Sprintf("i%04d", u*350), all[0].ID, "creation order")
		}
		agenda, err := s.Agenda(ctx, now.Add(9*time.Minute), now.Add(11*time.Minute))
		require.NoError(t, err)
		filed := 0
		for _, tk := range agenda {
			if tk.ID == "i0000" && strings.HasPrefix(tk.UserID, run+"-import-") {
				filed++
			}
		}
		assert.Equal(t, 3, filed, "every imported reminder is in the agenda")
		assert.ErrorIs(t, s.Import(ctx, tasks[:1]), taskstore.ErrConflict, "import is for new users only")
	})

	t.Run("migration from the legacy layout, interrupted and run again", func(t *testing.T) {
		migration(t, st, s, run)
	})
}

// migration writes the legacy layout, migrates it with an interruption,
// and finds every task, index entry and pending reminder.
func migration(t *testing.T, st *state.Store, s *taskstore.Dapr, run string) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	type legacy struct {
		IDs []string `json:"ids"`
	}
	var users []string
	want := map[string][]string{}
	var pending []string // user/task with a reminder due ahead
	for u := range 5 {
		user := fmt.Sprintf("%s-legacy-%d", run, u)
		users = append(users, user)
		var ix legacy
		for i := range 3 + u*60 {
			tk := task.Task{ID: fmt.Sprintf("l%03d", i), UserID: user, Title: "old", Priority: task.PriorityLow,
				CreatedAt: now.Add(time.Duration(i-1000) * time.Minute), UpdatedAt: now}
			if i%10 == 0 {
				r := now.Add(time.Duration(10+i) * time.Minute)
				tk.RemindAt = &r
				pending = append(pending, user+"/"+tk.ID)
			}
			require.NoError(t, st.Apply(ctx, state.Put("task/"+user+"/"+tk.ID, tk, "")))
			ix.IDs = append(ix.IDs, tk.ID)
			want[user] = append(want[user], tk.ID)
		}
		require.NoError(t, st.Apply(ctx, state.Put("index/"+user, ix, "")))
	}
	// A task created in the new layout before the migration ran.
	fresh := task.Task{ID: "new", UserID: users[1], Title: "new", Priority: task.PriorityLow, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.Create(ctx, fresh))
	want[users[1]] = append(want[users[1]], "new")
	require.NoError(t, st.Apply(ctx, state.Put("users", legacy{IDs: users}, "")))

	// Interrupted after two users.
	cctx, cancel := context.WithCancel(ctx)
	moved := 0
	_, err := s.Migrate(cctx, func(string, int) {
		if moved++; moved == 2 {
			cancel()
		}
	})
	require.Error(t, err, "the interrupted run says so")

	res, err := s.Migrate(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, len(users)-2, res.Users, "the second run moves only the users left")
	assert.Equal(t, 2, res.Skipped)

	for _, user := range users {
		all, err := s.List(ctx, user)
		require.NoError(t, err)
		got := make([]string, len(all))
		for i, tk := range all {
			got[i] = tk.ID
		}
		assert.Equal(t, want[user], got, "every task of %s, in creation order", user)
		var gone legacy
		_, err = st.Get(ctx, "index/"+user, &gone)
		assert.ErrorIs(t, err, state.ErrNotFound, "the legacy index of %s is gone", user)
	}
	var gone legacy
	_, err = st.Get(ctx, "users", &gone)
	assert.ErrorIs(t, err, state.ErrNotFound, "the legacy user list goes last")

	agenda, err := s.Agenda(ctx, now, now.Add(24*time.Hour))
	require.NoError(t, err)
	var filed []string
	for _, tk := range agenda {
		if slices.Contains(users, tk.UserID) && tk.RemindAt != nil {
			filed = append(filed, tk.UserID+"/"+tk.ID)
		}
	}
	assert.ElementsMatch(t, pending, filed, "every pending reminder is in the agenda")

	res, err = s.Migrate(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, taskstore.Migrated{}, res, "a migrated store has nothing left to move")
}

func TestStoreOverFakeState(t *testing.T) {
	fake := fakes.NewState(nil)
	suite(t, state.New(fake, "tasks"), "fake")
}

func TestListReadsOnTheOrderOfItsPage(t *testing.T) {
	fake := fakes.NewState(nil)
	s := taskstore.NewDapr(state.New(fake, "tasks"))
	ctx := context.Background()
	t0 := time.Now().UTC()
	cost := map[int]int{}
	for i := range 3000 {
		require.NoError(t, s.Create(ctx, task.Task{ID: fmt.Sprintf("t%05d", i), UserID: "u", Title: "t",
			Priority: task.PriorityLow, CreatedAt: t0.Add(time.Duration(i) * time.Second)}))
		if n := i + 1; n == 10 || n == 3000 {
			before := fake.Reads()
			page, _, err := s.Scan(ctx, "u", nil, true, 20)
			require.NoError(t, err)
			require.Len(t, page, min(20, n))
			cost[n] = fake.Reads() - before
		}
	}
	assert.LessOrEqual(t, cost[3000], 2+2+20, "the head, at most two pages and the page's tasks: %v", cost)
}

func TestTaskLimitOverFakeState(t *testing.T) {
	s := taskstore.NewDapr(state.New(fakes.NewState(nil), "tasks"))
	ctx := context.Background()
	t0 := time.Now().UTC()
	mk := func(id string) task.Task {
		return task.Task{ID: id, UserID: "u", Title: "t", Priority: task.PriorityLow, CreatedAt: t0, UpdatedAt: t0}
	}
	var all []task.Task
	for i := range taskstore.MaxTasks {
		all = append(all, mk(fmt.Sprintf("t%05d", i)))
	}
	require.NoError(t, s.Import(ctx, all))
	assert.ErrorIs(t, s.Create(ctx, mk("one-more")), taskstore.ErrFull)

	_, v, err := s.Get(ctx, "u", "t00000")
	require.NoError(t, err)
	next := mk("next")
	assert.ErrorIs(t, s.Complete(ctx, all[0], v, &next), taskstore.ErrFull, "a next occurrence counts too")

	require.NoError(t, s.Delete(ctx, "u", "t00000", v))
	require.NoError(t, s.Create(ctx, mk("one-more")), "a delete makes room")
}

// The keys a sweep's agenda read and a create touch depend on the work,
// not on how many users or tasks the store holds.
func TestCostFollowsTheWorkOverFakeState(t *testing.T) {
	fake := fakes.NewState(nil)
	s := taskstore.NewDapr(state.New(fake, "tasks"))
	ctx := context.Background()
	now := time.Now().UTC()
	seeded := 0
	seed := func(users int) {
		var ts []task.Task
		for u := seeded; u < users; u++ {
			tk := task.Task{ID: "t", UserID: fmt.Sprintf("u%06d", u), Title: "t", Priority: task.PriorityLow, CreatedAt: now, UpdatedAt: now}
			if u%100 == 0 { // 1% with a reminder in the next week
				r := now.Add(time.Hour + time.Duration(u)*time.Minute%(7*24*time.Hour))
				tk.RemindAt = &r
			}
			ts = append(ts, tk)
		}
		require.NoError(t, s.Import(ctx, ts))
		seeded = users
	}
	sweepReads := func() int {
		before := fake.Reads()
		_, err := s.Agenda(ctx, now.Add(-5*time.Minute), now.Add(2*time.Minute))
		require.NoError(t, err)
		return fake.Reads() - before
	}
	seed(1000)
	small := sweepReads()
	seed(20000)
	assert.Equal(t, small, sweepReads(), "the agenda read of one run is the same at 1,000 and 20,000 users")

	createReads := func(user string, i int) int {
		before := fake.Reads()
		require.NoError(t, s.Create(ctx, task.Task{ID: fmt.Sprintf("c%05d", i), UserID: user, Title: "t", Priority: task.PriorityLow,
			CreatedAt: now.Add(time.Duration(i) * time.Millisecond), UpdatedAt: now}))
		return fake.Reads() - before
	}
	var bulk []task.Task
	for i := range taskstore.MaxTasks - 1 {
		bulk = append(bulk, task.Task{ID: fmt.Sprintf("b%05d", i), UserID: "big", Title: "t", Priority: task.PriorityLow,
			CreatedAt: now.Add(-time.Duration(i) * time.Second), UpdatedAt: now})
	}
	require.NoError(t, s.Import(ctx, bulk))
	createReads("fresh", 0)
	assert.Equal(t, createReads("fresh", 1), createReads("big", 1), "a create reads as many keys at a user's 10,000th task as at the 2nd")
}
