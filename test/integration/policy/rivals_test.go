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
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// TestOnlyPoliciesTheMeshsIstiodsReadAreRivals: istiod reads only the configuration without an
// istio.io/rev label or labelled for its own revision. A namespace-wide PeerAuthentication of someone
// else's labelled for a revision no istiod of the mesh runs (another installation's, or a revision
// tag's name, which selects the injector only) is in force for none of them, and must not keep
// meshkeeper from writing its own; before, it did, and the namespace kept no PeerAuthentication of the
// mode the ServiceMesh asks for. One without the label, or labelled for the active revision, the canary
// (mid-canary, both istiods serve) or a draining revision (its istiod still serves the proxies it
// injected), still does. The status pass, asking the same Rivals, names the same objects; a revision's
// removal lets meshkeeper write its own where only that revision's istiod read the object.
func TestOnlyPoliciesTheMeshsIstiodsReadAreRivals(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client

	// The namespaces, each with a PeerAuthentication without a selector, by its istio.io/rev label.
	labels := map[string]string{
		"rv-other":    "1-29-0",  // another installation's revision
		"rv-tag":      "default", // the default tag's name: no istiod of a RevisionBased mesh has that revision
		"rv-active":   "1-31-0",  // the revision the default tag points at
		"rv-canary":   "1-32-0",  // the canary revision
		"rv-draining": "1-30-0",  // the revision the tag left, still serving the proxies it injected
		"rv-plain":    "",        // no label: every istiod reads it
	}
	namespaces := []string{"rv-other", "rv-tag", "rv-active", "rv-canary", "rv-draining", "rv-plain"}
	createNamespaces(ctx, g, c, append([]string{"rv-system"}, namespaces...)...)
	for _, ns := range namespaces {
		pa := &unstructured.Unstructured{}
		pa.SetGroupVersionKind(peerAuthenticationKind)
		pa.SetNamespace(ns)
		pa.SetName("legacy")
		if rev := labels[ns]; rev != "" {
			pa.SetLabels(map[string]string{"istio.io/rev": rev})
		}
		pa.Object["spec"] = map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}}
		// The client maps the kind once discovery serves the CRD created a moment ago.
		g.Eventually(func() error { return c.Create(ctx, pa) }, 10*time.Second, 50*time.Millisecond).Should(Succeed())
	}

	// A mesh mid-canary: the default tag on 1-31-0, the canary namespaces on 1-32-0, and 1-30-0 draining.
	mesh := createMesh(ctx, g, c, `
  namespace: rv-system
  updateStrategy: {type: RevisionBased, canary: {namespaces: [rv-canary]}}
  mtls: {namespaces: {rv-other: STRICT, rv-tag: STRICT, rv-active: STRICT, rv-canary: STRICT, rv-draining: STRICT, rv-plain: STRICT}}
`)
	mesh.Status.Revision = "1-31-0"
	mesh.Status.ActiveRevision = "1-31-0"
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
		{Name: "1-32-0", Version: "1.32.0", State: meshv1alpha1.RevisionCanary, Ready: true},
		{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true},
		{Name: "1-30-0", Version: "1.30.0", State: meshv1alpha1.RevisionDraining, Ready: true, Proxies: 3},
	}
	g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())

	// The manager starts once the status names the revisions, as it finds them after a restart.
	mgr := newManager(g, env, env.Config)
	rivals := policy.NewRivals(mgr.GetAPIReader())
	runPolicy(ctx, g, mgr, &policy.Reconciler{Rivals: rivals})

	strict := map[string]any{"mtls": map[string]any{"mode": "STRICT"}}
	// conflicts are the namespaces of the PeerAuthentications a PolicyConflict Warning was recorded about.
	conflicts := func(g Gomega) []string {
		list := &eventsv1.EventList{}
		g.Expect(c.List(ctx, list)).To(Succeed())
		var found []string
		for _, e := range list.Items {
			if e.Reason == meshv1alpha1.ReasonPolicyConflict && e.Regarding.Kind == peerAuthenticationKind.Kind && e.Regarding.Name == "legacy" {
				found = append(found, e.Regarding.Namespace)
			}
		}
		return found
	}
	g.Eventually(func(g Gomega) {
		g.Expect(spec(g, c, peerAuthenticationKind, "rv-other")).To(Equal(strict))
		g.Expect(spec(g, c, peerAuthenticationKind, "rv-tag")).To(Equal(strict))
	}, 20*time.Second, 50*time.Millisecond).Should(Succeed(),
		"a namespace-wide PeerAuthentication labelled for a revision no istiod of the mesh runs keeps meshkeeper from writing its own")
	g.Eventually(conflicts, 10*time.Second, 50*time.Millisecond).Should(ConsistOf("rv-active", "rv-canary", "rv-draining", "rv-plain"))
	g.Consistently(func(g Gomega) {
		for _, ns := range []string{"rv-active", "rv-canary", "rv-draining", "rv-plain"} {
			g.Expect(spec(g, c, peerAuthenticationKind, ns)).To(BeNil(), "meshkeeper wrote a second namespace-wide PeerAuthentication in %s", ns)
		}
	}, time.Second, 50*time.Millisecond).Should(Succeed())

	// The status pass asks the same Rivals of each namespace's objects, from the cache.
	rivalsIn := func(g Gomega, mesh *meshv1alpha1.ServiceMesh, ns string) []string {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(peerAuthenticationKind.GroupVersion().WithKind(peerAuthenticationKind.Kind + "List"))
		g.Expect(mgr.GetClient().List(ctx, list, client.InNamespace(ns))).To(Succeed())
		for i := range list.Items {
			list.Items[i].SetGroupVersionKind(peerAuthenticationKind)
		}
		found, err := rivals.Find(ctx, mesh, peerAuthenticationKind, list.Items)
		g.Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, r := range found {
			names = append(names, r.Namespace+"/"+r.Name)
		}
		return names
	}
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())
	for _, ns := range namespaces {
		want := []string{ns + "/legacy"}
		if ns == "rv-other" || ns == "rv-tag" {
			want = nil
		}
		g.Expect(rivalsIn(g, mesh, ns)).To(Equal(want), "the rivals in %s", ns)
	}

	// The draining revision is pruned, its proxies gone (nothing else of the ServiceMesh changes): no
	// istiod reads the PeerAuthentication labelled for it any more, and meshkeeper writes its own there.
	mesh.Status.Revisions = mesh.Status.Revisions[:2]
	g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
	g.Eventually(func(g Gomega) map[string]any { return spec(g, c, peerAuthenticationKind, "rv-draining") }, 10*time.Second, 50*time.Millisecond).
		Should(Equal(strict), "a PeerAuthentication labelled for a revision since removed keeps meshkeeper from writing its own")
	for _, ns := range []string{"rv-active", "rv-canary", "rv-plain"} {
		g.Expect(spec(g, c, peerAuthenticationKind, ns)).To(BeNil(), "meshkeeper wrote a second namespace-wide PeerAuthentication in %s", ns)
	}
}

// TestARivalBeingDeletedStaysInForce: istiod applies a policy object until it is gone, one a finalizer
// holds while it is being deleted too, and of the namespace-wide PeerAuthentications it uses the oldest.
// A user's namespace-wide PeerAuthentication being deleted must keep meshkeeper's out until it is gone:
// before, meshkeeper wrote its own as soon as the deletion began, and the status reported the STRICT
// mode applied while istiod enforced the user's PERMISSIVE one for as long as the finalizer held it.
// The Warning says what holds it; once it is gone, meshkeeper writes its own.
func TestARivalBeingDeletedStaysInForce(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client
	createNamespaces(ctx, g, c, "rd-system", "rd-shop")
	legacy := &unstructured.Unstructured{}
	g.Expect(yamlInto(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: legacy, namespace: rd-shop, finalizers: [example.com/hold]}
spec:
  mtls: {mode: PERMISSIVE}
`, &legacy.Object)).To(Succeed())
	// The client maps the kind once discovery serves the CRD created a moment ago.
	g.Eventually(func() error { return c.Create(ctx, legacy) }, 10*time.Second, 50*time.Millisecond).Should(Succeed())

	mgr := newManager(g, env, env.Config)
	rivals := policy.NewRivals(mgr.GetAPIReader())
	runPolicy(ctx, g, mgr, &policy.Reconciler{Rivals: rivals})

	mesh := createMesh(ctx, g, c, `
  namespace: rd-system
  mtls: {namespaces: {rd-shop: STRICT}}
`)

	// notes are the notes of the PolicyConflict Warnings about the user's PeerAuthentication.
	notes := func(g Gomega) []string {
		list := &eventsv1.EventList{}
		g.Expect(c.List(ctx, list)).To(Succeed())
		var found []string
		for _, e := range list.Items {
			if e.Reason == meshv1alpha1.ReasonPolicyConflict && e.Regarding.Kind == peerAuthenticationKind.Kind && e.Regarding.Name == "legacy" {
				found = append(found, e.Note)
			}
		}
		return found
	}
	g.Eventually(notes, 20*time.Second, 50*time.Millisecond).Should(ContainElement(ContainSubstring("PeerAuthentication rd-shop/legacy")))
	g.Expect(spec(g, c, peerAuthenticationKind, "rd-shop")).To(BeNil())

	// The user deletes it; the finalizer holds it, and istiod still applies it.
	g.Expect(c.Delete(ctx, legacy)).To(Succeed())
	g.Eventually(func(g Gomega) {
		held := &metav1.PartialObjectMetadata{}
		held.SetGroupVersionKind(peerAuthenticationKind)
		g.Expect(mgr.GetClient().Get(ctx, client.ObjectKeyFromObject(legacy), held)).To(Succeed())
		g.Expect(held.DeletionTimestamp.IsZero()).To(BeFalse())
	}, 10*time.Second, 50*time.Millisecond).Should(Succeed())
	// A reconcile of the namespace after that (its owner annotates it) keeps meshkeeper's out.
	ns := &corev1.Namespace{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: "rd-shop"}, ns)).To(Succeed())
	ns.Annotations = map[string]string{render.EgressHostsAnnotation: "payments/*"}
	g.Expect(c.Update(ctx, ns)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(spec(g, c, peerAuthenticationKind, "rd-shop")).To(BeNil(),
			"meshkeeper wrote its own beside a namespace-wide PeerAuthentication istiod still applies, being deleted")
		g.Expect(notes(g)).To(ContainElement(And(ContainSubstring("PeerAuthentication rd-shop/legacy (being deleted"), ContainSubstring("example.com/hold"))))
	}, 10*time.Second, 50*time.Millisecond).Should(Succeed())
	// The status pass, asking the same Rivals, still names it.
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(peerAuthenticationKind.GroupVersion().WithKind(peerAuthenticationKind.Kind + "List"))
	g.Expect(mgr.GetClient().List(ctx, list, client.InNamespace("rd-shop"))).To(Succeed())
	for i := range list.Items {
		list.Items[i].SetGroupVersionKind(peerAuthenticationKind)
	}
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())
	found, err := rivals.Find(ctx, mesh, peerAuthenticationKind, list.Items)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(found).To(HaveLen(1))
	g.Expect(found[0].Name).To(Equal("legacy"))

	// Once it is gone, meshkeeper writes its own.
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(legacy), legacy)).To(Succeed())
	legacy.SetFinalizers(nil)
	g.Expect(c.Update(ctx, legacy)).To(Succeed())
	g.Eventually(func(g Gomega) map[string]any { return spec(g, c, peerAuthenticationKind, "rd-shop") }, 10*time.Second, 50*time.Millisecond).
		Should(Equal(map[string]any{"mtls": map[string]any{"mode": "STRICT"}}))
}
