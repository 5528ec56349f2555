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
	"testing"

	rcommon "helm.sh/helm/v4/pkg/release/common"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// recordChart is a chart of one ConfigMap whose data is the value "data".
func recordChart(name string) Release {
	return attackRelease("", attackChart(name, `apiVersion: v1
kind: ConfigMap
metadata: {name: `+name+`}
data: {value: {{ .Values.data | default "none" | quote }}}
`))
}

// recordStatuses maps each revision of the release in namespace to the status its Secret's label says.
func recordStatuses(t *testing.T, c client.Client, namespace, name string) map[string]string {
	t.Helper()
	secrets := &corev1.SecretList{}
	if err := c.List(t.Context(), secrets, client.InNamespace(namespace), client.MatchingLabels{"owner": "helm", "name": name}); err != nil {
		t.Fatal(err)
	}
	statuses := map[string]string{}
	for _, s := range secrets.Items {
		statuses["v"+s.Labels["version"]] = s.Labels["status"]
	}
	return statuses
}

// TestARecordRecoveredMeanwhileIsNotMarkedDeployed: two managers may run one release's Helm operation at
// once for a moment, during a leader handover (the old leader's renewal failed while it was applying).
// The new one finds the revision the old one is writing pending, marks it failed and deploys a new
// revision over it. The old one then must not mark its revision deployed over that failed status: the
// release would have two deployed revisions, `helm history` and `helm rollback` would show the wrong
// one current, and the history pruning, which never deletes the deployed record, would keep the stale
// one for good. Its write fails instead, and the release keeps the one deployed revision.
func TestARecordRecoveredMeanwhileIsNotMarkedDeployed(t *testing.T) {
	m, c, ns := onAPIServer(t)
	successor := NewChartManager(apiServer.Get(t).Config, c, c)
	desired := recordChart("handover")
	desired.Namespace = ns
	var successorErr error
	old := desired
	old.Applied = func() { _, successorErr = successor.Ensure(t.Context(), desired) }

	_, err := m.Ensure(t.Context(), old)
	if successorErr != nil {
		t.Fatalf("the successor's Ensure: %v", successorErr)
	}
	statuses := recordStatuses(t, c, ns, "handover")
	deployed := 0
	for _, status := range statuses {
		if status == rcommon.StatusDeployed.String() {
			deployed++
		}
	}
	if deployed != 1 || statuses["v2"] != rcommon.StatusDeployed.String() {
		t.Errorf("the release's records are %v, want revision 2 (the successor's) the one deployed", statuses)
	}
	if !apierrors.IsConflict(err) {
		t.Errorf("the old leader's install over the revision its successor recovered = %v, want a conflict", err)
	}
}

// TestARecordKeepsTheLabelsAndAnnotationsOfOthers: a release record is a Secret others may label and
// annotate (a backup tool, a policy engine, Argo CD's tracking). Marking it superseded, deployed or
// failed changes meshkeeper's labels and data only, as a server-side apply of meshkeeper's fields does;
// the labels and annotations of others stay.
func TestARecordKeepsTheLabelsAndAnnotationsOfOthers(t *testing.T) {
	m, c, ns := onAPIServer(t)
	desired := recordChart("annotated")
	desired.Namespace = ns
	if _, err := m.Ensure(t.Context(), desired); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: ns, Name: recordName("annotated", 1)}
	if err := c.Get(t.Context(), key, secret); err != nil {
		t.Fatal(err)
	}
	secret.Labels["backup.example.com/tier"] = "gold"
	secret.Annotations = map[string]string{"backup.example.com/last": "2026-12-01"}
	if err := c.Update(t.Context(), secret, client.FieldOwner("backup")); err != nil {
		t.Fatal(err)
	}

	desired.Values = map[string]any{"data": "changed"}
	if result, err := m.Ensure(t.Context(), desired); err != nil || result.Revision != 2 {
		t.Fatalf("the upgrade = %+v, %v, want revision 2", result, err)
	}
	if err := c.Get(t.Context(), key, secret); err != nil {
		t.Fatal(err)
	}
	if secret.Labels["status"] != rcommon.StatusSuperseded.String() {
		t.Errorf("revision 1 has status %q, want superseded", secret.Labels["status"])
	}
	if secret.Labels["backup.example.com/tier"] != "gold" || secret.Annotations["backup.example.com/last"] != "2026-12-01" {
		t.Errorf("revision 1 has labels %v and annotations %v, want the backup tool's still there", secret.Labels, secret.Annotations)
	}
}

// TestASecretNamedForNoRevisionBlocksNothing: the revisions of a release are listed by the labels of
// its Secrets, and a revision's record is read by its name. A Secret that carries a release's labels
// under another name (a copy someone kept of a record, or one forged by anyone who may write Secrets in
// the namespace) is no record of the revision its label names: it must not stop the release's upgrades
// or its uninstall, and it is not meshkeeper's to delete.
func TestASecretNamedForNoRevisionBlocksNothing(t *testing.T) {
	m, c, ns := onAPIServer(t)
	desired := recordChart("copied")
	desired.Namespace = ns
	if _, err := m.Ensure(t.Context(), desired); err != nil {
		t.Fatal(err)
	}
	digest, err := desired.Digest()
	if err != nil {
		t.Fatal(err)
	}
	copied := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "copied-release-backup",
		Labels: map[string]string{"owner": "helm", "name": "copied", "version": "7", "status": "deployed", DigestLabel: digest}}}
	if err := c.Create(t.Context(), copied); err != nil {
		t.Fatal(err)
	}

	desired.Values = map[string]any{"data": "changed"}
	if _, err := m.Ensure(t.Context(), desired); err != nil {
		t.Errorf("the upgrade beside the copy: %v", err)
	}
	if _, err := m.Uninstall(t.Context(), ns, "copied", desired.Owner); err != nil {
		t.Errorf("the uninstall beside the copy: %v", err)
	}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(copied), &corev1.Secret{}); err != nil {
		t.Errorf("the copy is gone: %v", err)
	}
}
