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
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// TestIngressesConfiguredNamesAStuckControllerRollout: a controller whose rollout of its sidecar
// settings does not finish (a quota or an admission rule refuses its new pods) is what MTLSReady sends
// the user to IngressesConfigured for, and every mesh Ingress depends on it. A mesh Ingress that cannot
// be configured, or one still being configured, keeps the condition's reason, but must not hide the
// rollout: the message says what it waits for.
func TestIngressesConfiguredNamesAStuckControllerRollout(t *testing.T) {
	configured := policy.PodTemplateDecision{Configured: true, Reason: policy.Configured}
	stuck := ingress.Rollout{Message: "the ingress-nginx controller Deployment ingress-nginx/ingress-nginx-controller is rolling out " +
		"its sidecar settings: it has 1 of 2 pods updated, 1 available, 1 old; FailedCreate: pods are forbidden: exceeded quota"}
	runSetterTable(t, meshv1alpha1.ConditionIngressesConfigured, setIngressesConfigured,
		func(o *observation, part *ingressesObservation) { o.ingresses = part },
		map[string]setterCase[*ingressesObservation]{
			"a stuck rollout and a skipped Ingress": {
				&ingressesObservation{enabled: true, controller: configured, controllerApplied: true, controllerRollout: stuck,
					skipped: map[string][]string{policy.ServiceMissing: {"shop/web"}},
					status:  meshv1alpha1.IngressesStatus{Configured: 2, Skipped: 1, SkippedByReason: map[string]int32{policy.ServiceMissing: 1}}},
				&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonServiceMissing, []string{"shop/web", "FailedCreate", "exceeded quota"}},
			},
			"a stuck rollout and an Ingress being configured": {
				&ingressesObservation{enabled: true, controller: configured, controllerApplied: true, controllerRollout: stuck,
					pending: []string{"shop/api"}},
				&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonReconciling, []string{"shop/api", "FailedCreate", "exceeded quota"}},
			},
		})
}

// controllerReasonsDoc is the paragraph of docs/ingress-nginx.md that lists the reasons of the
// controller, and the sentence of it that says which of them count the Ingresses left without the
// annotations.
var (
	controllerReasonsList = regexp.MustCompile(`Each reason of the controller \(([^)]*)\)`)
	countingSentence      = regexp.MustCompile("With a controller reason([^,]*), the condition's message also counts")
	backticked            = regexp.MustCompile("`([A-Za-z]+)`")
)

// TestDocSaysWhichControllerReasonsCountTheIngresses: docs/ingress-nginx.md says that, with a reason of
// the controller, IngressesConfigured's message also counts the mesh Ingresses left without the
// annotations (status.ingresses.skippedByReason.ControllerWithoutSidecar). For every reason of the
// controller the doc lists, and that the sentence does not name as an exception, the message does.
func TestDocSaysWhichControllerReasonsCountTheIngresses(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "ingress-nginx.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(raw)), " ")
	list := controllerReasonsList.FindStringSubmatch(doc)
	sentence := countingSentence.FindStringSubmatch(doc)
	if list == nil || sentence == nil {
		t.Fatalf("docs/ingress-nginx.md no longer lists the controller's reasons, or no longer says which count the Ingresses")
	}
	except := map[string]bool{}
	for _, m := range backticked.FindAllStringSubmatch(sentence[1], -1) {
		except[m[1]] = true
	}
	for _, m := range backticked.FindAllStringSubmatch(list[1], -1) {
		reason := m[1]
		if except[reason] {
			continue
		}
		t.Run(reason, func(t *testing.T) {
			runSetterTable(t, meshv1alpha1.ConditionIngressesConfigured, setIngressesConfigured,
				func(o *observation, part *ingressesObservation) { o.ingresses = part },
				map[string]setterCase[*ingressesObservation]{
					"two mesh Ingresses without the annotations": {
						&ingressesObservation{enabled: true,
							controller: policy.PodTemplateDecision{Reason: reason, Message: "what " + reason + " says"},
							skipped:    map[string][]string{policy.ControllerWithoutSidecar: {"shop/a", "shop/b"}}},
						&wantCondition{metav1.ConditionFalse, reason,
							[]string{"2 Ingress(es), status.ingresses.skippedByReason." + policy.ControllerWithoutSidecar}},
					},
				})
		})
	}
}
