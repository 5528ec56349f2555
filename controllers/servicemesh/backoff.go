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

package servicemesh

import (
	"context"
	"strconv"
	"sync"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// The pace of attempts at a control plane that failed: the first retry after backoffInitial, each next
// one after twice as long, at most backoffMax apart. A failure retrying cannot fix (a chart version the
// repository does not have) is looked at again after backoffMax, in case the version was published since.
const (
	backoffInitial = 5 * time.Second
	backoffMax     = 5 * time.Minute
)

// controlPlaneBackoff paces attempts at the control plane after a failure. The ServiceMesh is woken by
// every change of the objects it reports on (pods churning in an enrolled namespace, Ingresses,
// Services), which would otherwise redo a failed chart lookup (a download of the repository's index) or a
// failed first install (an uninstall and install again) on every wake-up and defeat any backoff. The
// last failure is kept for the ServiceMesh's generation and reported again until its time has come; a
// new generation (the user changed the spec) or a success clears it.
type controlPlaneBackoff struct {
	mu        sync.Mutex
	key       string // UID and generation of the ServiceMesh the failure is of
	failures  int
	last      error
	notBefore time.Time
	now       func() time.Time
}

// pending returns the failure still being waited out for this ServiceMesh generation, and how long is
// left, or nil when an attempt may be made.
func (b *controlPlaneBackoff) pending(key string) (time.Duration, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.key != key || b.last == nil {
		return 0, nil
	}
	left := b.notBefore.Sub(b.clock())
	if left <= 0 {
		return 0, nil
	}
	return left, b.last
}

// record notes the outcome of an attempt and returns how long to wait before the next one (zero when
// no retry is due: a success, or a known wait that paces itself).
func (b *controlPlaneBackoff) record(key string, err error) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	failure := meshctx.Classify(err)
	if err == nil || (failure != nil && failure.RetryAfter > 0) {
		b.key, b.failures, b.last = "", 0, nil
		return 0
	}
	if b.key != key {
		b.key, b.failures = key, 0
	}
	b.failures++
	b.last = err
	wait := backoffMax
	if failure == nil || !failure.Terminal {
		wait = backoffInitial << min(b.failures-1, 16)
		wait = min(wait, backoffMax)
	}
	b.notBefore = b.clock().Add(wait)
	return wait
}

// failuresOf is how many attempts in a row at this ServiceMesh generation have failed, the one whose
// failure is being waited out included; 0 after a success or a known wait, or for another generation.
func (b *controlPlaneBackoff) failuresOf(key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.key != key || b.last == nil {
		return 0
	}
	return b.failures
}

func (b *controlPlaneBackoff) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// backoffKey identifies the ServiceMesh generation a failure belongs to.
func backoffKey(mesh *meshv1alpha1.ServiceMesh) string {
	return string(mesh.UID) + "/" + strconv.FormatInt(mesh.Generation, 10)
}

// reconcileControlPlaneWithBackoff runs the control-plane phase unless a failure of this generation is
// still being waited out. Then that failure is reported again without touching the charts or the
// cluster, and heldFor says how long is left. A fresh failure is returned as it is (a retried one is
// retried and counted as a reconcile error as before); the wake-ups that follow are held until its
// backoff has passed.
func (r *Reconciler) reconcileControlPlaneWithBackoff(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (installed *installation, heldFor time.Duration, err error) {
	key := backoffKey(mesh)
	if left, last := r.backoff.pending(key); last != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Control plane failed recently, not retrying yet", "retryIn", left, "error", last.Error())
		return nil, left, last
	}
	r.controlPlaneWarnings.begin()
	installed, err = r.reconcileControlPlane(ctx, mesh)
	r.controlPlaneWarnings.end()
	if wait := r.backoff.record(key, err); wait > 0 {
		ctrl.LoggerFrom(ctx).V(1).Info("Control plane failed; further attempts held off", "for", wait)
	}
	return installed, 0, err
}
