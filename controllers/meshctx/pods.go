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
	"fmt"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// Pods lists the pods of a namespace ("": of every namespace) as meshkeeper caches them. The pods are
// shared with the cache: read them, never change them.
type Pods interface {
	ListPods(ctx context.Context, namespace string) ([]*policy.ProxyPod, error)
}

// CachedPods reads the pods from the informer of a cache whose transform stores them as
// policy.ProxyPod (the manager's, with its cache options). It hands out the cached objects themselves:
// a list costs a pointer a pod, where a PodList copies every pod into it.
func CachedPods(c cache.Cache) Pods { return cachedPods{cache: c} }

type cachedPods struct{ cache cache.Cache }

// indexed is what controller-runtime's informers are: client-go's shared index informers.
type indexed interface {
	GetIndexer() toolscache.Indexer
}

func (p cachedPods) ListPods(ctx context.Context, namespace string) ([]*policy.ProxyPod, error) {
	index, err := indexOf(ctx, p.cache, &corev1.Pod{}, "pod")
	if err != nil {
		return nil, err
	}
	var items []any
	if namespace == "" {
		items = index.List()
	} else if items, err = index.ByIndex(toolscache.NamespaceIndex, namespace); err != nil {
		return nil, fmt.Errorf("the pod cache: %w", err)
	}
	pods := make([]*policy.ProxyPod, 0, len(items))
	for _, item := range items {
		switch pod := item.(type) {
		case *policy.ProxyPod:
			pods = append(pods, pod)
		case *corev1.Pod: // a cache without meshkeeper's transform
			pods = append(pods, policy.NewProxyPod(pod))
		default:
			return nil, fmt.Errorf("the pod cache holds a %T", item)
		}
	}
	return pods, nil
}

// ListedPods lists the pods with a reader that holds them as corev1.Pod (a client without the manager's
// cache).
func ListedPods(r client.Reader) Pods { return listedPods{reader: r} }

// PodsOr is p, or, when p is nil (a reconciler that was not set up with a manager), ListedPods(r).
func PodsOr(p Pods, r client.Reader) Pods {
	if p == nil {
		return ListedPods(r)
	}
	return p
}

type listedPods struct{ reader client.Reader }

func (p listedPods) ListPods(ctx context.Context, namespace string) ([]*policy.ProxyPod, error) {
	list := &corev1.PodList{}
	if err := p.reader.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	pods := make([]*policy.ProxyPod, len(list.Items))
	for i := range list.Items {
		pods[i] = policy.NewProxyPod(&list.Items[i])
	}
	return pods, nil
}

// Informers is what CachedObject needs of the manager's cache.
type Informers interface {
	GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error)
}

// CachedObject returns the cache's own object of proto's kind at key, without the copy a client's Get
// makes even with client.UnsafeDisableDeepCopy (a whole struct a time): only for a caller that reads it
// and keeps it no longer than the reconcile. found is false when the cache holds none.
func CachedObject[T client.Object](ctx context.Context, c Informers, proto T, key client.ObjectKey) (obj T, found bool, err error) {
	index, err := indexOf(ctx, c, proto, fmt.Sprintf("%T", proto))
	if err != nil {
		return obj, false, err
	}
	k := key.Name
	if key.Namespace != "" {
		k = key.Namespace + "/" + key.Name
	}
	item, exists, err := index.GetByKey(k)
	if err != nil || !exists {
		return obj, false, err
	}
	obj, ok := item.(T)
	if !ok {
		return obj, false, fmt.Errorf("the %T cache holds a %T", proto, item)
	}
	return obj, true, nil
}

// indexOf returns the index of c's informer for proto's kind; what names that cache in errors.
func indexOf(ctx context.Context, c Informers, proto client.Object, what string) (toolscache.Indexer, error) {
	informer, err := c.GetInformer(ctx, proto)
	if err != nil {
		return nil, fmt.Errorf("the %s cache: %w", what, err)
	}
	i, ok := informer.(indexed)
	if !ok {
		return nil, fmt.Errorf("the %s cache's informer %T has no index", what, informer)
	}
	return i.GetIndexer(), nil
}
