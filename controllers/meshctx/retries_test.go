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

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// A reconcile that keeps failing is retried at least every RetryCap, whatever the number of failures:
// the reconcile-errors alert counts on one error at least every 10 minutes.
func TestFailedReconcilesAreRetriedWithinTheCap(t *testing.T) {
	limiter := ControllerOptions(4).RateLimiter
	req := reconcile.Request{NamespacedName: types.NamespacedName{Name: "shop"}}
	var last time.Duration
	for range 40 {
		last = limiter.When(req)
		if last > RetryCap {
			t.Fatalf("a failed reconcile waits %s before its retry, more than %s", last, RetryCap)
		}
	}
	if last != RetryCap {
		t.Errorf("after 40 failures the retry waits %s, want the cap %s", last, RetryCap)
	}
	limiter.Forget(req)
	if got := limiter.When(req); got != 5*time.Millisecond {
		t.Errorf("after a success the first retry waits %s, want 5ms", got)
	}
}
