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

package policy

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// policyCRDNames are the CRDs of render.PolicyKinds.
var policyCRDNames = sets.New("peerauthentications.security.istio.io", "sidecars.networking.istio.io")

// How often discoveryWait asks discovery for the policy kinds after their CRDs changed: every
// discoveryInterval for discoveryTimeout, then every slowInterval until they are served.
const (
	discoveryInterval = 50 * time.Millisecond
	discoveryTimeout  = time.Minute
	slowInterval      = 10 * time.Second
)

// mapper is what discoveryWait needs of a meta.RESTMapper.
type mapper interface {
	RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error)
}

// discoveryWait closes the gap between a policy kind's CRD becoming Established and discovery serving
// the kind. The API server adds a CRD's kind to discovery only after it marked the CRD Established, so
// the CRD's last event often comes before the kind can be mapped, and nothing else would bring the
// namespaces back. After each event of those CRDs it asks the REST mapper (which re-reads discovery on
// every miss) until every kind is served, then sends one event on served, which enqueues every
// namespace. A single runnable does this for all namespaces, so a thousand namespaces do not each poll.
type discoveryWait struct {
	mapper mapper
	kinds  []schema.GroupVersionKind
	kick   chan struct{}
	served chan event.GenericEvent
	// interval, timeout and slow are discoveryInterval, discoveryTimeout and slowInterval.
	interval, timeout, slow time.Duration
}

func newDiscoveryWait(m mapper, kinds []schema.GroupVersionKind) *discoveryWait {
	return &discoveryWait{
		mapper:   m,
		kinds:    kinds,
		kick:     make(chan struct{}, 1),
		served:   make(chan event.GenericEvent),
		interval: discoveryInterval,
		timeout:  discoveryTimeout,
		slow:     slowInterval,
	}
}

// Kick makes the runnable wait for discovery to serve the kinds; kicks while it waits are one.
func (d *discoveryWait) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Start waits for kicks until ctx ends. It implements manager.Runnable.
func (d *discoveryWait) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("policy-discovery")
	// late is set while a CRD changed but its kind has not been served within discoveryTimeout (a CRD
	// that is not Established, say): the kinds are then asked for every slowInterval.
	late := false
	for {
		var slow <-chan time.Time
		if late {
			slow = time.After(d.slow)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.kick:
		case <-slow:
		}
		if d.allServed() {
			if late {
				late = false
				if !d.send(ctx) {
					return nil
				}
			}
			// Otherwise already mapped when the CRD changed: the CRD's own event enqueued every namespace.
			continue
		}
		err := wait.PollUntilContextTimeout(ctx, d.interval, d.timeout, false, func(context.Context) (bool, error) {
			return d.allServed(), nil
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if !late {
				log.Info("The Istio policy kinds are not served yet; asking again every "+d.slow.String(), "waited", d.timeout)
			}
			late = true
			continue
		}
		late = false
		if !d.send(ctx) {
			return nil
		}
	}
}

// send enqueues every namespace; it is false when ctx ended first.
func (d *discoveryWait) send(ctx context.Context) bool {
	select {
	case d.served <- event.GenericEvent{Object: &corev1.Namespace{}}:
		return true
	case <-ctx.Done():
		return false
	}
}

// allServed tells whether the REST mapper maps every kind.
func (d *discoveryWait) allServed() bool {
	for _, gvk := range d.kinds {
		if _, err := d.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return false
		}
	}
	return true
}

// crdChanged enqueues what its EventHandler enqueues and kicks the discovery wait, on every creation
// and change of a policy kind's CRD.
type crdChanged struct {
	handler.EventHandler
	discovery *discoveryWait
}

func (h crdChanged) Create(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	h.discovery.Kick()
	h.EventHandler.Create(ctx, e, q)
}

func (h crdChanged) Update(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	h.discovery.Kick()
	h.EventHandler.Update(ctx, e, q)
}

var _ handler.EventHandler = crdChanged{}
