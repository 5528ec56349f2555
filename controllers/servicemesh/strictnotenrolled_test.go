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

package servicemesh

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// TestMTLSReadyNamesStrictNamespacesThatAreNotEnrolled: meshkeeper writes a STRICT PeerAuthentication
// in every namespace spec.mtls.namespaces sets STRICT, enrolled or not, but only a sidecar enforces
// it. In a namespace that is not enrolled (spec.injection does not select it, or it is selected but
// refused) its pods have none and accept plaintext from anyone, so MTLSReady must not say STRICT holds:
// it is False with StrictNamespacesNotEnrolled, a reason that sets Stalled (no restart enrolls a
// namespace), except while a namespace is left out only because the API server refuses meshkeeper's
// label, which meshkeeper retries: NamespacesEnrolled, False with NamespaceWriteRefused, then keeps the
// mesh Reconciling (TestAStrictNamespaceOnlyRefusedIsRetriedNotStalled). Its message names the
// namespaces, why each is not enrolled, and what to do. A namespace being enrolled, one that does not
// exist or is being deleted, an enrolled one, a PERMISSIVE override, namespaces outside the mesh under
// a STRICT mesh-wide mode without an override, and one spec.injection no longer selects that keeps
// meshkeeper's label because the API server refuses its removal (its pods still get a sidecar, which
// enforces STRICT) are not named.
func TestMTLSReadyNamesStrictNamespacesThatAreNotEnrolled(t *testing.T) {
	strict, permissive := meshv1alpha1.MTLSStrict, meshv1alpha1.MTLSPermissive
	deleting := labelledNamespace("leaving", nil)
	deleting.DeletionTimestamp = &metav1.Time{}
	deleting.Finalizers = []string{"kubernetes"}
	restricted := labelledNamespace("locked", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	tests := map[string]struct {
		mode      meshv1alpha1.MTLSMode
		overrides map[string]meshv1alpha1.MTLSMode
		// labelled tells whether the selected namespaces carry meshkeeper's label already (enrolled)
		// or not yet (being enrolled).
		labelled bool
		// refused are the namespaces whose label write the API server refuses.
		refused        map[string]meshctx.Refusal
		withoutSidecar map[string]int
		wantReason     string
		mentions       []string
		omits          []string
	}{
		"a strict override of a namespace spec.injection does not select": {
			mode: permissive, overrides: map[string]meshv1alpha1.MTLSMode{"payments": strict, "shop": strict}, labelled: true,
			wantReason: meshv1alpha1.ReasonStrictNamespacesNotEnrolled,
			mentions: []string{"spec.mtls.namespaces sets STRICT in 1 namespace(s) that are not enrolled",
				"payments (not selected by spec.injection)", "accept plaintext from any client",
				"add them to spec.injection", "or remove their override"},
			omits: []string{"shop"},
		},
		"a strict override of a selected namespace its Pod Security level keeps out": {
			mode: permissive, overrides: map[string]meshv1alpha1.MTLSMode{"locked": strict}, labelled: true,
			wantReason: meshv1alpha1.ReasonStrictNamespacesNotEnrolled,
			mentions:   []string{"locked (PodSecurityRejectsSidecar)", "NamespacesEnrolled says why"},
		},
		// Selected, it is not enrolled only because the API server refuses the label: that is why, not
		// how spec.injection selects it.
		"a strict override of a selected namespace whose label write the API server refuses": {
			mode: permissive, overrides: map[string]meshv1alpha1.MTLSMode{"shop": strict}, labelled: false,
			refused:    map[string]meshctx.Refusal{"shop": {Answer: "istio-injection is forbidden on tenant namespaces"}},
			wantReason: meshv1alpha1.ReasonStrictNamespacesNotEnrolled,
			mentions:   []string{"shop (" + meshv1alpha1.ReasonNamespaceWriteRefused + ")"},
			omits:      []string{"Listed"},
		},
		// De-selected, it keeps meshkeeper's label, which the API server refuses to let go: its pods
		// still get a sidecar, so STRICT is enforced there, and NamespacesEnrolled names it (refused).
		"a strict override of a namespace spec.injection no longer selects whose label's removal the API server refuses": {
			mode: permissive, overrides: map[string]meshv1alpha1.MTLSMode{"kept": strict}, labelled: true,
			refused:    map[string]meshctx.Refusal{"kept": {Answer: "istio-injection may not be removed", Releasing: true}},
			wantReason: meshv1alpha1.ReasonNoPlaintextClients,
		},
		"more than five, named up to five with a count": {
			mode: strict, overrides: map[string]meshv1alpha1.MTLSMode{"a1": strict, "a2": strict, "a3": strict, "a4": strict,
				"a5": strict, "a6": strict, "a7": strict}, labelled: true,
			wantReason: meshv1alpha1.ReasonStrictNamespacesNotEnrolled,
			mentions:   []string{"in 7 namespace(s)", "a5 (not selected by spec.injection) and 2 more"},
			omits:      []string{"a6", "a7"},
		},
		// It needs a person even while pods without a sidecar elsewhere may be restarted: its reason wins.
		"beside plaintext clients of an enrolled namespace": {
			mode: permissive, overrides: map[string]meshv1alpha1.MTLSMode{"payments": strict, "shop": strict}, labelled: true,
			withoutSidecar: map[string]int{"shop": 2},
			wantReason:     meshv1alpha1.ReasonStrictNamespacesNotEnrolled,
			mentions:       []string{"payments (not selected by spec.injection)", "shop (2 pod(s))"},
		},
		"every strict override enrolled": {
			mode: permissive, overrides: map[string]meshv1alpha1.MTLSMode{"shop": strict}, labelled: true,
			wantReason: meshv1alpha1.ReasonNoPlaintextClients,
		},
		"a strict override of a namespace being enrolled": {
			mode: permissive, overrides: map[string]meshv1alpha1.MTLSMode{"shop": strict}, labelled: false,
			wantReason: meshv1alpha1.ReasonNoPlaintextClients,
		},
		"a strict override of a namespace that does not exist, or is being deleted": {
			mode: permissive, overrides: map[string]meshv1alpha1.MTLSMode{"paymnets": strict, "leaving": strict}, labelled: true,
			wantReason: meshv1alpha1.ReasonNoPlaintextClients,
		},
		"a permissive override of a namespace outside the mesh": {
			mode: strict, overrides: map[string]meshv1alpha1.MTLSMode{"payments": permissive}, labelled: true,
			wantReason: meshv1alpha1.ReasonNoPlaintextClients,
		},
		"a strict mesh-wide mode and namespaces outside the mesh without an override": {
			mode: strict, labelled: true,
			wantReason: meshv1alpha1.ReasonNoPlaintextClients,
			mentions:   []string{"clients in namespaces outside the mesh, are not judged"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 4}}
			mesh.Spec = *testObservation().spec
			mesh.Spec.Injection.Namespaces = []string{"shop", "locked"}
			mesh.Spec.MTLS = meshv1alpha1.MTLSSpec{Mode: tc.mode, Namespaces: tc.overrides}
			mesh.Spec.CNI.Enabled = ptr.To(false) // so that locked's level rejects istio-init
			enrollment, err := meshctx.Enrollment(mesh)
			if err != nil {
				t.Fatal(err)
			}
			namespaces := []corev1.Namespace{labelledNamespace("shop", nil), labelledNamespace("payments", nil), deleting, restricted,
				labelledNamespace("istio-system", nil), keptNamespace("kept")}
			for _, name := range []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7"} {
				namespaces = append(namespaces, labelledNamespace(name, nil))
			}
			for i := range namespaces {
				if ns := &namespaces[i]; tc.labelled && enrollment.Namespace(ns, nil).Enroll {
					key, value := enrollment.LabelFor(ns.Name)
					ns.Labels[key] = value
				}
			}
			obs := testObservation()
			obs.spec = &mesh.Spec
			refusals := meshctx.NewRefusals()
			for name, refusal := range tc.refused {
				refusals.Set(name, refusal)
			}
			obs.namespaces = observeNamespaces(namespaces, enrollment, nil, refusals)
			obs.namespaces.overriddenNotEnrolled = overriddenNotEnrolled(&mesh.Spec, namespaces, enrollment, obs.namespaces)
			obs.proxies = &proxiesObservation{withoutSidecar: tc.withoutSidecar}
			obs.ingresses = &ingressesObservation{controllerRollout: ingress.Rollout{Done: true}}

			status := &meshv1alpha1.ServiceMeshStatus{}
			setMTLSReady(status, obs)
			recorder := events.NewFakeRecorder(10)
			r := &Reconciler{Recorder: recorder}
			r.reportMTLS(mesh, status, obs)
			c := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionMTLSReady)
			if c == nil || c.Reason != tc.wantReason {
				t.Fatalf("MTLSReady = %+v, want reason %s", c, tc.wantReason)
			}
			if want := tc.wantReason == meshv1alpha1.ReasonNoPlaintextClients; (c.Status == metav1.ConditionTrue) != want {
				t.Errorf("MTLSReady is %s with %s", c.Status, c.Reason)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(c.Message, m) {
					t.Errorf("message %q does not say %q", c.Message, m)
				}
			}
			for _, m := range tc.omits {
				if strings.Contains(c.Message, m) {
					t.Errorf("message %q names %q", c.Message, m)
				}
			}
			if c.Status == metav1.ConditionTrue {
				if len(recorder.Events) > 0 {
					t.Errorf("a Warning for MTLSReady True: %s", <-recorder.Events)
				}
				return
			}
			if !stalledReasons.Has(c.Reason) {
				t.Errorf("%s does not set Stalled: no restart enrolls a namespace", c.Reason)
			}
			if len(recorder.Events) != 1 {
				t.Fatalf("%d Warnings, want 1", len(recorder.Events))
			}
			if event := <-recorder.Events; !strings.HasPrefix(event, "Warning "+c.Reason+" ") {
				t.Errorf("Event %q, want a Warning with reason %s", event, c.Reason)
			}
		})
	}
}

// TestAStrictNamespaceOnlyRefusedIsRetriedNotStalled: a namespace STRICT by an override that is not
// enrolled only because the API server refuses meshkeeper's label (NamespaceWriteRefused, which
// meshkeeper retries) is named by MTLSReady as not enrolled, with that reason, but does not make the
// mesh Stalled through MTLSReady: NamespacesEnrolled, False with NamespaceWriteRefused for the same
// namespace, keeps the mesh Reconciling, as the refusal alone does.
func TestAStrictNamespaceOnlyRefusedIsRetriedNotStalled(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 4}}
	mesh.Spec = *testObservation().spec
	mesh.Spec.Injection.Namespaces = []string{"shop"}
	mesh.Spec.MTLS = meshv1alpha1.MTLSSpec{Mode: meshv1alpha1.MTLSPermissive,
		Namespaces: map[string]meshv1alpha1.MTLSMode{"shop": meshv1alpha1.MTLSStrict}}
	enrollment, err := meshctx.Enrollment(mesh)
	if err != nil {
		t.Fatal(err)
	}
	namespaces := []corev1.Namespace{labelledNamespace("shop", nil), labelledNamespace("istio-system", nil)}
	refusals := meshctx.NewRefusals()
	refusals.Set("shop", meshctx.Refusal{Answer: "istio-injection is forbidden on tenant namespaces"})
	obs := testObservation()
	obs.spec = &mesh.Spec
	obs.namespaces = observeNamespaces(namespaces, enrollment, nil, refusals)
	obs.namespaces.overriddenNotEnrolled = overriddenNotEnrolled(&mesh.Spec, namespaces, enrollment, obs.namespaces)
	obs.proxies = &proxiesObservation{}
	obs.ingresses = &ingressesObservation{controllerRollout: ingress.Rollout{Done: true}}

	status := &meshv1alpha1.ServiceMeshStatus{Conditions: judged(obs.generation)} // every other condition True
	setNamespacesEnrolled(status, obs)
	setMTLSReady(status, obs)
	summarizeReady(status, obs)
	setReconcilingOrStalled(status, obs)

	mtls := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionMTLSReady)
	if mtls == nil || mtls.Status != metav1.ConditionFalse || mtls.Reason != meshv1alpha1.ReasonStrictNamespacesNotEnrolled ||
		!strings.Contains(mtls.Message, "shop ("+meshv1alpha1.ReasonNamespaceWriteRefused+")") {
		t.Errorf("MTLSReady %+v, want False/%s naming shop (%s)", mtls, meshv1alpha1.ReasonStrictNamespacesNotEnrolled,
			meshv1alpha1.ReasonNamespaceWriteRefused)
	}
	if stalled := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionStalled); stalled != nil {
		t.Errorf("Stalled %s/%s: %s; a refused write is retried", stalled.Status, stalled.Reason, stalled.Message)
	}
	reconciling := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReconciling)
	if reconciling == nil || reconciling.Status != metav1.ConditionTrue || reconciling.Reason != meshv1alpha1.ReasonNamespaceWriteRefused {
		t.Errorf("Reconciling %+v, want True/%s", reconciling, meshv1alpha1.ReasonNamespaceWriteRefused)
	}
}

// TestAStrictNamespaceThatKeepsMeshkeepersLabelIsNotNamedNotEnrolled: a namespace taken out of
// spec.injection whose injection label meshkeeper cannot take back (the API server refuses the
// removal) keeps it, and its pods keep getting a sidecar, which enforces the STRICT override
// spec.mtls.namespaces gives it. MTLSReady does not name it as not enrolled ("not selected by
// spec.injection", as it did, which its label belies); NamespacesEnrolled names it, as refused, with
// its new pods still getting a sidecar, and keeps the mesh Reconciling while meshkeeper retries.
func TestAStrictNamespaceThatKeepsMeshkeepersLabelIsNotNamedNotEnrolled(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 4}}
	mesh.Spec = *testObservation().spec
	mesh.Spec.Injection.Namespaces = []string{"shop"}
	mesh.Spec.MTLS = meshv1alpha1.MTLSSpec{Mode: meshv1alpha1.MTLSPermissive,
		Namespaces: map[string]meshv1alpha1.MTLSMode{"kept": meshv1alpha1.MTLSStrict}}
	enrollment, err := meshctx.Enrollment(mesh)
	if err != nil {
		t.Fatal(err)
	}
	namespaces := []corev1.Namespace{labelledNamespace("shop", map[string]string{policy.LabelIstioInjection: "enabled"}),
		keptNamespace("kept"), labelledNamespace("istio-system", nil)}
	refusals := meshctx.NewRefusals()
	refusals.Set("kept", meshctx.Refusal{Releasing: true, Answer: "istio-injection may not be removed"})
	obs := testObservation()
	obs.spec = &mesh.Spec
	obs.namespaces = observeNamespaces(namespaces, enrollment, nil, refusals)
	obs.namespaces.overriddenNotEnrolled = overriddenNotEnrolled(&mesh.Spec, namespaces, enrollment, obs.namespaces)
	obs.proxies = &proxiesObservation{}
	obs.ingresses = &ingressesObservation{controllerRollout: ingress.Rollout{Done: true}}

	status := &meshv1alpha1.ServiceMeshStatus{Conditions: judged(obs.generation)} // every other condition True
	setNamespacesEnrolled(status, obs)
	setMTLSReady(status, obs)
	summarizeReady(status, obs)
	setReconcilingOrStalled(status, obs)

	if mtls := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionMTLSReady); mtls == nil ||
		mtls.Status != metav1.ConditionTrue || strings.Contains(mtls.Message, "kept") {
		t.Errorf("MTLSReady %+v, want True/%s: kept's pods get a sidecar from the label it keeps", mtls, meshv1alpha1.ReasonNoPlaintextClients)
	}
	enrolled := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionNamespacesEnrolled)
	if enrolled == nil || enrolled.Status != metav1.ConditionFalse || enrolled.Reason != meshv1alpha1.ReasonNamespaceWriteRefused ||
		!strings.Contains(enrolled.Message, "kept") || !strings.Contains(enrolled.Message, "new pods keep getting a sidecar") {
		t.Errorf("NamespacesEnrolled %+v, want False/%s naming kept, whose new pods keep getting a sidecar", enrolled,
			meshv1alpha1.ReasonNamespaceWriteRefused)
	}
	if stalled := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionStalled); stalled != nil {
		t.Errorf("Stalled %s/%s: %s; a refused write is retried", stalled.Status, stalled.Reason, stalled.Message)
	}
	reconciling := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReconciling)
	if reconciling == nil || reconciling.Status != metav1.ConditionTrue || reconciling.Reason != meshv1alpha1.ReasonNamespaceWriteRefused {
		t.Errorf("Reconciling %+v, want True/%s", reconciling, meshv1alpha1.ReasonNamespaceWriteRefused)
	}
}

// keptNamespace is a namespace that carries meshkeeper's injection label, as meshkeeper's apply left it
// while spec.injection selected it.
func keptNamespace(name string) corev1.Namespace {
	ns := labelledNamespace(name, map[string]string{policy.LabelIstioInjection: "enabled"})
	ns.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
		APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:istio-injection":{}}}}`)}}
	return ns
}
