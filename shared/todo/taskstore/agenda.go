package taskstore

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/todo-chatbot/functions/shared/runtime/state"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// The agenda says which tasks want something at a given minute: a
// reminder, or a due time past which the task is overdue. Each time a
// pending task carries has an entry under the key of its minute, written
// in the same transaction as the task, so a sweep reads the minutes it
// covers instead of every user's tasks. A minute is split into shards by
// task id, so many tasks due in one minute do not all contend for one key.
//
// A time already past when the task is written is filed under the minute
// of the write, so the next sweep still sees it. Entries are never removed
// when a task changes: they are hints, and the reader checks the task's
// current times. A minute's keys expire AgendaRetention after it.
const (
	AgendaMinute    = time.Minute
	AgendaShards    = 16
	AgendaRetention = 24 * time.Hour
	// readBatch bounds the keys of one bulk read.
	readBatch = 500
)

type agendaEntry struct {
	UserID string `json:"u"`
	TaskID string `json:"t"`
}

type agendaShard struct {
	Entries []agendaEntry `json:"e"`
}

func agendaKey(minute time.Time, shard uint32) string {
	return "agenda/" + minute.UTC().Format("200601021504") + "/" + strconv.Itoa(int(shard))
}

func agendaShardOf(taskID string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(taskID))
	return h.Sum32() % AgendaShards
}

// agendaTimes are the times at which t wants the sweep's attention.
func agendaTimes(t task.Task) []time.Time {
	if t.Completed {
		return nil
	}
	var out []time.Time
	for _, at := range []*time.Time{t.RemindAt, t.DueAt} {
		if at != nil {
			out = append(out, *at)
		}
	}
	return out
}

// agendaMinutes are the minutes t is filed under when written at now.
func agendaMinutes(t task.Task, now time.Time) []time.Time {
	var out []time.Time
	for _, at := range agendaTimes(t) {
		if at.Before(now) {
			at = now
		}
		m := at.UTC().Truncate(AgendaMinute)
		if !slices.ContainsFunc(out, m.Equal) {
			out = append(out, m)
		}
	}
	return out
}

// agendaOps returns the writes that add the entries of tasks to the
// agenda, for the minutes that do not have them yet.
func (d *Dapr) agendaOps(ctx context.Context, tasks ...task.Task) ([]state.Op, error) {
	now := d.Now()
	adds := map[string][]agendaEntry{}
	minutes := map[string]time.Time{}
	var keys []string
	for _, t := range tasks {
		for _, minute := range agendaMinutes(t, now) {
			k := agendaKey(minute, agendaShardOf(t.ID))
			if _, ok := adds[k]; !ok {
				keys = append(keys, k)
				minutes[k] = minute
			}
			adds[k] = append(adds[k], agendaEntry{UserID: t.UserID, TaskID: t.ID})
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	items, err := d.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	stored := make(map[string]state.Item, len(items))
	for _, it := range items {
		stored[it.Key] = it
	}
	var ops []state.Op
	for _, k := range keys {
		var sh agendaShard
		it, ok := stored[k]
		if ok {
			if err := json.Unmarshal(it.Value, &sh); err != nil {
				return nil, fmt.Errorf("decode %s: %w", k, err)
			}
		}
		n := len(sh.Entries)
		for _, e := range adds[k] {
			if !slices.Contains(sh.Entries, e) {
				sh.Entries = append(sh.Entries, e)
			}
		}
		if len(sh.Entries) == n {
			continue
		}
		// Round up, so an entry never expires before its retention ends.
		ttl := minutes[k].Add(AgendaMinute+AgendaRetention).Sub(now) + time.Second
		ops = append(ops, putOrCreate(k, sh, it.ETag).WithTTL(ttl))
	}
	return ops, nil
}

// Agenda returns the tasks with an agenda entry in a minute that overlaps
// [from, to). A task's times may have moved since its entry was written:
// the caller decides from the task as returned.
func (d *Dapr) Agenda(ctx context.Context, from, to time.Time) ([]task.Task, error) {
	var keys []string
	for m := from.UTC().Truncate(AgendaMinute); m.Before(to); m = m.Add(AgendaMinute) {
		for s := range uint32(AgendaShards) {
			keys = append(keys, agendaKey(m, s))
		}
	}
	var taskKeys []string
	seen := map[string]bool{}
	items, err := d.getMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		var sh agendaShard
		if err := json.Unmarshal(it.Value, &sh); err != nil {
			return nil, fmt.Errorf("decode %s: %w", it.Key, err)
		}
		for _, e := range sh.Entries {
			if k := taskKey(e.UserID, e.TaskID); !seen[k] {
				seen[k] = true
				taskKeys = append(taskKeys, k)
			}
		}
	}
	return d.tasks(ctx, taskKeys)
}
