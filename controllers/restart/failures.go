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

package restart

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

const (
	// restartRetryInitial is how long a workload whose restart failed once waits before meshkeeper
	// tries it again; each further failure in a row doubles it, up to restartRetryMax.
	restartRetryInitial = time.Second
	restartRetryMax     = 5 * time.Minute
)

// restartFailures remembers, by key, how many restarts of a workload failed in a row and when the last
// did. A workload whose restart failed is tried again only once its backoff has passed: a pass runs on
// every change of a pod or a workload of the cluster, and a refusal (an admission policy that rejects
// the workload's template as it is) would otherwise be sent again on each of them. The failures are of
// the workload of a UID: another workload of the key (one deleted and created again under its name
// between two passes, kubectl replace --force) starts with none. The zero value is ready to use; safe
// for concurrent use.
type restartFailures struct {
	mu    sync.Mutex
	byKey map[string]restartFailure
}

type restartFailure struct {
	uid    types.UID
	inARow int
	last   time.Time
	// warned tells whether the last failure was named in a Warning (not meshctx.Quiet).
	warned bool
}

// Add counts one more failure of key, the workload of uid, err at now, and tells whether it is to be
// named in a Warning: not when it is the first in a row and only of the API server's making
// (meshctx.Quiet).
func (f *restartFailures) Add(key string, uid types.UID, err error, now time.Time) (warn bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byKey == nil {
		f.byKey = map[string]restartFailure{}
	}
	failure := f.byKey[key]
	if failure.uid != uid {
		failure = restartFailure{uid: uid}
	}
	failure.inARow++
	failure.last = now
	failure.warned = !meshctx.Quiet(err, failure.inARow)
	f.byKey[key] = failure
	return failure.warned
}

// RetryIn returns how long the restart of key, the workload of uid, still waits for its backoff at
// now, zero when it may be tried, and whether its last failure was named in a Warning.
func (f *restartFailures) RetryIn(key string, uid types.UID, now time.Time) (time.Duration, bool) {
	f.mu.Lock()
	failure, ok := f.byKey[key]
	f.mu.Unlock()
	if !ok || failure.uid != uid {
		return 0, false
	}
	backoff := restartRetryMax
	if failure.inARow <= 16 { // beyond, the shift would pass the cap anyway
		backoff = min(restartRetryInitial<<(failure.inARow-1), restartRetryMax)
	}
	return max(failure.last.Add(backoff).Sub(now), 0), failure.warned
}

// Forget drops the failures of key: its next failure is the first in a row.
func (f *restartFailures) Forget(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.byKey, key)
}

// ForgetAll drops the failures of every key.
func (f *restartFailures) ForgetAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.byKey)
}

// ForgetIf drops the failures of every key for which gone is true; gone is not called when no key has
// any.
func (f *restartFailures) ForgetIf(gone func(key string) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for key := range f.byKey {
		if gone(key) {
			delete(f.byKey, key)
		}
	}
}
