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

package helm

import (
	"context"
	"errors"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// An install or upgrade makes a hundred requests or so (reads, applies, release records), and one that
// fails fails the whole operation, which the next reconcile starts again. An API server that answers a
// few requests in a hundred with a transient error (an etcd leader change, a restarting replica, a
// load balancer resetting a stream) would then keep a release from ever installing. So the chart
// manager tries each request again, a few times and quickly, when it failed in a way that says nothing
// about the request itself.
var requestBackoff = wait.Backoff{Steps: 4, Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.2}

// retryRequest runs request until it succeeds, fails in a way that is not transient, the backoff's
// steps are spent or ctx ends; it returns request's last error. retryConflict also retries conflicts,
// which only an apply may: it carries no resource version, so its conflict never says the object
// changed since it was read.
func retryRequest(ctx context.Context, retryConflict bool, request func() error) error {
	backoff := requestBackoff
	for {
		err := request()
		if err == nil || backoff.Steps <= 1 || !retriable(err, retryConflict) {
			return err
		}
		ctrl.LoggerFrom(ctx).V(1).Info("Retrying a request the API server could not answer", "error", err.Error())
		timer := time.NewTimer(backoff.Step())
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}

// retriable tells whether a request that failed with err may be tried again.
func retriable(err error, retryConflict bool) bool {
	return transient(err) || retryConflict && apierrors.IsConflict(err)
}

// transient tells whether err says that the API server could not answer, rather than that it refused
// the request: an internal error, a timeout, throttling, or a connection or HTTP/2 stream cut short.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch {
	case apierrors.IsInternalError(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsTooManyRequests(err), apierrors.IsServiceUnavailable(err), apierrors.IsUnexpectedServerError(err):
		return true
	case utilnet.IsConnectionReset(err), utilnet.IsConnectionRefused(err), utilnet.IsProbableEOF(err),
		utilnet.IsHTTP2ConnectionLost(err), utilnet.IsTimeout(err):
		return true
	}
	// An HTTP/2 stream reset by the server (x/net/http2's StreamError, which net/http does not export).
	return strings.Contains(err.Error(), "stream error: stream ID")
}

// retryingClient is a client whose requests are retried by retryRequest.
type retryingClient struct {
	client.Client
}

func (c retryingClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return retryRequest(ctx, false, func() error { return c.Client.Get(ctx, key, obj, opts...) })
}

func (c retryingClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return retryRequest(ctx, false, func() error { return c.Client.List(ctx, list, opts...) })
}

func (c retryingClient) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	return retryRequest(ctx, true, func() error { return c.Client.Apply(ctx, obj, opts...) })
}

// Patch is retried as Apply is when it is a server-side apply (apply.Object's), and on transient errors
// only otherwise.
func (c retryingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	return retryRequest(ctx, patch.Type() == types.ApplyPatchType, func() error { return c.Client.Patch(ctx, obj, patch, opts...) })
}

// Create, Update and Delete are retried on transient errors only: a create or update whose answer was
// lost fails again on retry (already exists, conflict), and the next reconcile reads what happened.
func (c retryingClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	return retryRequest(ctx, false, func() error { return c.Client.Create(ctx, obj, opts...) })
}

func (c retryingClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	return retryRequest(ctx, false, func() error { return c.Client.Update(ctx, obj, opts...) })
}

func (c retryingClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	return retryRequest(ctx, false, func() error { return c.Client.Delete(ctx, obj, opts...) })
}

// retryingReader is a reader whose requests are retried by retryRequest.
type retryingReader struct {
	client.Reader
}

func (r retryingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return retryRequest(ctx, false, func() error { return r.Reader.Get(ctx, key, obj, opts...) })
}

func (r retryingReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return retryRequest(ctx, false, func() error { return r.Reader.List(ctx, list, opts...) })
}
