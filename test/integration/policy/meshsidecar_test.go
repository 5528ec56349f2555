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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/controllers/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// TestTheMeshWideSidecarStaysInForce: an admin locked egress down for the whole mesh with a Sidecar
// without a workloadSelector in the root namespace (the control-plane namespace), which istiod applies
// to every namespace without a namespace-wide Sidecar of its own. meshkeeper's Sidecar "default" takes
// its place in every enrolled namespace, so it must keep it in force there: REGISTRY_ONLY, and the egress
// hosts it made reachable. Before, the scoped namespaces got ALLOW_ANY (egress to the internet opened
// again) and lost its hosts. Each change of the root Sidecar reaches every namespace's Sidecar, and the
// status pass, asking the same MeshSidecars, finds them in place.
func TestTheMeshWideSidecarStaysInForce(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client
	createNamespaces(ctx, g, c, "msc-system", "msc-shop")

	mgr := newManager(g, env, env.Config)
	applied := &policy.AppliedSpecs{}
	meshSidecars := policy.NewMeshSidecars(mgr.GetAPIReader())
	runPolicy(ctx, g, mgr, &policy.Reconciler{Applied: applied, MeshSidecars: meshSidecars})

	mesh := createMesh(ctx, g, c, `
  namespace: msc-system
  injection: {namespaces: [msc-shop]}
  sidecarScoping: {enabled: true}
`)

	// shop is the mode and egress hosts of meshkeeper's Sidecar in msc-shop.
	shop := func(g Gomega) (string, []any) {
		s := spec(g, c, sidecarKind, "msc-shop")
		g.Expect(s).NotTo(BeNil())
		mode, _, _ := unstructured.NestedString(s, "outboundTrafficPolicy", "mode")
		egress, _, _ := unstructured.NestedSlice(s, "egress")
		g.Expect(egress).To(HaveLen(1))
		hosts, _ := egress[0].(map[string]any)["hosts"].([]any)
		return mode, hosts
	}
	settled := func(mode string, hosts ...any) func(g Gomega) {
		return func(g Gomega) {
			gotMode, gotHosts := shop(g)
			g.Expect(gotMode).To(Equal(mode))
			g.Expect(gotHosts).To(Equal(hosts))
		}
	}
	g.Eventually(settled("ALLOW_ANY", "./*", "msc-system/*"), 20*time.Second, 50*time.Millisecond).Should(Succeed())

	// The admin's lockdown: REGISTRY_ONLY, with an egress gateway's namespace and an external API
	// (a ServiceEntry's host) reachable.
	root := &unstructured.Unstructured{}
	g.Expect(yamlInto(`
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: lockdown, namespace: msc-system}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
  egress:
  - hosts: ["./*", "msc-system/*", "msc-egress/*", "*/api.example.com"]
`, &root.Object)).To(Succeed())
	g.Expect(c.Create(ctx, root)).To(Succeed())
	g.Eventually(settled("REGISTRY_ONLY", "./*", "msc-system/*", "msc-egress/*", "*/api.example.com"), 10*time.Second, 50*time.Millisecond).
		Should(Succeed(), "the scoped namespace's Sidecar does not keep the mesh-wide Sidecar's lockdown in force")

	// The status pass wants the same Sidecar: it does not count the one in place as pending.
	g.Eventually(func(g Gomega) bool {
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())
		ns := &corev1.Namespace{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: "msc-shop"}, ns)).To(Succeed())
		found, err := meshSidecars.Find(ctx, mgr.GetClient(), mesh)
		g.Expect(err).NotTo(HaveOccurred())
		desired, _ := render.Policies(mesh, ns, true, found)
		current := &metav1.PartialObjectMetadata{}
		current.SetGroupVersionKind(sidecarKind)
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: "msc-shop", Name: render.PolicyName}, current)).To(Succeed())
		return applied.Stale(sidecarKind, client.ObjectKeyFromObject(current), current, desired[sidecarKind])
	}, 10*time.Second, 50*time.Millisecond).Should(BeFalse())

	// The admin changes it: every namespace's Sidecar follows.
	g.Expect(unstructured.SetNestedField(root.Object, "ALLOW_ANY", "spec", "outboundTrafficPolicy", "mode")).To(Succeed())
	g.Expect(unstructured.SetNestedSlice(root.Object, []any{map[string]any{"hosts": []any{"*/api.example.org"}}}, "spec", "egress")).To(Succeed())
	g.Expect(c.Update(ctx, root)).To(Succeed())
	g.Eventually(settled("ALLOW_ANY", "./*", "msc-system/*", "*/api.example.org"), 10*time.Second, 50*time.Millisecond).
		Should(Succeed(), "the scoped namespace's Sidecar does not follow the mesh-wide Sidecar's change")

	// A workloadSelector makes it no mesh-wide default: the Sidecar is scoping's alone again.
	g.Expect(unstructured.SetNestedField(root.Object, "REGISTRY_ONLY", "spec", "outboundTrafficPolicy", "mode")).To(Succeed())
	g.Expect(unstructured.SetNestedStringMap(root.Object, map[string]string{"app": "gateway"}, "spec", "workloadSelector", "labels")).To(Succeed())
	g.Expect(c.Update(ctx, root)).To(Succeed())
	g.Eventually(settled("ALLOW_ANY", "./*", "msc-system/*"), 10*time.Second, 50*time.Millisecond).
		Should(Succeed(), "a root Sidecar with a workloadSelector is taken for the mesh-wide default")
}

// TestAMeshWideSidecarBeingDeletedStaysInForce: istiod keeps applying a Sidecar that is being deleted
// (held by a finalizer) until it is gone, as it keeps every object its informers still hold. The
// mesh-wide default Sidecar's lockdown must stay in force in the scoped namespaces for as long: before,
// meshkeeper dropped it as soon as its deletion began, and opened egress in every enrolled namespace
// while istiod still locked the others down.
func TestAMeshWideSidecarBeingDeletedStaysInForce(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client
	createNamespaces(ctx, g, c, "msd-system", "msd-shop")

	mgr := newManager(g, env, env.Config)
	meshSidecars := policy.NewMeshSidecars(mgr.GetAPIReader())
	runPolicy(ctx, g, mgr, &policy.Reconciler{MeshSidecars: meshSidecars})

	mesh := createMesh(ctx, g, c, `
  namespace: msd-system
  injection: {namespaces: [msd-shop]}
  sidecarScoping: {enabled: true}
`)

	root := &unstructured.Unstructured{}
	g.Expect(yamlInto(`
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: lockdown, namespace: msd-system, finalizers: [example.com/hold]}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
  egress:
  - hosts: ["./*", "msd-system/*", "*/api.example.com"]
`, &root.Object)).To(Succeed())
	g.Expect(c.Create(ctx, root)).To(Succeed())

	// shop is the mode and egress hosts of meshkeeper's Sidecar in msd-shop.
	shop := func(g Gomega) (string, []any) {
		s := spec(g, c, sidecarKind, "msd-shop")
		g.Expect(s).NotTo(BeNil())
		mode, _, _ := unstructured.NestedString(s, "outboundTrafficPolicy", "mode")
		egress, _, _ := unstructured.NestedSlice(s, "egress")
		g.Expect(egress).To(HaveLen(1))
		hosts, _ := egress[0].(map[string]any)["hosts"].([]any)
		return mode, hosts
	}
	settled := func(mode string, hosts ...any) func(g Gomega) {
		return func(g Gomega) {
			gotMode, gotHosts := shop(g)
			g.Expect(gotMode).To(Equal(mode))
			g.Expect(gotHosts).To(Equal(hosts))
		}
	}
	g.Eventually(settled("REGISTRY_ONLY", "./*", "msd-system/*", "*/api.example.com"), 20*time.Second, 50*time.Millisecond).Should(Succeed())

	// The admin deletes it; a finalizer holds it, and istiod still applies it. Once the cache holds
	// it as being deleted, every reconcile sees it so.
	g.Expect(c.Delete(ctx, root)).To(Succeed())
	g.Eventually(func(g Gomega) {
		held := &metav1.PartialObjectMetadata{}
		held.SetGroupVersionKind(sidecarKind)
		g.Expect(mgr.GetClient().Get(ctx, client.ObjectKeyFromObject(root), held)).To(Succeed())
		g.Expect(held.DeletionTimestamp.IsZero()).To(BeFalse())
	}, 10*time.Second, 50*time.Millisecond).Should(Succeed())
	found, err := meshSidecars.Find(ctx, mgr.GetClient(), mesh)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(found).To(Equal(&render.MeshSidecar{Name: "lockdown", Hosts: []string{"./*", "msd-system/*", "*/api.example.com"}, RegistryOnly: true}),
		"a mesh-wide Sidecar istiod still applies is not the one in force")

	// A reconcile of the namespace after that (its owner adds an egress host) keeps the lockdown.
	ns := &corev1.Namespace{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: "msd-shop"}, ns)).To(Succeed())
	ns.Annotations = map[string]string{render.EgressHostsAnnotation: "payments/*"}
	g.Expect(c.Update(ctx, ns)).To(Succeed())
	g.Eventually(func(g Gomega) {
		_, hosts := shop(g)
		g.Expect(hosts).To(ContainElement("payments/*"))
	}, 10*time.Second, 50*time.Millisecond).Should(Succeed())
	settled("REGISTRY_ONLY", "./*", "msd-system/*", "*/api.example.com", "payments/*")(g)

	// Once it is gone, istiod drops it, and so does meshkeeper.
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(root), root)).To(Succeed())
	root.SetFinalizers(nil)
	g.Expect(c.Update(ctx, root)).To(Succeed())
	g.Eventually(settled("ALLOW_ANY", "./*", "msd-system/*", "payments/*"), 10*time.Second, 50*time.Millisecond).
		Should(Succeed(), "the scoped namespace's Sidecar keeps a mesh-wide Sidecar that is gone")
}

// TestOnlyTheServingRevisionsMeshWideSidecarIsCarried: istiod reads only the configuration without an
// istio.io/rev label or labelled for its own revision ("default" for an istiod installed without one);
// a root Sidecar labelled for another revision is not in force for the mesh's istiod, even the oldest.
// Before, meshkeeper carried it into every enrolled namespace's Sidecar all the same (here, a lockdown
// meant for another installation's revision). The label decides anew when it changes, and so does the
// default tag moving to another revision (status.activeRevision).
func TestOnlyTheServingRevisionsMeshWideSidecarIsCarried(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client
	createNamespaces(ctx, g, c, "msr-system", "msr-shop")

	mgr := newManager(g, env, env.Config)
	runPolicy(ctx, g, mgr, &policy.Reconciler{MeshSidecars: policy.NewMeshSidecars(mgr.GetAPIReader())})

	mesh := createMesh(ctx, g, c, `
  namespace: msr-system
  injection: {namespaces: [msr-shop]}
  sidecarScoping: {enabled: true}
`)

	// settled tells that meshkeeper's Sidecar in msr-shop has mode and hosts.
	settled := func(mode string, hosts ...any) func(g Gomega) {
		return func(g Gomega) {
			s := spec(g, c, sidecarKind, "msr-shop")
			g.Expect(s).NotTo(BeNil())
			gotMode, _, _ := unstructured.NestedString(s, "outboundTrafficPolicy", "mode")
			egress, _, _ := unstructured.NestedSlice(s, "egress")
			g.Expect(egress).To(HaveLen(1))
			g.Expect(gotMode).To(Equal(mode))
			g.Expect(egress[0].(map[string]any)["hosts"]).To(Equal(hosts))
		}
	}
	g.Eventually(settled("ALLOW_ANY", "./*", "msr-system/*"), 20*time.Second, 50*time.Millisecond).Should(Succeed())

	// Two root Sidecars: the older (or, created within the same second, the first by name) is
	// labelled for another revision.
	other := &unstructured.Unstructured{}
	g.Expect(yamlInto(`
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: a-other, namespace: msr-system, labels: {istio.io/rev: 1-30-0}}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
  egress:
  - hosts: ["./*", "*/api.example.com"]
`, &other.Object)).To(Succeed())
	g.Expect(c.Create(ctx, other)).To(Succeed())
	mine := &unstructured.Unstructured{}
	g.Expect(yamlInto(`
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: b-mine, namespace: msr-system}
spec:
  outboundTrafficPolicy: {mode: ALLOW_ANY}
  egress:
  - hosts: ["./*", "*/api.example.org"]
`, &mine.Object)).To(Succeed())
	g.Expect(c.Create(ctx, mine)).To(Succeed())

	g.Eventually(settled("ALLOW_ANY", "./*", "msr-system/*", "*/api.example.org"), 10*time.Second, 50*time.Millisecond).
		Should(Succeed(), "a root Sidecar labelled for another revision, which istiod does not read, is carried into the namespace's Sidecar")

	// Labelled for the revision of an istiod installed without one (InPlace), it is in force.
	relabel := func(rev string) {
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(other), other)).To(Succeed())
		other.SetLabels(map[string]string{"istio.io/rev": rev})
		g.Expect(c.Update(ctx, other)).To(Succeed())
	}
	relabel("default")
	g.Eventually(settled("REGISTRY_ONLY", "./*", "msr-system/*", "*/api.example.com"), 10*time.Second, 50*time.Millisecond).
		Should(Succeed(), "a root Sidecar labelled for the mesh's revision is not carried")

	// The default tag moves to the revision 1-31-0: the Sidecar labelled "default" is no longer read.
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())
	mesh.Status.ActiveRevision = "1-31-0"
	g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
	g.Eventually(settled("ALLOW_ANY", "./*", "msr-system/*", "*/api.example.org"), 10*time.Second, 50*time.Millisecond).
		Should(Succeed(), "the namespace's Sidecar does not follow the default tag to another revision")
	relabel("1-31-0")
	g.Eventually(settled("REGISTRY_ONLY", "./*", "msr-system/*", "*/api.example.com"), 10*time.Second, 50*time.Millisecond).
		Should(Succeed(), "a root Sidecar labelled for the active revision is not carried")
}
