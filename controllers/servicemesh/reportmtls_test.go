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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// TestReportMTLSOncePerProblem: the PlaintextClients Warning marks a problem that appears or gains a
// namespace, not the pods of a namespace being restarted one by one.
func TestReportMTLSOncePerProblem(t *testing.T) {
	recorder := events.NewFakeRecorder(20)
	r := &Reconciler{Recorder: recorder}
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 1},
		Spec: meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system", MTLS: meshv1alpha1.MTLSSpec{Mode: meshv1alpha1.MTLSStrict},
			IngressNginx: meshv1alpha1.IngressNginxSpec{Controller: meshv1alpha1.WorkloadReference{
				Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Kind: "Deployment"}}}}
	status := &meshv1alpha1.ServiceMeshStatus{}
	report := func(withoutSidecar map[string]int, controllerWithoutSidecar bool) []string {
		t.Helper()
		obs := &observation{generation: 1, spec: &mesh.Spec,
			namespaces: &namespacesObservation{enrolled: sets.New("shop", "cart", "legacy")},
			proxies:    &proxiesObservation{withoutSidecar: withoutSidecar},
			ingresses: &ingressesObservation{enabled: true, controllerApplied: true,
				controller:        policy.PodTemplateDecision{Configured: !controllerWithoutSidecar},
				controllerRollout: ingress.Rollout{Done: true}}}
		setMTLSReady(status, obs)
		r.reportMTLS(mesh, status, obs)
		var got []string
		for len(recorder.Events) > 0 {
			got = append(got, <-recorder.Events)
		}
		return got
	}
	steps := []struct {
		name                     string
		withoutSidecar           map[string]int
		controllerWithoutSidecar bool
		// want is what the Warning names; empty: no Warning.
		want []string
	}{
		{"shop has pods without a sidecar", map[string]int{"shop": 5}, false, []string{"shop (5 pod(s))"}},
		{"a pod of shop restarted", map[string]int{"shop": 4}, false, nil},
		{"another pod of shop restarted", map[string]int{"shop": 3}, false, nil},
		{"cart joins", map[string]int{"shop": 3, "cart": 2}, false, []string{"cart (2 pod(s))", "shop (3 pod(s))"}},
		{"a pod of shop comes back without a sidecar", map[string]int{"shop": 4, "cart": 2}, false, nil},
		{"cart drops out", map[string]int{"shop": 3}, false, nil},
		{"the ingress-nginx controller loses its sidecar", map[string]int{"shop": 3}, true, []string{"ingress-nginx-controller"}},
		{"the controller still runs without it", map[string]int{"shop": 2}, true, nil},
		{"cart joins again", map[string]int{"shop": 2, "cart": 1}, true, []string{"cart (1 pod(s))"}},
		{"every pod has its sidecar", nil, false, nil},
		{"shop again, after MTLSReady was True", map[string]int{"shop": 1}, false, []string{"shop (1 pod(s))"}},
	}
	for _, step := range steps {
		got := report(step.withoutSidecar, step.controllerWithoutSidecar)
		switch {
		case len(step.want) == 0 && len(got) > 0:
			t.Errorf("%s: Warnings %q, want none", step.name, got)
		case len(step.want) > 0 && len(got) != 1:
			t.Errorf("%s: Warnings %q, want one naming %q", step.name, got, step.want)
		case len(step.want) > 0:
			if !strings.HasPrefix(got[0], "Warning "+meshv1alpha1.ReasonPlaintextClients+" ") {
				t.Errorf("%s: Event %q, want a %s Warning", step.name, got[0], meshv1alpha1.ReasonPlaintextClients)
			}
			for _, w := range step.want {
				if !strings.Contains(got[0], w) {
					t.Errorf("%s: Warning %q does not name %q", step.name, got[0], w)
				}
			}
		}
	}
}

// TestReportMTLSWhenANamespaceChangesRisk: a namespace STRICT by override that goes from not enrolled
// to enrolled with pods without a sidecar gets a Warning of the new reason, though it was named before.
func TestReportMTLSWhenANamespaceChangesRisk(t *testing.T) {
	recorder := events.NewFakeRecorder(20)
	r := &Reconciler{Recorder: recorder}
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 1},
		Spec: meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
			MTLS: meshv1alpha1.MTLSSpec{Mode: meshv1alpha1.MTLSPermissive, Namespaces: map[string]meshv1alpha1.MTLSMode{"payments": meshv1alpha1.MTLSStrict}}}}
	status := &meshv1alpha1.ServiceMeshStatus{}
	report := func(enrolled bool, withoutSidecar map[string]int) []string {
		t.Helper()
		namespaces := &namespacesObservation{enrolled: sets.New("shop"), overriddenNotEnrolled: map[string]string{"payments": "not selected by spec.injection"}}
		if enrolled {
			namespaces = &namespacesObservation{enrolled: sets.New("shop", "payments")}
		}
		obs := &observation{generation: 1, spec: &mesh.Spec, namespaces: namespaces,
			proxies:   &proxiesObservation{withoutSidecar: withoutSidecar},
			ingresses: &ingressesObservation{controllerRollout: ingress.Rollout{Done: true}}}
		setMTLSReady(status, obs)
		r.reportMTLS(mesh, status, obs)
		var got []string
		for len(recorder.Events) > 0 {
			got = append(got, <-recorder.Events)
		}
		return got
	}
	for _, step := range []struct {
		name           string
		enrolled       bool
		withoutSidecar map[string]int
		want           string // the Warning's reason; "" for none
	}{
		{"payments is STRICT but not enrolled", false, nil, meshv1alpha1.ReasonStrictNamespacesNotEnrolled},
		{"payments still is", false, nil, ""},
		{"payments is enrolled, its pods not yet restarted", true, map[string]int{"payments": 2}, meshv1alpha1.ReasonPlaintextClients},
		{"one of them restarted", true, map[string]int{"payments": 1}, ""},
	} {
		got := report(step.enrolled, step.withoutSidecar)
		switch {
		case step.want == "" && len(got) > 0:
			t.Errorf("%s: Warnings %q, want none", step.name, got)
		case step.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], "Warning "+step.want+" ")):
			t.Errorf("%s: Warnings %q, want one %s Warning", step.name, got, step.want)
		}
	}
}
