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
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"
)

// TestPodSecurityRejectsWhatTheNamespacesOwnLabelStillInjects: a namespace whose owner set
// istio-injection=enabled itself is injected by Istio whatever meshkeeper decides, and meshkeeper never
// removes that label. When its Pod Security level rejects the injected pods, meshkeeper does not enroll
// it, but its new pods are rejected all the same: the message must say so and name both ways out (the
// fix of the level's judgement, or removing the owner's label), not that its pods keep starting.
func TestPodSecurityRejectsWhatTheNamespacesOwnLabelStillInjects(t *testing.T) {
	enrollment, err := NewEnrollment(meshSpecWith(t, true, ""), "")
	if err != nil {
		t.Fatal(err)
	}
	ns := namespace("shop", map[string]string{LabelIstioInjection: "enabled", LabelPodSecurityEnforce: "restricted"})

	d := enrollment.Namespace(ns, sets.New[string]())
	if d.Reason != PodSecurityRejectsSidecar || d.Enroll || len(d.Labels) != 0 {
		t.Fatalf("Namespace() = %+v, want PodSecurityRejectsSidecar with no label of meshkeeper's", d)
	}
	if strings.Contains(d.Message, "keep starting") {
		t.Errorf("the message says the namespace's pods keep starting, but its own label still has them injected and rejected: %s", d.Message)
	}
	for _, want := range []string{"istio-injection=enabled", "rejected", "spec.cni.enabled: true", "kubectl label namespace shop istio-injection-"} {
		if !strings.Contains(d.Message, want) {
			t.Errorf("the message does not say %q: %s", want, d.Message)
		}
	}

	// A namespace that meshkeeper labelled loses that label, so its new pods start without a sidecar.
	d = enrollment.Namespace(ns, sets.New(LabelIstioInjection))
	if !strings.Contains(d.Message, "keep starting") {
		t.Errorf("for a namespace meshkeeper labelled, the message does not say its pods keep starting: %s", d.Message)
	}
}
