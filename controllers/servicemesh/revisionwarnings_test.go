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
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/events"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// The Warnings about canary namespaces that are not enrolled and about revisions another installation
// shares the name of are each recorded once for each change of what they are about: not again while it
// stays the same, again once it cleared and came back, and again on a ServiceMesh created again; a pass
// that did not look knows nothing new. One Warning's changes do not count for the other.
func TestRevisionWarningsOncePerChange(t *testing.T) {
	recorder := events.NewFakeRecorder(20)
	r := &Reconciler{Recorder: recorder}
	mesh := testMesh()
	canary := func(namespaces ...string) *observation {
		return &observation{namespaces: &namespacesObservation{canaryNotEnrolled: namespaces}}
	}
	shared := func(names ...string) *observation {
		var found []revision.Installed
		for _, name := range names {
			found = append(found, revision.Installed{Name: name, Elsewhere: map[string][]string{"istiod.other-system": {"apps"}}})
		}
		return &observation{installed: &installation{revisions: &revisionInstallation{shared: found}}}
	}
	six := []string{"a (does not exist)", "b (does not exist)", "c (does not exist)", "d (does not exist)", "e (does not exist)", "f (does not exist)"}
	sixOther := append(append([]string{}, six[:5]...), "g (does not exist)")
	both := &observation{namespaces: canary(sixOther...).namespaces, installed: shared("1-31-0", "1-32-0").installed}

	steps := []struct {
		name string
		obs  *observation
		want []string // the reasons of the Warnings recorded
	}{
		{"nothing to say", &observation{namespaces: &namespacesObservation{}, installed: &installation{revisions: &revisionInstallation{}}}, nil},
		{"a canary namespace not enrolled", canary("a (does not exist)"), []string{meshv1alpha1.ReasonCanaryNamespacesNotEnrolled}},
		{"the same again", canary("a (does not exist)"), nil},
		{"a pass without namespaces", &observation{}, nil},
		{"another one", canary("a (does not exist)", "b (does not exist)"), []string{meshv1alpha1.ReasonCanaryNamespacesNotEnrolled}},
		{"six", canary(six...), []string{meshv1alpha1.ReasonCanaryNamespacesNotEnrolled}},
		// The message names five; a change of the sixth is a change all the same.
		{"the sixth changed", canary(sixOther...), []string{meshv1alpha1.ReasonCanaryNamespacesNotEnrolled}},
		{"a revision shared", shared("1-31-0"), []string{meshv1alpha1.ReasonRevisionNameShared}},
		{"shared again", shared("1-31-0"), nil},
		{"a pass without revisions", &observation{installed: &installation{}}, nil},
		{"another revision shared", shared("1-31-0", "1-32-0"), []string{meshv1alpha1.ReasonRevisionNameShared}},
		{"none shared", shared(), nil},
		{"shared once more", shared("1-31-0", "1-32-0"), []string{meshv1alpha1.ReasonRevisionNameShared}},
		{"canary namespaces enrolled", canary(), nil},
		{"not enrolled once more", canary(sixOther...), []string{meshv1alpha1.ReasonCanaryNamespacesNotEnrolled}},
		{"both as before", both, nil},
		{"both as before again", both, nil},
	}
	for _, step := range steps {
		r.reportCanaryNotEnrolled(mesh, step.obs)
		r.reportRevisionShared(mesh, step.obs)
		if got := warningReasons(t, recorded(recorder)); !slices.Equal(got, step.want) {
			t.Errorf("%s: Warnings %q, want %q", step.name, got, step.want)
		}
	}

	// A ServiceMesh created again starts with no Events: both are recorded on it again.
	r.forgetMesh()
	r.reportCanaryNotEnrolled(mesh, both)
	r.reportRevisionShared(mesh, both)
	want := []string{meshv1alpha1.ReasonCanaryNamespacesNotEnrolled, meshv1alpha1.ReasonRevisionNameShared}
	if got := warningReasons(t, recorded(recorder)); !slices.Equal(got, want) {
		t.Errorf("once the ServiceMesh was created again: Warnings %q, want %q", got, want)
	}

	// Deleted and created again before any reconcile saw it gone (no forgetMesh): a new UID, no Events.
	again := testMesh()
	again.UID = "mesh-uid-2"
	r.reportCanaryNotEnrolled(again, both)
	r.reportRevisionShared(again, both)
	if got := warningReasons(t, recorded(recorder)); !slices.Equal(got, want) {
		t.Errorf("on a ServiceMesh created again that no reconcile saw gone: Warnings %q, want %q", got, want)
	}
}

// warningReasons are the reasons of the Warning Events of recorded ("Warning Reason note"), checking
// that each says what its reason is about.
func warningReasons(t *testing.T, recorded []string) []string {
	t.Helper()
	var reasons []string
	for _, e := range recorded {
		fields := strings.SplitN(e, " ", 3)
		if len(fields) < 3 || fields[0] != "Warning" {
			t.Fatalf("Event %q is not a Warning", e)
		}
		about := map[string]string{
			meshv1alpha1.ReasonCanaryNamespacesNotEnrolled: "updateStrategy.canary.namespaces names ",
			meshv1alpha1.ReasonRevisionNameShared:          "Another Istio installation runs an istiod of the same revision name as revision ",
		}[fields[1]]
		if about == "" || !strings.HasPrefix(fields[2], about) {
			t.Errorf("Event %q does not say what its reason is about", e)
		}
		reasons = append(reasons, fields[1])
	}
	return reasons
}
