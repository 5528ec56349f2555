//go:build envtest

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

package policy_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/policy"
)

// staleNamespace is the manager's client, except that its cache has not seen the deletion of one
// namespace yet: what a real informer shows between the deletion and its watch event, or what a
// reconcile that read the namespace just before the deletion goes on with.
type staleNamespace struct {
	client.Client
	name string
}

func (s staleNamespace) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := s.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	if ns, ok := obj.(*corev1.Namespace); ok && ns.Name == s.name {
		ns.DeletionTimestamp = nil
		ns.Status.Phase = corev1.NamespaceActive
	}
	return nil
}

// TestANamespaceBeingDeletedGetsNoWarning: a team deletes its namespace (Argo CD pruning a preview
// environment) while meshkeeper is about to write its policies there. The API server refuses new
// objects in a namespace being deleted, and the namespace's deletion takes meshkeeper's objects with it:
// nothing is wrong, so no Warning PolicyApplyFailed may follow on the ServiceMesh, whatever
// meshkeeper's cache showed of the namespace.
func TestANamespaceBeingDeletedGetsNoWarning(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client
	createNamespaces(ctx, g, c, "tm-system", "tm-preview")
	// Without the namespace controller, the namespace stays in its deletion (its finalizer "kubernetes").
	preview := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tm-preview"}}
	g.Expect(c.Delete(ctx, preview)).To(Succeed())

	mgr := newManager(g, env, env.Config)
	runPolicy(ctx, g, mgr, &policy.Reconciler{Client: staleNamespace{Client: mgr.GetClient(), name: "tm-preview"}})

	mesh := &unstructured.Unstructured{}
	mesh.SetGroupVersionKind(meshv1alpha1.GroupVersion.WithKind("ServiceMesh"))
	mesh.SetName(meshv1alpha1.ServiceMeshName)
	mesh.Object["spec"] = map[string]any{
		"namespace": "tm-system",
		"injection": map[string]any{"namespaces": []any{"tm-preview"}},
		"mtls":      map[string]any{"namespaces": map[string]any{"tm-preview": "STRICT"}},
	}
	g.Expect(c.Create(ctx, mesh)).To(Succeed())
	// The controller at work: it writes the control-plane namespace's PeerAuthentication.
	g.Eventually(func() error {
		pa := &metav1.PartialObjectMetadata{}
		pa.SetGroupVersionKind(schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "PeerAuthentication"})
		return c.Get(ctx, client.ObjectKey{Namespace: "tm-system", Name: "default"}, pa)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())

	g.Consistently(func(g Gomega) {
		events := &eventsv1.EventList{}
		g.Expect(c.List(ctx, events)).To(Succeed())
		for _, e := range events.Items {
			g.Expect(e.Reason).NotTo(Equal(policy.ReasonApplyFailed), "%s: %s", e.Regarding.Kind, e.Note)
		}
	}, 3*time.Second, 100*time.Millisecond).Should(Succeed())
}
