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

package policy

import (
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func terminatingNamespace(name string, labels map[string]string) *corev1.Namespace {
	ns := namespace(name, labels)
	ns.DeletionTimestamp = &metav1.Time{}
	return ns
}

// meshOn is the selector most cases use: namespaces labelled mesh=on.
var meshOn = &metav1.LabelSelector{MatchLabels: map[string]string{"mesh": "on"}}

// enabledLabel is the label meshkeeper sets for its default revision.
var enabledLabel = map[string]string{LabelIstioInjection: "enabled"}

func TestEnrollmentNamespace(t *testing.T) {
	tests := map[string]struct {
		controlPlane string // spec.namespace; istio-system when empty
		injection    meshv1alpha1.InjectionSpec
		revision     string
		cniOff       bool     // spec.cni.enabled false; unset (on) otherwise
		cniExcluded  []string // spec.cni.excludeNamespaces
		values       string   // spec.values, JSON
		ns           *corev1.Namespace
		owned        []string // label keys meshkeeper's field manager owns

		wantEnroll  bool
		wantLabels  map[string]string
		wantReason  string
		wantMessage []string
	}{
		"a listed namespace is enrolled with istio-injection=enabled": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", nil),
			wantEnroll: true, wantLabels: enabledLabel, wantReason: Listed,
			wantMessage: []string{"namespace shop", "spec.injection.namespaces", "when restarted"},
		},
		"a namespace the selector matches is enrolled": {
			injection:  meshv1alpha1.InjectionSpec{NamespaceSelector: meshOn},
			ns:         namespace("payments", map[string]string{"mesh": "on"}),
			wantEnroll: true, wantLabels: enabledLabel, wantReason: SelectorMatched,
			wantMessage: []string{"namespace payments", "spec.injection.namespaceSelector"},
		},
		"a selector with matchExpressions enrolls what it matches": {
			injection: meshv1alpha1.InjectionSpec{NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: metav1.LabelSelectorOpIn, Values: []string{"checkout", "search"}},
			}}},
			ns:         namespace("search", map[string]string{"team": "search"}),
			wantEnroll: true, wantLabels: enabledLabel, wantReason: SelectorMatched,
		},
		"a namespace the selector does not match is not enrolled": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}, NamespaceSelector: meshOn},
			ns:         namespace("payments", map[string]string{"mesh": "off"}),
			wantLabels: map[string]string{}, wantReason: NotSelected,
			wantMessage: []string{"namespace payments is neither listed", "nor matched"},
		},
		"without a selector, labels select nothing": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("payments", map[string]string{"mesh": "on"}),
			wantLabels: map[string]string{}, wantReason: NotSelected,
		},
		"an empty selector selects every namespace, as everywhere in Kubernetes": {
			injection:  meshv1alpha1.InjectionSpec{NamespaceSelector: &metav1.LabelSelector{}},
			ns:         namespace("anything", nil),
			wantEnroll: true, wantLabels: enabledLabel, wantReason: SelectorMatched,
		},
		"a namespace both listed and selected is enrolled as listed": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}, NamespaceSelector: meshOn},
			ns:         namespace("shop", map[string]string{"mesh": "on"}),
			wantEnroll: true, wantLabels: enabledLabel, wantReason: Listed,
		},
		"kube-system is never enrolled, even when listed": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"kube-system"}},
			ns:         namespace("kube-system", nil),
			wantLabels: map[string]string{}, wantReason: SystemNamespace,
			wantMessage: []string{"namespace kube-system", "never injects"},
		},
		"kube-public is never enrolled, even when selected": {
			injection:  meshv1alpha1.InjectionSpec{NamespaceSelector: meshOn},
			ns:         namespace("kube-public", map[string]string{"mesh": "on"}),
			wantLabels: map[string]string{}, wantReason: SystemNamespace,
		},
		"kube-node-lease is never enrolled by an empty selector": {
			injection:  meshv1alpha1.InjectionSpec{NamespaceSelector: &metav1.LabelSelector{}},
			ns:         namespace("kube-node-lease", nil),
			wantLabels: map[string]string{}, wantReason: SystemNamespace,
		},
		"the control-plane namespace is never enrolled, even when selected": {
			injection:  meshv1alpha1.InjectionSpec{NamespaceSelector: meshOn},
			ns:         namespace("istio-system", map[string]string{"mesh": "on"}),
			wantLabels: map[string]string{}, wantReason: ControlPlaneNamespace,
			wantMessage: []string{"namespace istio-system", "spec.namespace"},
		},
		"a system namespace nobody selected is still reported as one": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("kube-system", nil),
			wantLabels: map[string]string{}, wantReason: SystemNamespace,
		},
		"the control-plane namespace nobody selected is still reported as such": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("istio-system", nil),
			wantLabels: map[string]string{}, wantReason: ControlPlaneNamespace,
		},
		"the control-plane namespace is the one spec.namespace names": {
			controlPlane: "mesh-system",
			injection:    meshv1alpha1.InjectionSpec{Namespaces: []string{"mesh-system"}},
			ns:           namespace("mesh-system", nil),
			wantLabels:   map[string]string{}, wantReason: ControlPlaneNamespace,
		},
		"istio-system is an ordinary namespace when the control plane runs elsewhere": {
			controlPlane: "mesh-system",
			injection:    meshv1alpha1.InjectionSpec{Namespaces: []string{"istio-system"}},
			ns:           namespace("istio-system", nil),
			wantEnroll:   true, wantLabels: enabledLabel, wantReason: Listed,
		},
		"meshkeeper's own istio-injection=enabled is not a conflict": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", enabledLabel),
			owned:      []string{LabelIstioInjection},
			wantEnroll: true, wantLabels: enabledLabel, wantReason: Listed,
		},
		"a namespace that left the spec loses meshkeeper's label": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("payments", enabledLabel),
			owned:      []string{LabelIstioInjection},
			wantLabels: map[string]string{}, wantReason: NotSelected,
		},
		"a user's istio-injection=disabled is kept and reported": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", map[string]string{LabelIstioInjection: "disabled"}),
			wantLabels: map[string]string{}, wantReason: InjectionLabelConflict,
			wantMessage: []string{"namespace shop", "istio-injection=disabled", "kubectl label namespace shop istio-injection-"},
		},
		"a user's istio.io/rev=canary is kept and reported: they chose a revision": {
			injection:  meshv1alpha1.InjectionSpec{NamespaceSelector: meshOn},
			ns:         namespace("shop", map[string]string{"mesh": "on", LabelIstioRevision: "canary"}),
			wantLabels: map[string]string{}, wantReason: InjectionLabelConflict,
			wantMessage: []string{"istio.io/rev=canary", "chose an Istio revision", "kubectl label namespace shop istio.io/rev-"},
		},
		"a user's istio.io/rev is a conflict even beside their istio-injection=enabled": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", map[string]string{LabelIstioInjection: "enabled", LabelIstioRevision: "canary"}),
			wantLabels: map[string]string{}, wantReason: InjectionLabelConflict,
			wantMessage: []string{"istio.io/rev=canary"},
		},
		"a user's istio.io/rev added beside meshkeeper's label makes meshkeeper withdraw its label": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", map[string]string{LabelIstioInjection: "enabled", LabelIstioRevision: "canary"}),
			owned:      []string{LabelIstioInjection},
			wantLabels: map[string]string{}, wantReason: InjectionLabelConflict,
			wantMessage: []string{"istio.io/rev=canary"},
		},
		"a user's istio-injection=enabled is no conflict, and meshkeeper does not take it over": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", enabledLabel),
			wantEnroll: true, wantLabels: map[string]string{}, wantReason: Listed,
			wantMessage: []string{"own label istio-injection=enabled", "leaves that label to its owner"},
		},
		"a user's label on a namespace that is not selected is no concern": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("payments", map[string]string{LabelIstioInjection: "disabled"}),
			wantLabels: map[string]string{}, wantReason: NotSelected,
		},
		"the selector sees the owner's labels, not meshkeeper's own": {
			injection: meshv1alpha1.InjectionSpec{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{LabelIstioInjection: "enabled"}}},
			ns:         namespace("payments", enabledLabel),
			owned:      []string{LabelIstioInjection},
			wantLabels: map[string]string{}, wantReason: NotSelected,
		},
		"the selector matches on a label the owner set": {
			injection: meshv1alpha1.InjectionSpec{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{LabelIstioInjection: "enabled"}}},
			ns:         namespace("payments", enabledLabel),
			wantEnroll: true, wantLabels: map[string]string{}, wantReason: SelectorMatched,
		},
		"a terminating namespace is left alone": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         terminatingNamespace("shop", enabledLabel),
			owned:      []string{LabelIstioInjection},
			wantLabels: nil, wantReason: Terminating,
			wantMessage: []string{"namespace shop is being deleted"},
		},
		"a terminating namespace that left the spec is left alone too": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         terminatingNamespace("payments", enabledLabel),
			owned:      []string{LabelIstioInjection},
			wantLabels: nil, wantReason: Terminating,
		},
		"revision canary: meshkeeper sets istio.io/rev instead": {
			revision:   "canary",
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", nil),
			wantEnroll: true, wantLabels: map[string]string{LabelIstioRevision: "canary"}, wantReason: Listed,
		},
		"revision canary: meshkeeper's own istio-injection gives way to istio.io/rev": {
			revision:   "canary",
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", enabledLabel),
			owned:      []string{LabelIstioInjection},
			wantEnroll: true, wantLabels: map[string]string{LabelIstioRevision: "canary"}, wantReason: Listed,
		},
		"revision canary: a user's istio-injection=enabled is a conflict, since the injector prefers it": {
			revision:   "canary",
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", enabledLabel),
			wantLabels: map[string]string{}, wantReason: InjectionLabelConflict,
			wantMessage: []string{"istio-injection=enabled", "istio.io/rev=canary"},
		},
		"revision canary: a user's istio.io/rev=canary is no conflict": {
			revision:   "canary",
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", map[string]string{LabelIstioRevision: "canary"}),
			wantEnroll: true, wantLabels: map[string]string{}, wantReason: Listed,
		},
		"revision canary: a user's istio.io/rev=stable is a conflict": {
			revision:   "canary",
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", map[string]string{LabelIstioRevision: "stable"}),
			wantLabels: map[string]string{}, wantReason: InjectionLabelConflict,
			wantMessage: []string{"istio.io/rev=stable"},
		},
		"without CNI, a namespace enforcing restricted is not enrolled, and the message says to turn on CNI": {
			injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}}, cniOff: true,
			ns:         namespace("shop", map[string]string{LabelPodSecurityEnforce: "restricted"}),
			wantLabels: map[string]string{}, wantReason: PodSecurityRejectsSidecar,
			wantMessage: []string{"namespace shop", `"restricted"`, "NET_ADMIN", "spec.cni.enabled: true"},
		},
		"without CNI, baseline rejects istio-init too": {
			injection: meshv1alpha1.InjectionSpec{NamespaceSelector: meshOn}, cniOff: true,
			ns:         namespace("payments", map[string]string{"mesh": "on", LabelPodSecurityEnforce: "baseline"}),
			wantLabels: map[string]string{}, wantReason: PodSecurityRejectsSidecar,
		},
		"without CNI, a level the API server does not know counts as restricted": {
			injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}}, cniOff: true,
			ns:         namespace("shop", map[string]string{LabelPodSecurityEnforce: "Restricted"}),
			wantLabels: map[string]string{}, wantReason: PodSecurityRejectsSidecar,
		},
		"without CNI, meshkeeper takes back its label from a namespace that starts enforcing restricted": {
			injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}}, cniOff: true,
			ns:    namespace("shop", map[string]string{LabelIstioInjection: "enabled", LabelPodSecurityEnforce: "restricted"}),
			owned: []string{LabelIstioInjection}, wantLabels: map[string]string{}, wantReason: PodSecurityRejectsSidecar,
		},
		"without CNI, a privileged namespace is enrolled": {
			injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}}, cniOff: true,
			ns:         namespace("shop", map[string]string{LabelPodSecurityEnforce: "privileged"}),
			wantEnroll: true, wantLabels: enabledLabel, wantReason: Listed,
		},
		"without CNI, only enforce counts: warn and audit do not reject pods": {
			injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}}, cniOff: true,
			ns: namespace("shop", map[string]string{"pod-security.kubernetes.io/warn": "restricted",
				"pod-security.kubernetes.io/audit": "restricted"}),
			wantEnroll: true, wantLabels: enabledLabel, wantReason: Listed,
		},
		"with CNI, a sidecar spec.values makes privileged keeps a baseline namespace out, and the message names the value": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			values:     `{"global": {"proxy": {"privileged": true}}}`,
			ns:         namespace("shop", map[string]string{LabelPodSecurityEnforce: "baseline"}),
			wantLabels: map[string]string{}, wantReason: PodSecurityRejectsSidecar,
			wantMessage: []string{"namespace shop", `"baseline"`, "remove global.proxy.privileged: true from spec.values"},
		},
		"without CNI, the privileged sidecar of spec.values is named before istio-init: the agent would not lift it": {
			injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}}, cniOff: true,
			values:     `{"meshConfig": {"defaultConfig": {"interceptionMode": "TPROXY"}}}`,
			ns:         namespace("shop", map[string]string{LabelPodSecurityEnforce: "restricted"}),
			wantLabels: map[string]string{}, wantReason: PodSecurityRejectsSidecar,
			wantMessage: []string{"interceptionMode: TPROXY"},
		},
		"a privileged sidecar of spec.values is admitted where privileged is enforced": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			values:     `{"global": {"proxy": {"privileged": true}}}`,
			ns:         namespace("shop", map[string]string{LabelPodSecurityEnforce: "privileged"}),
			wantEnroll: true, wantLabels: enabledLabel, wantReason: Listed,
		},
		"with CNI, a namespace enforcing restricted is enrolled": {
			injection:  meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}},
			ns:         namespace("shop", map[string]string{LabelPodSecurityEnforce: "restricted"}),
			wantEnroll: true, wantLabels: enabledLabel, wantReason: Listed,
		},
		"with CNI, a namespace the plugin skips is not enrolled: its injected pods would never start": {
			injection: meshv1alpha1.InjectionSpec{NamespaceSelector: meshOn}, cniExcluded: []string{"batch", "payments"},
			ns:         namespace("payments", map[string]string{"mesh": "on"}),
			wantLabels: map[string]string{}, wantReason: CNIExcludesNamespace,
			wantMessage: []string{"namespace payments is in spec.cni.excludeNamespaces", "istio-validation", "never starts"},
		},
		"with CNI, meshkeeper takes back its label from a namespace the plugin comes to skip": {
			injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}}, cniExcluded: []string{"shop"},
			ns:    namespace("shop", map[string]string{LabelIstioInjection: "enabled"}),
			owned: []string{LabelIstioInjection}, wantLabels: map[string]string{}, wantReason: CNIExcludesNamespace,
		},
		"without CNI, excluded namespaces do not matter: istio-init redirects the pods' traffic": {
			injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}}, cniOff: true, cniExcluded: []string{"shop"},
			ns:         namespace("shop", nil),
			wantEnroll: true, wantLabels: enabledLabel, wantReason: Listed,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system", Injection: tc.injection}
			if tc.cniOff {
				spec.CNI.Enabled = new(bool)
			}
			spec.CNI.ExcludeNamespaces = tc.cniExcluded
			if tc.values != "" {
				spec.Values = &meshv1alpha1.IstiodValues{}
				if err := spec.Values.UnmarshalJSON([]byte(tc.values)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.controlPlane != "" {
				spec.Namespace = tc.controlPlane
			}
			enrollment, err := NewEnrollment(spec, tc.revision)
			if err != nil {
				t.Fatalf("NewEnrollment: %v", err)
			}
			got := enrollment.Namespace(tc.ns, sets.New(tc.owned...))

			if got.Reason != tc.wantReason {
				t.Errorf("Reason = %q, want %q (message: %s)", got.Reason, tc.wantReason, got.Message)
			}
			if got.Enroll != tc.wantEnroll {
				t.Errorf("Enroll = %v, want %v", got.Enroll, tc.wantEnroll)
			}
			if !maps.Equal(got.Labels, tc.wantLabels) || (got.Labels == nil) != (tc.wantLabels == nil) {
				t.Errorf("Labels = %#v, want %#v", got.Labels, tc.wantLabels)
			}
			for _, part := range tc.wantMessage {
				if !strings.Contains(got.Message, part) {
					t.Errorf("Message %q does not contain %q", got.Message, part)
				}
			}
		})
	}
}

func TestNewEnrollmentRejectsAnInvalidSelector(t *testing.T) {
	tests := map[string]struct {
		selector *metav1.LabelSelector
		wantErr  bool
	}{
		"no selector":    {selector: nil},
		"empty selector": {selector: &metav1.LabelSelector{}},
		"valid selector": {selector: meshOn},
		"a label key with a space": {
			selector: &metav1.LabelSelector{MatchLabels: map[string]string{"not a key": "x"}},
			wantErr:  true,
		},
		"an unknown operator": {
			selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: "Near", Values: []string{"a"}}}},
			wantErr: true,
		},
		"In without values": {
			selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: metav1.LabelSelectorOpIn}}},
			wantErr: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
				Injection: meshv1alpha1.InjectionSpec{NamespaceSelector: tc.selector}}
			enrollment, err := NewEnrollment(spec, "")
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "spec.injection.namespaceSelector") {
					t.Fatalf("err = %v, want an error naming spec.injection.namespaceSelector", err)
				}
				return
			}
			if err != nil || enrollment == nil {
				t.Fatalf("NewEnrollment = %v, %v; want an Enrollment", enrollment, err)
			}
		})
	}
}

func TestInjectionLabel(t *testing.T) {
	tests := map[string]struct {
		revision           string
		wantKey, wantValue string
	}{
		"no revision is the default revision": {revision: "", wantKey: "istio-injection", wantValue: "enabled"},
		"the default revision by name":        {revision: "default", wantKey: "istio-injection", wantValue: "enabled"},
		"a named revision":                    {revision: "canary", wantKey: "istio.io/rev", wantValue: "canary"},
		"a versioned revision":                {revision: "1-31-1", wantKey: "istio.io/rev", wantValue: "1-31-1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			key, value := InjectionLabel(tc.revision)
			if key != tc.wantKey || value != tc.wantValue {
				t.Errorf("InjectionLabel(%q) = %s=%s, want %s=%s", tc.revision, key, value, tc.wantKey, tc.wantValue)
			}
		})
	}
}
