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
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// The API server refuses a whole status whose condition message is over 32 KB, and Ready would stay as
// it was (True, for a mesh being deleted). One policy that freezes namespace labels refuses for each of
// a thousand enrolled namespaces: Ready lists what fits and counts the others, and every object that
// refused is either listed or counted.
func TestBlockedUninstallListsWhatFitsAndCountsTheOthers(t *testing.T) {
	const refusing = 1000
	denial := strings.Repeat("the platform team owns enrollment changes; ", 12)
	var stuck []error
	for i := range refusing {
		stuck = append(stuck, fmt.Errorf("namespace team-%04d: namespaces %q is forbidden: %s", i, fmt.Sprintf("team-%04d", i), denial))
	}
	got := holdUninstall(t, testMesh(), nil, func(ctx context.Context, tr *testReconciler, mesh *meshv1alpha1.ServiceMesh) error {
		return tr.reportUninstallBlocked(ctx, mesh, errors.Join(stuck...))
	})
	ready := meta.FindStatusCondition(got.Conditions, meshv1alpha1.ConditionReady)
	if ready == nil || ready.Reason != meshv1alpha1.ReasonUninstallBlocked {
		t.Fatalf("Ready %+v, want reason %s", ready, meshv1alpha1.ReasonUninstallBlocked)
	}
	if len(ready.Message) > 32768 {
		t.Fatalf("Ready's message is %d bytes, more than the API server takes", len(ready.Message))
	}
	for _, want := range []string{"1000 objects", "remove the admission webhook or policy", "namespace team-0000:"} {
		if !strings.Contains(ready.Message, want) {
			t.Errorf("Ready's message does not say %q", want)
		}
	}
	tail := regexp.MustCompile(`\nand (\d+) more$`).FindStringSubmatch(ready.Message)
	if tail == nil {
		t.Fatalf("Ready's message does not count the objects it leaves out: …%s", ready.Message[max(0, len(ready.Message)-200):])
	}
	left, _ := strconv.Atoi(tail[1])
	if listed := strings.Count(ready.Message, "\nnamespace team-"); listed+left != refusing || strings.Contains(ready.Message, "…") {
		t.Errorf("Ready lists %d whole object(s) and counts %d more, want %d in all, none cut", listed, left, refusing)
	}
}

// Whatever a condition's message says (here a failure as long as a chart's whole manifest), the status
// is written with the message cut to what the API server takes, rather than refused whole.
func TestStatusWithAMessageTooLongIsWrittenCut(t *testing.T) {
	failure := "uninstalling release istio-system/istiod: " + strings.Repeat("é", 40000)
	got := holdUninstall(t, testMesh(), nil, failedUninstall(failure, uninstallingControlPlane))
	ready := meta.FindStatusCondition(got.Conditions, meshv1alpha1.ConditionReady)
	if ready == nil || ready.Reason != meshv1alpha1.ReasonUninstallFailed {
		t.Fatalf("Ready %+v, want reason %s", ready, meshv1alpha1.ReasonUninstallFailed)
	}
	if len(ready.Message) > 32768 || !strings.HasSuffix(ready.Message, "é…") || !strings.Contains(ready.Message, "istio-system/istiod") {
		t.Errorf("Ready's message is %d bytes ending %q, want at most 32768 bytes, cut at a character and marked",
			len(ready.Message), ready.Message[max(0, len(ready.Message)-10):])
	}
}
