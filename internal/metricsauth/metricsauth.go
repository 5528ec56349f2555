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

// Package metricsauth guards the manager's metrics endpoint: a request must carry a bearer token that
// the API server accepts (TokenReview), and its user must be allowed the request's verb on its path
// (SubjectAccessReview), as a Prometheus bound to the metrics-reader ClusterRole is.
//
// It does what controller-runtime's metrics/filters package does with the API server's own delegating
// authenticator and authorizer, with the two review APIs called directly. That package links
// k8s.io/apiserver and with it CEL, gRPC and OpenTelemetry exporters, about 10 MB of the binary that
// nothing else uses.
package metricsauth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// How long answers of the API server are reused, as the API server's own delegating authenticator and
// authorizer do for a scraper that comes back every few seconds.
const (
	tokenTTL    = time.Minute
	allowTTL    = 5 * time.Minute
	denyTTL     = 30 * time.Second
	reviewLimit = 10 * time.Second
	// maxCached bounds each cache; a full cache is emptied, never grown.
	maxCached = 1024
)

// retry is the backoff of a review that failed with an error (not a denial).
var retry = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}

// Filter is a metricsserver.FilterProvider: it authenticates and authorizes every request through the
// API server that config points at.
func Filter(config *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	authn, err := authenticationclient.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating the TokenReview client: %w", err)
	}
	authz, err := authorizationclient.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("creating the SubjectAccessReview client: %w", err)
	}
	g := &guard{
		tokens:    authn.TokenReviews(),
		access:    authz.SubjectAccessReviews(),
		users:     cache[user]{},
		decisions: cache[decision]{},
		now:       time.Now,
	}
	return func(log logr.Logger, handler http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			g.serve(log, handler, w, req)
		}), nil
	}, nil
}

type guard struct {
	tokens    authenticationclient.TokenReviewInterface
	access    authorizationclient.SubjectAccessReviewInterface
	mu        sync.Mutex
	users     cache[user]
	decisions cache[decision]
	now       func() time.Time
}

// user is who a token belongs to; ok is false for a token the API server rejected.
type user struct {
	ok   bool
	info authenticationv1.UserInfo
}

type decision struct {
	allowed bool
	reason  string
}

type entry[T any] struct {
	value   T
	expires time.Time
}

type cache[T any] map[[sha256.Size]byte]entry[T]

func (g *guard) serve(log logr.Logger, next http.Handler, w http.ResponseWriter, req *http.Request) {
	token, found := bearerToken(req)
	if !found {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	u, err := g.authenticate(req.Context(), token)
	if err != nil {
		log.Error(err, "Authentication failed")
		http.Error(w, "Authentication failed", http.StatusInternalServerError)
		return
	}
	if !u.ok {
		log.V(4).Info("Authentication failed")
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	d, err := g.authorize(req.Context(), u.info, strings.ToLower(req.Method), req.URL.Path)
	if err != nil {
		log.Error(err, "Authorization failed", "user", u.info.Username)
		http.Error(w, fmt.Sprintf("Authorization for user %s failed", u.info.Username), http.StatusInternalServerError)
		return
	}
	if !d.allowed {
		log.V(4).Info("Authorization denied", "user", u.info.Username, "reason", d.reason)
		http.Error(w, fmt.Sprintf("Authorization denied for user %s", u.info.Username), http.StatusForbidden)
		return
	}
	next.ServeHTTP(w, req)
}

// bearerToken returns the token of an "Authorization: Bearer …" header.
func bearerToken(req *http.Request) (string, bool) {
	scheme, token, found := strings.Cut(strings.TrimSpace(req.Header.Get("Authorization")), " ")
	if !found || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func (g *guard) authenticate(ctx context.Context, token string) (user, error) {
	key := sha256.Sum256([]byte(token))
	if u, ok := lookup(g, g.users, key); ok {
		return u, nil
	}
	var review *authenticationv1.TokenReview
	err := retryOnError(ctx, func(ctx context.Context) (err error) {
		review, err = g.tokens.Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token},
		}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return user{}, fmt.Errorf("reviewing the token: %w", err)
	}
	u := user{ok: review.Status.Authenticated && review.Status.Error == "", info: review.Status.User}
	store(g, g.users, key, u, tokenTTL)
	return u, nil
}

func (g *guard) authorize(ctx context.Context, u authenticationv1.UserInfo, verb, path string) (decision, error) {
	key := accessKey(u, verb, path)
	if d, ok := lookup(g, g.decisions, key); ok {
		return d, nil
	}
	extra := make(map[string]authorizationv1.ExtraValue, len(u.Extra))
	for k, v := range u.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	var review *authorizationv1.SubjectAccessReview
	err := retryOnError(ctx, func(ctx context.Context) (err error) {
		review, err = g.access.Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra,
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
			},
		}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return decision{}, fmt.Errorf("reviewing access to %s %s: %w", verb, path, err)
	}
	d := decision{allowed: review.Status.Allowed && !review.Status.Denied, reason: review.Status.Reason}
	ttl := denyTTL
	if d.allowed {
		ttl = allowTTL
	}
	store(g, g.decisions, key, d, ttl)
	return d, nil
}

// accessKey identifies a question to the authorizer: who (with every group and extra) does what.
func accessKey(u authenticationv1.UserInfo, verb, path string) [sha256.Size]byte {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s", len(s), s) }
	field(u.Username)
	field(u.UID)
	field(verb)
	field(path)
	groups := append([]string(nil), u.Groups...)
	sort.Strings(groups)
	for _, group := range groups {
		field("g")
		field(group)
	}
	keys := make([]string, 0, len(u.Extra))
	for k := range u.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field("x")
		field(k)
		for _, v := range u.Extra[k] {
			field(v)
		}
	}
	var key [sha256.Size]byte
	copy(key[:], h.Sum(nil))
	return key
}

func lookup[T any](g *guard, c cache[T], key [sha256.Size]byte) (T, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := c[key]
	if !ok || !g.now().Before(e.expires) {
		var zero T
		return zero, false
	}
	return e.value, true
}

func store[T any](g *guard, c cache[T], key [sha256.Size]byte, value T, ttl time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(c) >= maxCached {
		clear(c)
	}
	c[key] = entry[T]{value: value, expires: g.now().Add(ttl)}
}

// retryOnError calls review until it succeeds or fails for good, with backoff, each call limited to
// reviewLimit. A refusal (the manager not allowed to create reviews, a malformed review) fails at once.
func retryOnError(ctx context.Context, review func(context.Context) error) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, retry, func(ctx context.Context) (bool, error) {
		callCtx, cancel := context.WithTimeout(ctx, reviewLimit)
		defer cancel()
		last = review(callCtx)
		switch {
		case last == nil:
			return true, nil
		case apierrors.IsForbidden(last), apierrors.IsUnauthorized(last), apierrors.IsBadRequest(last),
			apierrors.IsInvalid(last), apierrors.IsNotFound(last), apierrors.IsMethodNotSupported(last):
			return false, last
		}
		return false, nil
	})
	if last != nil {
		return last
	}
	return err
}
