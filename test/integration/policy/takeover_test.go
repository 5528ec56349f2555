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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/policy"
)

// staleCache is the manager's client, except that its cache has not seen the policy objects of one
// namespace yet: what a real informer shows between someone's create and its watch event, which no
// API server produces on demand.
type staleCache struct {
	client.Client
	namespace string
}

func (s staleCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*metav1.PartialObjectMetadata); ok && key.Namespace == s.namespace {
		return apierrors.NewNotFound(schema.GroupResource{Group: "networking.istio.io", Resource: "sidecars"}, key.Name)
	}
	return s.Client.Get(ctx, key, obj, opts...)
}

// TestAPolicyTheCacheHasNotSeenIsNotTakenOver: a team's GitOps tool creates its namespace with its own
// Sidecar and PeerAuthentication named "default". When meshkeeper's cache has not seen them yet,
// meshkeeper's writes of its own must not take the team's over: no change of their spec, no label or
// owner reference of meshkeeper's (which would make meshkeeper delete them when the namespace leaves the
// mesh), no field that meshkeeper shares, also where the team's object says what meshkeeper's would.
func TestAPolicyTheCacheHasNotSeenIsNotTakenOver(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client
	createNamespaces(ctx, g, c, "to-system", "team")
	teams := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
		"metadata": map[string]any{"name": "default", "namespace": "team"},
		"spec": map[string]any{
			"egress":                []any{map[string]any{"hosts": []any{"./*", "shared/*"}}},
			"outboundTrafficPolicy": map[string]any{"mode": "REGISTRY_ONLY"},
		},
	}}
	g.Eventually(func() error { return c.Create(ctx, teams, client.FieldOwner("argocd-controller")) }, 10*time.Second, 50*time.Millisecond).
		Should(Succeed())
	want := teams.Object["spec"]
	// The team's PeerAuthentication says what meshkeeper's would: an apply would meet no conflicting
	// field and quietly share it.
	teamsPeerAuthentication := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
		"metadata": map[string]any{"name": "default", "namespace": "team"},
		"spec":     map[string]any{"mtls": map[string]any{"mode": "STRICT"}},
	}}
	g.Eventually(func() error { return c.Create(ctx, teamsPeerAuthentication, client.FieldOwner("argocd-controller")) }, 10*time.Second, 50*time.Millisecond).
		Should(Succeed())

	mgr := newManager(g, env, env.Config)
	runPolicy(ctx, g, mgr, &policy.Reconciler{Client: staleCache{Client: mgr.GetClient(), namespace: "team"}})

	createMesh(ctx, g, c, `
  namespace: to-system
  injection: {namespaces: [team]}
  sidecarScoping: {enabled: true}
  mtls: {namespaces: {team: STRICT}}
`)
	// The controller at work: it writes the control-plane namespace's PeerAuthentication.
	g.Eventually(func(g Gomega) {
		g.Expect(spec(g, c, peerAuthenticationKind, "to-system")).NotTo(BeNil())
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())

	g.Consistently(func(g Gomega) {
		now := &unstructured.Unstructured{}
		now.SetGroupVersionKind(sidecarKind)
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: "team", Name: "default"}, now)).To(Succeed())
		g.Expect(now.Object["spec"]).To(Equal(want), "the team's Sidecar was rewritten")
		g.Expect(now.GetOwnerReferences()).To(BeEmpty(), "the team's Sidecar was claimed for the ServiceMesh")
		g.Expect(now.GetLabels()).NotTo(HaveKey(meshv1alpha1.ManagedByLabel))

		pa := &metav1.PartialObjectMetadata{}
		pa.SetGroupVersionKind(peerAuthenticationKind)
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: "team", Name: "default"}, pa)).To(Succeed())
		g.Expect(pa.GetOwnerReferences()).To(BeEmpty(), "the team's PeerAuthentication was claimed for the ServiceMesh")
		g.Expect(pa.GetLabels()).NotTo(HaveKey(meshv1alpha1.ManagedByLabel))
		for _, entry := range pa.GetManagedFields() {
			g.Expect(entry.Manager).NotTo(Equal("meshkeeper"), "meshkeeper shares the team's PeerAuthentication")
		}
	}, 3*time.Second, 100*time.Millisecond).Should(Succeed())
}
