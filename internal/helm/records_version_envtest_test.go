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

package helm

import (
	"math"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestARecordOfAnImpossibleRevisionBlocksNothing: a Secret named and labelled as the record of revision
// math.MaxInt of a release (forged by anyone who may write Secrets in the namespace; no release gets
// there) is no revision meshkeeper can follow: the next would overflow to a negative number, a record
// name no revision is listed under again. The release's upgrades and its uninstall go on beside it, and
// every record meshkeeper writes has a positive revision.
func TestARecordOfAnImpossibleRevisionBlocksNothing(t *testing.T) {
	m, c, ns := onAPIServer(t)
	desired := recordChart("huge")
	desired.Namespace = ns
	if _, err := m.Ensure(t.Context(), desired); err != nil {
		t.Fatal(err)
	}
	huge := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: recordName("huge", math.MaxInt),
		Labels: map[string]string{"owner": "helm", "name": "huge", "version": strconv.Itoa(math.MaxInt), "status": "superseded"}},
		Type: recordType}
	if err := c.Create(t.Context(), huge); err != nil {
		t.Fatal(err)
	}

	for i, data := range []string{"changed", "changed again"} {
		desired.Values = map[string]any{"data": data}
		if _, err := m.Ensure(t.Context(), desired); err != nil {
			t.Errorf("upgrade %d beside the forged record: %v", i+1, err)
		}
	}
	secrets := &corev1.SecretList{}
	if err := c.List(t.Context(), secrets, client.InNamespace(ns), client.MatchingLabels{"owner": "helm", "name": "huge"}); err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, s := range secrets.Items {
		versions[s.Labels["version"]] = s.Labels["status"]
		if v, err := strconv.Atoi(s.Labels["version"]); err != nil || v < 1 {
			t.Errorf("meshkeeper wrote the record %s of revision %q", s.Name, s.Labels["version"])
		}
	}
	if versions["3"] != "deployed" {
		t.Errorf("records by revision: %v, want revision 3 deployed", versions)
	}
	if _, err := m.Uninstall(t.Context(), ns, "huge", desired.Owner); err != nil {
		t.Errorf("the uninstall beside the forged record: %v", err)
	}
}
