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
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/policy"
)

// TestAPolicyCRDBeingDeletedWhenTheManagerStartsIsNotServed: the PeerAuthentication CRD is being deleted
// when the manager starts (a new leader taking over during a cleanup; here a PeerAuthentication with a
// finalizer of someone else's holds the deletion up). The manager's informer reports the CRD as created,
// with its deletion timestamp already set: the kinds count as not served (PoliciesApplied False
// IstioCRDsMissing), and meshkeeper writes nothing the API server would refuse with "create not allowed
// while custom resource definition is terminating", each refusal a PolicyApplyFailed Warning.
func TestAPolicyCRDBeingDeletedWhenTheManagerStartsIsNotServed(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client

	createNamespaces(ctx, g, c, "held")
	held := &unstructured.Unstructured{}
	held.SetGroupVersionKind(peerAuthenticationKind)
	held.SetNamespace("held")
	held.SetName("held")
	held.SetFinalizers([]string{"test.meshkeeper.io/hold"})
	// The client's REST mapper maps the kind once discovery serves it, a moment after the CRD's creation.
	g.Eventually(func() error { return c.Create(ctx, held) }, 30*time.Second, 50*time.Millisecond).Should(Succeed())
	var crd *apiextensionsv1.CustomResourceDefinition
	for _, each := range istioCRDs(t) {
		if each.Spec.Names.Kind == peerAuthenticationKind.Kind {
			crd = each
		}
	}
	g.Expect(c.Delete(ctx, crd)).To(Succeed())
	// The API server deletes the CRD's objects before the CRD; the finalizer keeps one, and the CRD with it.
	g.Eventually(func(g Gomega) {
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(held), held)).To(Succeed())
		g.Expect(held.GetDeletionTimestamp()).NotTo(BeNil())
	}, 30*time.Second, 50*time.Millisecond).Should(Succeed())
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(crd), crd)).To(Succeed())
	g.Expect(crd.DeletionTimestamp).NotTo(BeNil())

	condition := startMesh(ctx, g, env, installsNothing{}, "terminating-system")
	g.Eventually(func(g Gomega) {
		policies := condition(g, meshv1alpha1.ConditionPoliciesApplied)
		g.Expect(policies.Reason).To(Equal(meshv1alpha1.ReasonIstioCRDsMissing), "PoliciesApplied: %+v", policies)
	}, 20*time.Second, 50*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		policies := condition(g, meshv1alpha1.ConditionPoliciesApplied)
		g.Expect(policies.Reason).To(Equal(meshv1alpha1.ReasonIstioCRDsMissing), "PoliciesApplied: %+v", policies)
		events := &eventsv1.EventList{}
		g.Expect(c.List(ctx, events)).To(Succeed())
		for _, e := range events.Items {
			g.Expect(e.Reason).NotTo(Equal(policy.ReasonApplyFailed), "%s: %s", e.Regarding.Kind, e.Note)
		}
	}, 3*time.Second, 100*time.Millisecond).Should(Succeed())

	// Once the finalizer is gone, so is the CRD; created again, the policies are written.
	held.SetFinalizers(nil)
	g.Expect(c.Update(ctx, held)).To(Succeed())
	g.Eventually(func(g Gomega) {
		err := c.Get(ctx, client.ObjectKeyFromObject(crd), &apiextensionsv1.CustomResourceDefinition{})
		g.Expect(client.IgnoreNotFound(err)).To(Succeed())
		g.Expect(err).To(HaveOccurred())
	}, 30*time.Second, 50*time.Millisecond).Should(Succeed())
	crd.ResourceVersion, crd.UID, crd.DeletionTimestamp, crd.Finalizers = "", "", nil, nil
	crd.CreationTimestamp = metav1.Time{}
	g.Expect(c.Create(ctx, crd)).To(Succeed())
	g.Eventually(func(g Gomega) {
		policies := condition(g, meshv1alpha1.ConditionPoliciesApplied)
		g.Expect(policies.Status).To(Equal(metav1.ConditionTrue), "PoliciesApplied: %+v", policies)
	}, 10*time.Second, 50*time.Millisecond).Should(Succeed())
}
