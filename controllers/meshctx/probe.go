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
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8sdiscovery "k8s.io/client-go/discovery"
	ctrl "sigs.k8s.io/controller-runtime"
)

// groupVersionLister is what ProbingMapper needs of the API server: one group version's resources
// (GET /apis/<group>/<version>, NotFound while the group version is not served), and whether a
// resource's watch cache serves yet.
type groupVersionLister interface {
	ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error)
	WatchCacheReady(gvr schema.GroupVersionResource) bool
}

// noSuchName is a field selector's object name no object can have (names are DNS subdomains).
const noSuchName = "-"

// cacheProbeTimeout bounds one probe of a watch cache.
const cacheProbeTimeout = 10 * time.Second

// apiServer is a groupVersionLister on the API server's discovery endpoints.
type apiServer struct{ *k8sdiscovery.DiscoveryClient }

// WatchCacheReady tells whether the API server's watch cache of gvr serves: a list from the cache that
// selects nothing, asked once, without the client's retries. The API server sets a kind's storage up on
// the first request for it after its CRD was Established, and answers every watch of it with 429 and
// Retry-After: 1 until the cache has loaded: a watch (an informer's) that comes first waits a whole
// second. Only a 429 says no; any other answer is left to the watch itself.
func (a apiServer) WatchCacheReady(gvr schema.GroupVersionResource) bool {
	ctx, cancel := context.WithTimeout(context.Background(), cacheProbeTimeout)
	defer cancel()
	prefix := "/apis/" + gvr.Group
	if gvr.Group == "" {
		prefix = "/api"
	}
	err := a.RESTClient().Get().AbsPath(prefix, gvr.Version, gvr.Resource).
		Param("resourceVersion", "0"). // from the cache, without waiting for it to be fresh
		Param("fieldSelector", "metadata.name="+noSuchName).
		MaxRetries(0).Do(ctx).Error()
	return !apierrors.IsTooManyRequests(err)
}

// ProbingMapper maps kinds as the manager's REST mapper does, but asks discovery for a kind's group
// version before it lets the mapper look for a kind it has not mapped yet, and answers a kind served
// only once its watch cache serves too (see apiServer.WatchCacheReady), so that the watches its
// callers start on hearing of it do not wait a second for the cache. The mapper answers a kind it
// cannot map by asking discovery and then rebuilding itself whole from every API group it knows (1.3 MB
// of allocations a time); KindsServed asks every discoveryInterval while the Istio CRDs are being
// established, and for a minute when they are never installed. The probe is one small request, and the
// mapper is asked once the kind is listed. A kind the mapper mapped once is asked of the mapper only, so
// what it answers for served kinds is the mapper's (which never forgets a kind).
type ProbingMapper struct {
	mapper mapper
	lister groupVersionLister
	mu     sync.Mutex
	mapped map[schema.GroupVersionKind]bool
}

// NewProbingMapper returns the probing mapper of mgr's REST mapper, asking discovery through mgr's
// HTTP client.
func NewProbingMapper(mgr ctrl.Manager) (*ProbingMapper, error) {
	d, err := k8sdiscovery.NewDiscoveryClientForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, err
	}
	return newProbingMapper(mgr.GetRESTMapper(), apiServer{d}), nil
}

// NewKindsServedFor returns the wait for kinds on mgr's discovery, asked through a ProbingMapper of
// mgr's REST mapper: the wait as the manager runs it.
func NewKindsServedFor(mgr ctrl.Manager, kinds []schema.GroupVersionKind) (*KindsServed, error) {
	m, err := NewProbingMapper(mgr)
	if err != nil {
		return nil, err
	}
	return NewKindsServed(m, kinds), nil
}

func newProbingMapper(m mapper, l groupVersionLister) *ProbingMapper {
	return &ProbingMapper{mapper: m, lister: l, mapped: map[schema.GroupVersionKind]bool{}}
}

// RESTMapping maps gk in the one version given, as meta.RESTMapper does; it answers a NoKindMatchError
// while discovery does not list the kind in that group version.
func (p *ProbingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	if len(versions) != 1 {
		return p.mapper.RESTMapping(gk, versions...)
	}
	gvk := gk.WithVersion(versions[0])
	p.mu.Lock()
	mapped := p.mapped[gvk]
	p.mu.Unlock()
	if !mapped {
		listed, err := p.listed(gvk)
		if err != nil {
			return nil, err
		}
		if !listed {
			return nil, &meta.NoKindMatchError{GroupKind: gk, SearchedVersions: versions}
		}
	}
	m, err := p.mapper.RESTMapping(gk, versions...)
	if err == nil && !mapped {
		if !p.lister.WatchCacheReady(m.Resource) {
			return nil, &meta.NoKindMatchError{GroupKind: gk, SearchedVersions: versions}
		}
		p.mu.Lock()
		p.mapped[gvk] = true
		p.mu.Unlock()
	}
	return m, err
}

// listed tells whether discovery lists gvk's kind in its group version; a group version it does not
// serve is no error.
func (p *ProbingMapper) listed(gvk schema.GroupVersionKind) (bool, error) {
	list, err := p.lister.ServerResourcesForGroupVersion(gvk.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, r := range list.APIResources {
		if r.Kind == gvk.Kind {
			return true, nil
		}
	}
	return false, nil
}
