// Package ids derives deterministic ids: a UUIDv5 of what a thing is, so
// that a retried request or a redelivered event names the same task, event
// or notification as the first attempt did, and storing or publishing it
// again repeats rather than duplicates it.
package ids
