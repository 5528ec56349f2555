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
	"net/http"
	"runtime"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/policy"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestThePolicyKindsGoAndComeBackWithTheirCRDs: the Istio CRDs are deleted while the manager runs (a
// platform team cleaning up after an uninstall with kubectl delete crd, or the base chart removed) and
// created again by the next install. While they are gone the ServiceMesh says so (PoliciesApplied False
// IstioCRDsMissing); before, the REST mapper, which never forgets a kind it mapped, had the kinds served
// for good, and PoliciesApplied said "1 policy object(s) being written" of a kind the API server no longer
// served. Once they are back, the policies are written again, and the status says so, within seconds and
// without a restart (the kinds' informers, in their relist backoff by then, are replaced), and each cycle
// leaves no goroutine behind.
func TestThePolicyKindsGoAndComeBackWithTheirCRDs(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client

	// The manager's lists of the policy objects of every namespace, but for the probes of a kind's watch
	// cache (which select no object): an informer's reflector listing its kind.
	lists := &testenv.RequestCounter{Match: func(req *http.Request) bool {
		return req.Method == http.MethodGet && !req.URL.Query().Has("watch") && policyCollection.MatchString(req.URL.Path) &&
			req.URL.Query().Get("fieldSelector") != "metadata.name=-"
	}}
	config := rest.CopyConfig(env.Config)
	config.Wrap(lists.Wrap)

	runPolicyAndMesh(ctx, g, env, config, installsNothing{})

	createNamespaces(ctx, g, c, "gone-system")
	mesh := createMesh(ctx, g, c, `
  namespace: gone-system
  cni: {enabled: false}
  mtls: {mode: STRICT}
`)
	policies := func(g Gomega) *metav1.Condition {
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())
		condition := meta.FindStatusCondition(mesh.Status.Conditions, meshv1alpha1.ConditionPoliciesApplied)
		g.Expect(condition).NotTo(BeNil())
		return condition
	}
	written := func(g Gomega) {
		g.Expect(spec(g, c, peerAuthenticationKind, "gone-system")).To(Equal(map[string]any{"mtls": map[string]any{"mode": "STRICT"}}))
		g.Expect(policies(g).Status).To(Equal(metav1.ConditionTrue), "PoliciesApplied: %+v", policies(g))
	}
	g.Eventually(written, 30*time.Second, 50*time.Millisecond).Should(Succeed())

	goroutines := runtime.NumGoroutine()
	const cycles = 3
	for cycle := range cycles {
		for _, crd := range istioCRDs(t) {
			g.Expect(c.Delete(ctx, crd)).To(Succeed())
		}
		g.Eventually(func(g Gomega) {
			for _, crd := range istioCRDs(t) {
				err := c.Get(ctx, client.ObjectKeyFromObject(crd), &apiextensionsv1.CustomResourceDefinition{})
				g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s: %v", crd.Name, err)
			}
		}, 30*time.Second, 50*time.Millisecond).Should(Succeed())
		g.Eventually(func(g Gomega) {
			g.Expect(policies(g).Reason).To(Equal(meshv1alpha1.ReasonIstioCRDsMissing), "PoliciesApplied: %+v", policies(g))
		}, 10*time.Second, 50*time.Millisecond).Should(Succeed(), "cycle %d: the status does not say the policy kinds are gone", cycle)

		// Nothing is applied meanwhile: an apply while a CRD is being deleted, or once it is gone, is refused
		// ("create not allowed while custom resource definition is terminating", or 404) and was reported
		// as a PolicyApplyFailed Warning on the ServiceMesh.
		g.Consistently(func(g Gomega) {
			events := &eventsv1.EventList{}
			g.Expect(c.List(ctx, events)).To(Succeed())
			for _, e := range events.Items {
				g.Expect(e.Reason).NotTo(Equal(policy.ReasonApplyFailed), "cycle %d: %s: %s", cycle, e.Regarding.Kind, e.Note)
			}
		}, 3*time.Second, 100*time.Millisecond).Should(Succeed())

		// The kinds' informers stay, and list their kinds again after a backoff: at most one list a
		// second per kind while the CRDs are gone, not a new informer's each time a kind is looked for.
		before := lists.Total()
		time.Sleep(3 * time.Second)
		g.Expect(lists.Total()-before).To(BeNumerically("<=", 2*3), "cycle %d: lists of the policy kinds while their CRDs are gone", cycle)

		for _, crd := range istioCRDs(t) {
			g.Expect(c.Create(ctx, crd)).To(Succeed())
		}
		// The wait includes the API server establishing the 15 CRDs again, which under a loaded CI (every
		// tier at once on 2 cores) once took more than 5 s.
		g.Eventually(written, 10*time.Second, 50*time.Millisecond).Should(Succeed(), "cycle %d: the policies are not written again", cycle)
	}
	// A leak of an informer, a watch or a wait per cycle would show as a few goroutines per cycle; the
	// slack is for the HTTP connections and workers that come and go.
	g.Eventually(runtime.NumGoroutine, 10*time.Second, 100*time.Millisecond).Should(BeNumerically("<", goroutines+10),
		"goroutines before %d cycles of the CRDs: %d", cycles, goroutines)
}

// TestAServiceMeshGoesAfterItsPolicyCRDs: the Istio CRDs are deleted while the manager runs, and then the
// ServiceMesh (an uninstall done in the other order, or a GitOps tool pruning both at once). There are no
// policy objects left to delete, so the uninstall goes on; before, the REST mapper still mapped the kinds
// it had mapped, the list of meshkeeper's policy objects failed with 404, and the ServiceMesh stayed
// Terminating for good.
func TestAServiceMeshGoesAfterItsPolicyCRDs(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client

	condition := startMesh(ctx, g, env, installsNothing{}, "after-system")
	g.Eventually(func(g Gomega) {
		g.Expect(condition(g, meshv1alpha1.ConditionPoliciesApplied).Status).To(Equal(metav1.ConditionTrue))
	}, 30*time.Second, 50*time.Millisecond).Should(Succeed())

	for _, crd := range istioCRDs(t) {
		g.Expect(c.Delete(ctx, crd)).To(Succeed())
	}
	g.Eventually(func(g Gomega) {
		for _, crd := range istioCRDs(t) {
			err := c.Get(ctx, client.ObjectKeyFromObject(crd), &apiextensionsv1.CustomResourceDefinition{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s: %v", crd.Name, err)
		}
	}, 30*time.Second, 50*time.Millisecond).Should(Succeed())

	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	g.Expect(c.Delete(ctx, mesh)).To(Succeed())
	g.Eventually(func(g Gomega) {
		err := c.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the ServiceMesh is still there: %v, conditions %+v", err, mesh.Status.Conditions)
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}
