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
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// informers hands out one informer per kind, whose index the test fills as an informer would.
type informers map[string]toolscache.SharedIndexInformer

func (i informers) GetInformer(_ context.Context, obj client.Object, _ ...cache.InformerGetOption) (cache.Informer, error) {
	switch obj.(type) {
	case *corev1.Service:
		return i["services"], nil
	case *corev1.Namespace:
		return i["namespaces"], nil
	}
	return nil, nil
}

func TestCachedObjectReadsTheInformersOwnObject(t *testing.T) {
	ctx := context.Background()
	services := toolscache.NewSharedIndexInformer(&toolscache.ListWatch{}, &corev1.Service{}, 0, toolscache.Indexers{})
	namespaces := toolscache.NewSharedIndexInformer(&toolscache.ListWatch{}, &corev1.Namespace{}, 0, toolscache.Indexers{})
	web := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"}}
	shop := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	for informer, obj := range map[toolscache.SharedIndexInformer]any{services: web, namespaces: shop} {
		if err := informer.GetIndexer().Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	c := informers{"services": services, "namespaces": namespaces}

	svc, found, err := CachedObject(ctx, c, &corev1.Service{}, client.ObjectKey{Namespace: "shop", Name: "web"})
	if err != nil || !found || svc != web {
		t.Fatalf("Service shop/web: got %p, %v, %v; want the informer's own object %p", svc, found, err, web)
	}
	ns, found, err := CachedObject(ctx, c, &corev1.Namespace{}, client.ObjectKey{Name: "shop"})
	if err != nil || !found || ns != shop {
		t.Fatalf("Namespace shop: got %p, %v, %v; want the informer's own object %p", ns, found, err, shop)
	}
	for _, key := range []client.ObjectKey{{Namespace: "shop", Name: "api"}, {Namespace: "other", Name: "web"}, {Name: "web"}} {
		if _, found, err := CachedObject(ctx, c, &corev1.Service{}, key); found || err != nil {
			t.Errorf("Service %s: got found=%v, %v; want none", key, found, err)
		}
	}
}
