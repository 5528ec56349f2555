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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// TestNamespacesEnrolledNamesEveryKindLeftOut: NamespacesEnrolled's reason is the first kind of
// namespace left out, and its message names every kind: a conflict in one namespace hid another whose
// Pod Security level rejects the pods injection adds, which the status then named nowhere.
func TestNamespacesEnrolledNamesEveryKindLeftOut(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Name = meshv1alpha1.ServiceMeshName
	mesh.Spec.CNI.Enabled = ptr.To(false)
	mesh.Spec.CNI.ExcludeNamespaces = []string{"legacy"}
	mesh.Spec.Injection.Namespaces = []string{"theirs", "strict"}
	mesh.Status.Version = "1.31.1"
	namespaces := []corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Labels: map[string]string{"istio-injection": "disabled"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "strict", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}},
	}
	enrollment, err := meshctx.Enrollment(mesh)
	if err != nil {
		t.Fatal(err)
	}
	status := &meshv1alpha1.ServiceMeshStatus{}
	setNamespacesEnrolled(status, &observation{namespaces: observeNamespaces(namespaces, enrollment, nil)})
	if len(status.Conditions) != 1 {
		t.Fatalf("conditions %+v", status.Conditions)
	}
	c := status.Conditions[0]
	if c.Reason != meshv1alpha1.ReasonInjectionLabelConflict {
		t.Errorf("reason %s, want %s", c.Reason, meshv1alpha1.ReasonInjectionLabelConflict)
	}
	for _, want := range []string{"keep their own injection label and are not enrolled: theirs", "enforce a Pod Security level (baseline or restricted)",
		"are not enrolled: strict"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("the message does not say %q: %s", want, c.Message)
		}
	}
}
