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

package ingress

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// The decision about the ingress-nginx controller judges its namespace's Pod Security level as the
// namespace controller judges an enrolled namespace's: with the version the level is pinned to, which
// decides whether an Unconfined sidecar of spec.values is rejected. Every label that judgement reads
// must reach it; labels it does not read stay out.
func TestControllerNamespaceLabelsCarryWhatThePodSecurityJudgementReads(t *testing.T) {
	want := map[string]string{
		policy.LabelIstioInjection:            "enabled",
		policy.LabelPodSecurityEnforce:        "restricted",
		policy.LabelPodSecurityEnforceVersion: "v1.18",
	}
	labels := maps.Clone(want)
	labels["team"] = "edge"
	labels["pod-security.kubernetes.io/warn"] = "restricted"
	reader := fake.NewClientBuilder().WithObjects(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ingress-nginx", Labels: labels}}).Build()
	got, _, err := controllerNamespace(t.Context(), reader, "ingress-nginx")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("the controller's namespace labels read for its decision are %v, want %v", got, want)
	}
}
