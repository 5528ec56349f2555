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
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// TestFieldsAddedToMeshkeepersPolicyAreReported: someone adds to meshkeeper's Sidecar a field meshkeeper
// does not write (a workloadSelector, with kubectl edit). The Sidecar then scopes only the pods it
// selects, no longer the namespace. A server-side apply cannot remove a field another manager set, so
// meshkeeper's writes leave it there: meshkeeper must not count the Sidecar as in place (the status pass
// asks AppliedSpecs), must say which field is in the way, and must not write again and again. Once the
// field is gone, the Sidecar counts as in place again.
func TestFieldsAddedToMeshkeepersPolicyAreReported(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client
	createNamespaces(ctx, g, c, "ff-system", "ff-shop")

	applied := &policy.AppliedSpecs{}
	runPolicy(ctx, g, newManager(g, env, env.Config), &policy.Reconciler{Applied: applied})

	mesh := createMesh(ctx, g, c, `
  namespace: ff-system
  injection: {namespaces: [ff-shop]}
  sidecarScoping: {enabled: true}
`)
	g.Eventually(func(g Gomega) {
		g.Expect(spec(g, c, sidecarKind, "ff-shop")).NotTo(BeNil())
	}, 20*time.Second, 20*time.Millisecond).Should(Succeed())
	want := spec(g, c, sidecarKind, "ff-shop")

	// stale is what the status pass asks: whether the Sidecar is known to hold another spec than the
	// one the ServiceMesh asks for.
	key := client.ObjectKey{Namespace: "ff-shop", Name: render.PolicyName}
	stale := func(g Gomega) bool {
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())
		ns := &corev1.Namespace{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: "ff-shop"}, ns)).To(Succeed())
		desired, _ := render.Policies(mesh, ns, true, nil)
		current := &metav1.PartialObjectMetadata{}
		current.SetGroupVersionKind(sidecarKind)
		g.Expect(c.Get(ctx, key, current)).To(Succeed())
		return applied.Stale(sidecarKind, key, current, desired[sidecarKind])
	}
	g.Eventually(stale, 10*time.Second, 20*time.Millisecond).Should(BeFalse())

	sidecar := &unstructured.Unstructured{}
	sidecar.SetGroupVersionKind(sidecarKind)
	sidecar.SetNamespace("ff-shop")
	sidecar.SetName(render.PolicyName)
	g.Expect(c.Patch(ctx, sidecar, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"workloadSelector":{"labels":{"app":"checkout"}}}}`)), client.FieldOwner("kubectl-edit"))).To(Succeed())

	warned := func(g Gomega) []string {
		list := &eventsv1.EventList{}
		g.Expect(c.List(ctx, list)).To(Succeed())
		var notes []string
		for _, e := range list.Items {
			if e.Regarding.Kind == "ServiceMesh" && e.Reason == meshv1alpha1.ReasonPolicyConflict {
				notes = append(notes, e.Note)
			}
		}
		return notes
	}
	g.Eventually(func(g Gomega) {
		g.Expect(warned(g)).To(ContainElement(And(ContainSubstring("Sidecar ff-shop/default"), ContainSubstring("spec.workloadSelector"))))
		g.Expect(stale(g)).To(BeTrue(), "the Sidecar with someone's workloadSelector counts as in place")
	}, 10*time.Second, 50*time.Millisecond).Should(Succeed(), "no Warning names the field someone added to meshkeeper's Sidecar")

	// The field stays, as its writer left it, and meshkeeper writes nothing more while nothing changes.
	now := &unstructured.Unstructured{}
	now.SetGroupVersionKind(sidecarKind)
	g.Expect(c.Get(ctx, key, now)).To(Succeed())
	g.Expect(now.Object["spec"]).To(HaveKey("workloadSelector"))
	version := now.GetResourceVersion()
	g.Consistently(func(g Gomega) string {
		g.Expect(c.Get(ctx, key, now)).To(Succeed())
		return now.GetResourceVersion()
	}, 2*time.Second, 100*time.Millisecond).Should(Equal(version), "meshkeeper keeps writing the Sidecar")

	// A spec change meshkeeper writes leaves the field as well, and is still reported.
	g.Expect(c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"sidecarScoping":{"outboundTrafficPolicy":"REGISTRY_ONLY"}}}`)))).To(Succeed())
	g.Eventually(func(g Gomega) {
		s := spec(g, c, sidecarKind, "ff-shop")
		g.Expect(s).To(HaveKeyWithValue("outboundTrafficPolicy", map[string]any{"mode": "REGISTRY_ONLY"}))
		g.Expect(stale(g)).To(BeTrue(), "the Sidecar with someone's workloadSelector counts as in place after a spec change")
	}, 10*time.Second, 50*time.Millisecond).Should(Succeed())

	// Its writer removes the field: the Sidecar is meshkeeper's again, in place.
	g.Expect(c.Patch(ctx, sidecar, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"workloadSelector":null}}`)), client.FieldOwner("kubectl-edit"))).To(Succeed())
	g.Eventually(stale, 10*time.Second, 50*time.Millisecond).Should(BeFalse())
	want["outboundTrafficPolicy"] = map[string]any{"mode": "REGISTRY_ONLY"}
	g.Expect(spec(g, c, sidecarKind, "ff-shop")).To(Equal(want))
}
