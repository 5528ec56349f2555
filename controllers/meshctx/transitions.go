/*
Copyright 2026 The meshkeeper Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package meshctx

import "sync"

// Transitions remembers, per key, the message last reported, so that a Warning marks a change only: a
// problem seen again on every reconcile is reported once. Safe for concurrent reconciles.
type Transitions struct{ last sync.Map }

// Changed records message for key and tells whether it differs from what was recorded before.
func (t *Transitions) Changed(key, message string) bool {
	previous, ok := t.last.Swap(key, message)
	return !ok || previous != message
}

// Forget drops key: the next report of it counts as a change.
func (t *Transitions) Forget(key string) { t.last.Delete(key) }

// ForgetAll drops every key: every next report counts as a change.
func (t *Transitions) ForgetAll() { t.last.Clear() }

// ForgetIf drops every key for which gone is true.
func (t *Transitions) ForgetIf(gone func(key string) bool) {
	t.last.Range(func(key, _ any) bool {
		if k := key.(string); gone(k) {
			t.last.Delete(k)
		}
		return true
	})
}

// FailuresInARow counts, per write (its key), the times in a row it failed, for the Quiet rule. Safe
// for concurrent reconciles.
type FailuresInARow struct{ count sync.Map } // key → failures in a row

// Add counts one more failure for key and returns how many in a row there are.
func (f *FailuresInARow) Add(key string) int {
	for {
		previous, loaded := f.count.LoadOrStore(key, 1)
		if !loaded {
			return 1
		}
		if f.count.CompareAndSwap(key, previous, previous.(int)+1) {
			return previous.(int) + 1
		}
	}
}

// Forget drops the failures of key: its next failure is the first in a row.
func (f *FailuresInARow) Forget(key string) { f.count.Delete(key) }

// ForgetAll drops the failures of every key.
func (f *FailuresInARow) ForgetAll() { f.count.Clear() }

// ForgetIf drops the failures of every key for which gone is true; gone is not called when no key has
// any.
func (f *FailuresInARow) ForgetIf(gone func(key string) bool) {
	f.count.Range(func(key, _ any) bool {
		if k := key.(string); gone(k) {
			f.count.Delete(k)
		}
		return true
	})
}

// RefusedWrites remembers, per write (its key), how many times in a row it failed and the answer last
// reported, so that a Warning about a refused write marks a change of the API server's answer only,
// and a failure only of the API server's making is reported from its second in a row on (Quiet). Safe
// for concurrent reconciles.
type RefusedWrites struct {
	reported Transitions
	failures FailuresInARow
}

// Failed counts a failure of the write at key, whose report would say message. It tells whether the
// failure is reported (not Quiet), and whether the report is news (its message differs from the last
// one reported for key).
func (r *RefusedWrites) Failed(key, message string, err error) (reported, news bool) {
	if Quiet(err, r.failures.Add(key)) {
		return false, false
	}
	return true, r.reported.Changed(key, message)
}

// Succeeded forgets the failures of the write at key: it went through, there was nothing to write, or
// its object is gone.
func (r *RefusedWrites) Succeeded(key string) {
	r.reported.Forget(key)
	r.failures.Forget(key)
}
