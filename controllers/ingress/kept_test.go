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

package ingress

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/meshkeeper/meshkeeper/internal/policy"
)

func TestProxyGone(t *testing.T) {
	now := metav1.Now()
	running := &policy.ProxyPod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1"}, Phase: corev1.PodRunning, HasProxy: true}
	deleting := running.DeepCopyObject().(*policy.ProxyPod)
	deleting.DeletionTimestamp = &now
	finished := running.DeepCopyObject().(*policy.ProxyPod)
	finished.Phase = corev1.PodSucceeded
	plain := &policy.ProxyPod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-2"}, Phase: corev1.PodRunning}
	plainDeleting := plain.DeepCopyObject().(*policy.ProxyPod)
	plainDeleting.DeletionTimestamp = &now

	if ProxyGone.Create(event.CreateEvent{Object: running}) {
		t.Error("a pod created with a sidecar passes")
	}
	if !ProxyGone.Delete(event.DeleteEvent{Object: running}) {
		t.Error("a pod with a sidecar deleted does not pass")
	}
	if ProxyGone.Delete(event.DeleteEvent{Object: plain}) {
		t.Error("a pod without a sidecar deleted passes")
	}
	if !ProxyGone.Delete(event.DeleteEvent{Object: &corev1.Pod{}}) {
		t.Error("a pod the cache did not transform does not pass")
	}
	for name, tc := range map[string]struct {
		old, updated *policy.ProxyPod
		want         bool
	}{
		"starts being deleted":          {old: running, updated: deleting, want: true},
		"finishes":                      {old: running, updated: finished, want: true},
		"keeps running":                 {old: running, updated: running.DeepCopyObject().(*policy.ProxyPod)},
		"was already being deleted":     {old: deleting, updated: finished},
		"has no sidecar, being deleted": {old: plain, updated: plainDeleting},
	} {
		if got := ProxyGone.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.updated}); got != tc.want {
			t.Errorf("a pod that %s: passes = %v, want %v", name, got, tc.want)
		}
	}
}

func TestKeptIngresses(t *testing.T) {
	var k keptIngresses
	names := func(namespace string) []string {
		var out []string
		for _, r := range k.requests(namespace) {
			if r.Namespace != namespace {
				t.Errorf("request %s for namespace %s", r, namespace)
			}
			out = append(out, r.Name)
		}
		slices.Sort(out)
		return out
	}
	if got := names("shop"); len(got) != 0 {
		t.Fatalf("an empty set wakes %v", got)
	}
	k.set(client.ObjectKey{Namespace: "shop", Name: "web"}, false)
	k.set(client.ObjectKey{Namespace: "shop", Name: "web"}, true)
	k.set(client.ObjectKey{Namespace: "shop", Name: "api"}, true)
	k.set(client.ObjectKey{Namespace: "pay", Name: "web"}, true)
	if got := names("shop"); !slices.Equal(got, []string{"api", "web"}) {
		t.Errorf("shop wakes %v, want [api web]", got)
	}
	k.set(client.ObjectKey{Namespace: "shop", Name: "web"}, false)
	k.set(client.ObjectKey{Namespace: "shop", Name: "api"}, false)
	if got := names("shop"); len(got) != 0 {
		t.Errorf("shop wakes %v once none is kept", got)
	}
	if _, ok := k.byNamespace["shop"]; ok {
		t.Error("a namespace without kept Ingresses stays in the set")
	}
	if got := k.requests("pay"); !slices.Equal(got, []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: "pay", Name: "web"}}}) {
		t.Errorf("pay wakes %v", got)
	}
}
