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

package charts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var (
	// ErrChartNotFound means the repository (or the built-in set) has no chart of that name and version.
	ErrChartNotFound = errors.New("chart not found")
	// ErrRepositoryUnreachable means the repository could not be asked (network, TLS, authentication, a
	// malformed index).
	ErrRepositoryUnreachable = errors.New("chart repository unreachable")
)

// Set is the charts of one mesh at one version: the pair of the control plane and, when the Source
// asked for it, the CNI node agent's.
type Set struct {
	// Version is the chart version: the Istio version the charts were released with.
	Version      string
	Base         *chartv2.Chart
	BaseDigest   string
	Istiod       *chartv2.Chart
	IstiodDigest string
	// CNI is nil unless the Source asked for it.
	CNI       *chartv2.Chart
	CNIDigest string
}

// Source is where a control plane's charts and images come from.
type Source struct {
	// Repository is the Helm repository or OCI registry of the charts; "" means the built-in charts.
	Repository string
	// Version is the chart version: the Istio version.
	Version string
	// CredentialsSecret names the Secret with the repository's credentials (spec.charts.credentialsSecret
	// in spec.namespace); an empty name means anonymous access.
	CredentialsSecret types.NamespacedName
	// ImageHubs are the hubs the rendered charts pull images from (render.ImageHubs).
	ImageHubs []string
	// CNI asks for the CNI chart too, from the same place and of the same version.
	CNI bool
}

// Resolver finds the charts of a control plane.
type Resolver interface {
	// Resolve returns the charts of source. Errors wrap ErrRepositoryNotAllowed or
	// ErrImageHubNotAllowed when the source is outside the installer's allow-lists, and
	// ErrChartNotFound or ErrRepositoryUnreachable when the charts cannot be had.
	Resolve(ctx context.Context, source Source) (Set, error)
}

// Fetcher loads one chart of a version from a Helm repository (https://…) or OCI registry (oci://…)
// with the given credentials (zero: anonymous), and returns it with the digest that identifies its
// content.
type Fetcher interface {
	Fetch(ctx context.Context, repository, name, version string, credentials Credentials) (*chartv2.Chart, string, error)
}

// CachingResolver checks a Source against the Policy, serves the built-in charts and fetches others
// through a Fetcher. A chart version in a repository is immutable, so a set is fetched once and kept
// while it is asked for (see repositorySetIdle), for the credentials it was fetched with; the built-in
// charts are loaded once.
type CachingResolver struct {
	Fetcher Fetcher
	// Policy is what the operator's installer allows; the zero Policy allows Istio's official chart
	// repositories and image hubs.
	Policy Policy
	// Secrets reads credentials Secrets; needed only for sources that name one.
	Secrets client.Reader

	// mu is held through a whole Resolve, the fetches included, so that a set is loaded once.
	mu sync.Mutex
	// builtin is the built-in set, its CNI chart loaded once a Source asks for it. Its charts are the
	// same whatever patch release asks for them, so one copy serves every version HasBuiltin accepts.
	builtin *Set
	// cache holds the sets fetched from repositories, by repository, version, CNI flag and the identity
	// of the credentials they were fetched with, with when each was last resolved.
	cache map[string]cachedSet
	// now is the clock of the cache; nil means time.Now.
	now func() time.Time
}

// cachedSet is a set fetched from a repository and when it was last resolved.
type cachedSet struct {
	set  Set
	used time.Time
}

// repositorySetIdle is how long a set fetched from a repository is kept without being resolved (a set
// of three charts is over a megabyte). Every reconcile of a mesh resolves its version and those of all
// its installed revisions, however many there are, and a mesh in use is reconciled whenever its pods,
// namespaces or services change, as a rule far more often than this, so the sets in use keep their
// charts, which the chart manager recognises by pointer. A bound on the number of sets would not
// do: a mesh with more revisions installed than the bound would drop and fetch each of its sets again
// on every reconcile. A version no longer asked for is dropped when a set is next fetched, instead of
// being kept for the life of the manager; a set dropped while still in use is only fetched again, with
// the same digests.
const repositorySetIdle = time.Hour

// Resolve implements Resolver. The allow-lists are checked before anything is fetched or served from
// the cache, so a source outside them changes nothing.
func (r *CachingResolver) Resolve(ctx context.Context, source Source) (Set, error) {
	if err := r.Policy.CheckImageHubs(source.ImageHubs); err != nil {
		return Set{}, err
	}
	if err := r.Policy.CheckRepository(source.Repository); err != nil {
		return Set{}, err
	}
	repository, version := source.Repository, source.Version
	if repository == "" {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.builtinSet(version, source.CNI)
	}
	// The credentials are read on every resolve, and a set is kept for the credentials it was fetched
	// with: a set the repository gave one Secret's credentials is not served to a source whose Secret
	// is gone, or holds credentials the repository may refuse, until the repository has been asked with
	// them.
	credentials, err := r.credentials(ctx, source)
	if err != nil {
		return Set{}, err
	}
	key := fmt.Sprintf("%s\x00%s\x00%t\x00%s", repository, version, source.CNI, credentials.identity())
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock()
	if cached, ok := r.cache[key]; ok {
		cached.used = now
		r.cache[key] = cached
		return cached.set, nil
	}
	set, err := r.fetchSet(ctx, repository, version, credentials, source.CNI)
	if err != nil {
		return Set{}, err
	}
	if r.cache == nil {
		r.cache = map[string]cachedSet{}
	}
	// Sets are dropped only here, when one is added, so a resolver that fetches nothing new keeps what
	// it has. Idle is measured from the latest resolve of a cached set, not from now: after a quiet
	// spell without reconciles, the sets its last reconcile asked for are all as recent as that, and
	// stay for the next one.
	var latest time.Time
	for _, cached := range r.cache {
		latest = later(latest, cached.used)
	}
	for k, cached := range r.cache {
		if latest.Sub(cached.used) > repositorySetIdle {
			delete(r.cache, k)
		}
	}
	r.cache[key] = cachedSet{set: set, used: now}
	return set, nil
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// clock is the time of the cache.
func (r *CachingResolver) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// builtinSet serves the built-in charts for their own minor version: the charts of a minor release
// fit its patch releases, so 1.31.x runs on the built-in 1.31 charts with 1.31.x images. Another
// minor version needs its own charts from a repository. Every version gets the same charts, with
// the built-in version, loaded on first use. r.mu is held.
func (r *CachingResolver) builtinSet(version string, cni bool) (Set, error) {
	if !HasBuiltin(version) {
		return Set{}, fmt.Errorf("%w: the built-in charts are Istio %s and serve %s.x; set spec.charts.repository to a Helm repository or OCI registry that has the %s charts",
			ErrChartNotFound, BuiltinVersion, minor(BuiltinVersion), version)
	}
	if r.builtin == nil {
		base, err := Builtin(Base)
		if err != nil {
			return Set{}, err
		}
		istiod, err := Builtin(Istiod)
		if err != nil {
			return Set{}, err
		}
		r.builtin = &Set{Version: BuiltinVersion, Base: base, BaseDigest: Digest(base), Istiod: istiod, IstiodDigest: Digest(istiod)}
	}
	if cni && r.builtin.CNI == nil {
		chart, err := Builtin(CNI)
		if err != nil {
			return Set{}, err
		}
		r.builtin.CNI, r.builtin.CNIDigest = chart, Digest(chart)
	}
	set := *r.builtin
	if !cni {
		set.CNI, set.CNIDigest = nil, ""
	}
	return set, nil
}

func (r *CachingResolver) fetchSet(ctx context.Context, repository, version string, credentials Credentials, cni bool) (Set, error) {
	if r.Fetcher == nil {
		return Set{}, fmt.Errorf("%w: no chart fetcher configured for %s", ErrRepositoryUnreachable, RedactURL(repository))
	}
	base, baseDigest, err := r.Fetcher.Fetch(ctx, repository, Base, version, credentials)
	if err != nil {
		return Set{}, err
	}
	istiod, istiodDigest, err := r.Fetcher.Fetch(ctx, repository, Istiod, version, credentials)
	if err != nil {
		return Set{}, err
	}
	set := Set{Version: version, Base: base, BaseDigest: baseDigest, Istiod: istiod, IstiodDigest: istiodDigest}
	if cni {
		if set.CNI, set.CNIDigest, err = r.Fetcher.Fetch(ctx, repository, CNI, version, credentials); err != nil {
			return Set{}, err
		}
	}
	return set, nil
}

// HasBuiltin tells whether the built-in charts serve version (see builtinSet).
func HasBuiltin(version string) bool { return minor(version) == minor(BuiltinVersion) }

// minor is "MAJOR.MINOR" of a version.
func minor(version string) string {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return version
	}
	return parts[0] + "." + parts[1]
}
