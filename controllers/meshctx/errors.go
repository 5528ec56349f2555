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
	"context"
	"errors"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Error is a failure the ServiceMesh reports in a condition. It is classified once, where it happens:
// Terminal when retrying the same generation cannot fix it (a chart version that does not exist, a
// spec that passed validation but cannot be carried out), so the generation counts as observed and
// nothing retries it; RetryAfter when it is a known wait (a namespace still being deleted) that is
// retried at that pace rather than with error backoff; otherwise retried with backoff.
type Error struct {
	// Reason is the condition reason, a constant of api/v1alpha1.
	Reason     string
	Terminal   bool
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Terminal returns a failure that retrying the same generation cannot fix.
func Terminal(reason string, err error) error {
	return &Error{Reason: reason, Terminal: true, Err: err}
}

// Recheck returns a failure that retrying the same generation cannot fix, but a change outside the
// spec can (the cluster upgraded to a Kubernetes version the spec needs): the generation counts as
// observed, as for Terminal, and the failure is looked at again after a fixed delay, so the mesh moves
// on by itself once the cluster allows it.
func Recheck(reason string, after time.Duration, err error) error {
	return &Error{Reason: reason, Terminal: true, RetryAfter: after, Err: err}
}

// Retry returns a failure that is retried with backoff.
func Retry(reason string, err error) error { return &Error{Reason: reason, Err: err} }

// Wait returns a failure that is retried after a fixed delay: an expected wait, not an error.
func Wait(reason string, after time.Duration, err error) error {
	return &Error{Reason: reason, RetryAfter: after, Err: err}
}

// Classify returns the failure err carries, or nil when err is not one (a plain error from the API
// server, retried with backoff).
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsTerminal tells whether err is, or wraps, a terminal failure.
func IsTerminal(err error) bool {
	e := Classify(err)
	return e != nil && e.Terminal
}

// Result is what a Reconcile returns for err: nothing to retry for a terminal failure (the ServiceMesh
// reports it; a new generation brings a new attempt) unless it is to be looked at again (Recheck), a
// delayed retry for a wait, and err itself,
// retried with backoff, otherwise.
func Result(ctx context.Context, err error) (ctrl.Result, error) {
	e := Classify(err)
	switch {
	case err == nil:
		return ctrl.Result{}, nil
	case e != nil && e.Terminal && e.RetryAfter > 0:
		ctrl.LoggerFrom(ctx).V(1).Info("Not retrying a failure the ServiceMesh reports before it is due to be looked at again",
			"reason", e.Reason, "after", e.RetryAfter, "error", e.Err.Error())
		return ctrl.Result{RequeueAfter: e.RetryAfter}, nil
	case e != nil && e.Terminal:
		ctrl.LoggerFrom(ctx).V(1).Info("Not retrying a failure the ServiceMesh reports", "reason", e.Reason, "error", e.Err.Error())
		return ctrl.Result{}, nil
	case e != nil && e.RetryAfter > 0:
		return ctrl.Result{RequeueAfter: e.RetryAfter}, nil
	default:
		return ctrl.Result{}, err
	}
}

// Transient tells whether err says only that the API server could not answer for a moment, not that it
// refused the request or that anything is wrong with what was asked: throttling (429), an internal
// error or an unavailable server (500, 503), a timeout on either side, a connection or HTTP/2 stream
// cut short, or a conflict with a write made since the object was read (the next read has it). A
// conflict over fields another field manager owns (server-side apply) is a refusal. An error that
// joins several is transient only when each of them is. Such a failure says nothing about the spec or
// the cluster's objects: the next attempt, a moment later, usually gets past it.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs := joined.Unwrap()
		for _, each := range errs {
			if !Transient(each) {
				return false
			}
		}
		return len(errs) > 0
	}
	if wrapped, ok := err.(interface{ Unwrap() error }); ok && joins(wrapped.Unwrap()) {
		// A failure beside the transient ones may be a refusal: judge each of them.
		return Transient(wrapped.Unwrap())
	}
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case apierrors.IsConflict(err):
		return !apierrors.HasStatusCause(err, metav1.CauseTypeFieldManagerConflict)
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

// Quiet tells whether a failure, the failures-th in a row of the same attempt, goes unreported: one only
// of the API server's making (Transient), on its first attempt. The next attempt, a moment later,
// usually gets past it; if it fails too, the failure persists and is reported.
func Quiet(err error, failures int) bool {
	return failures == 1 && Transient(err)
}

// joins tells whether err, or an error it wraps, joins several.
func joins(err error) bool {
	for err != nil {
		if _, ok := err.(interface{ Unwrap() []error }); ok {
			return true
		}
		err = errors.Unwrap(err)
	}
	return false
}
