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

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// sharingRelease is the release in namespace of a chart of one ConfigMap named for the chart and, unless
// the value "dropShared" is set, the ConfigMap "shared", whose data names the chart: two such releases
// render one object between them.
func sharingRelease(namespace, name string) Release {
	return attackRelease(namespace, attackChart(name, `apiVersion: v1
kind: ConfigMap
metadata: {name: `+name+`}
{{- if not .Values.dropShared }}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shared}
data: {renderedBy: `+name+`}
{{- end }}
`))
}

// sharedRenderedBy is the chart whose copy of the ConfigMap "shared" the cluster holds, "" when it has
// none.
func sharedRenderedBy(t *testing.T, c client.Client, namespace string) string {
	t.Helper()
	cm := &corev1.ConfigMap{}
	err := c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: "shared"}, cm)
	if apierrors.IsNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data["renderedBy"]
}

// ensureAll ensures each release, and fails the test on an error.
func ensureAll(t *testing.T, m *ChartManager, releases ...Release) []Result {
	t.Helper()
	var results []Result
	for _, r := range releases {
		result, err := m.Ensure(t.Context(), r)
		if err != nil {
			t.Fatalf("ensuring release %s: %v", r.Name, err)
		}
		results = append(results, result)
	}
	return results
}

// TestAnObjectOfTwoReleasesIsTheLastOnesToDelete: when two releases of a ServiceMesh render one object
// (a chart's bug, or an object moving from one release to another in one change), the release that
// applied it last keeps it. An upgrade of the other that no longer renders it, and that other's
// uninstall, leave it in place, where they deleted what the last one still renders (its drift repair
// then made it again). The release that applied it last still deletes it when it stops rendering it.
func TestAnObjectOfTwoReleasesIsTheLastOnesToDelete(t *testing.T) {
	m, c, ns := onAPIServer(t)
	first, second := sharingRelease(ns, "first"), sharingRelease(ns, "second")
	ensureAll(t, m, first, second)
	if got := sharedRenderedBy(t, c, ns); got != "second" {
		t.Fatalf("after both installs the shared object is %q's, want second's, the last to apply it", got)
	}

	first.Values = map[string]any{"dropShared": true}
	if results := ensureAll(t, m, first); results[0].Action != ActionUpgraded {
		t.Fatalf("first's change = %+v, want an upgrade", results[0])
	}
	if got := sharedRenderedBy(t, c, ns); got != "second" {
		t.Errorf("after an upgrade of first that no longer renders it, the shared object is %q, want second's kept", got)
	}
	if _, err := m.Uninstall(t.Context(), ns, "first", first.Owner); err != nil {
		t.Fatal(err)
	}
	if got := sharedRenderedBy(t, c, ns); got != "second" {
		t.Errorf("after first's uninstall the shared object is %q, want second's kept", got)
	}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "first"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("first's own object after its uninstall: %v, want it deleted", err)
	}

	second.Values = map[string]any{"dropShared": true}
	ensureAll(t, m, second)
	if got := sharedRenderedBy(t, c, ns); got != "" {
		t.Errorf("after an upgrade of second, the last to apply it, that no longer renders it, the shared object is %q's, want it deleted", got)
	}
}

// TestAForgedRecordDeletesNoOtherReleasesObject: anyone who may write Secrets in the control-plane
// namespace can write a newer record of a release listing objects it never rendered; the next upgrade
// deletes what that record lists and the release no longer renders. Those are only ever the release's
// own: another release's object, and an object of the ServiceMesh no release applies, stay.
func TestAForgedRecordDeletesNoOtherReleasesObject(t *testing.T) {
	m, c, ns := onAPIServer(t)
	first, second := sharingRelease(ns, "first"), sharingRelease(ns, "second")
	second.Values = map[string]any{"dropShared": true}
	ensureAll(t, m, first, second)
	// An object of the ServiceMesh that no release applies, as the policy controller writes them.
	ofFirst := &corev1.ConfigMap{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "first"}, ofFirst); err != nil {
		t.Fatal(err)
	}
	policy := &corev1.ConfigMap{}
	policy.Namespace, policy.Name = ns, "policy"
	policy.Labels = map[string]string{ManagedByLabel: ManagedByValue}
	policy.OwnerReferences = ofFirst.OwnerReferences
	if err := c.Create(t.Context(), policy); err != nil {
		t.Fatal(err)
	}

	// Revision 2 of second, as someone writes it: it lists first's objects and the policy.
	forged, err := m.readRecord(t.Context(), ns, "second", 1)
	if err != nil {
		t.Fatal(err)
	}
	forged.Version = 2
	forged.Manifest += "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n" +
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n" +
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: policy}\n"
	if _, err := m.createRecord(t.Context(), forged, nil); err != nil {
		t.Fatal(err)
	}
	second.Values = map[string]any{"dropShared": true, "changed": true}
	if results := ensureAll(t, m, second); results[0].Action != ActionUpgraded {
		t.Fatalf("second's change = %+v, want an upgrade", results[0])
	}
	for _, name := range []string{"first", "shared", "policy"} {
		if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &corev1.ConfigMap{}); err != nil {
			t.Errorf("ConfigMap %s after an upgrade of second over a forged record listing it: %v, want it kept", name, err)
		}
	}
}

// TestAForgedRecordDeletesNoClusterScopedObjectItStillRenders: a cluster-scoped object that a record
// lists with a namespace is the object of that name, as the API server reads and deletes it, whatever
// the namespace says. A forged record that lists the release's webhook configuration so, with any
// namespace, used to count it as an object the upgrade no longer renders, and the upgrade deleted the
// webhook it had just applied: anyone who may write Secrets in the control-plane namespace could have
// meshkeeper delete the release's cluster-scoped objects (the sidecar injector, istiod's ClusterRoles).
func TestAForgedRecordDeletesNoClusterScopedObjectItStillRenders(t *testing.T) {
	m, c, ns := onAPIServer(t)
	webhookName := ns + "-validator"
	release := attackRelease(ns, attackChart("scoped", `apiVersion: v1
kind: ConfigMap
metadata: {name: scoped}
data: {changed: "{{ .Values.changed }}"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: `+webhookName+`}
webhooks:
- name: validation.`+ns+`.example.com
  clientConfig:
    service: {name: istiod, namespace: {{ .Release.Namespace }}}
  rules:
  - {apiGroups: [`+ns+`.example.com], apiVersions: ["*"], operations: [CREATE], resources: [widgets]}
  failurePolicy: Ignore
  sideEffects: None
  admissionReviewVersions: [v1]
`))
	ensureAll(t, m, release)

	forged, err := m.readRecord(t.Context(), ns, release.Name, 1)
	if err != nil {
		t.Fatal(err)
	}
	forged.Version = 2
	forged.Manifest += "\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n" +
		"metadata: {name: " + webhookName + ", namespace: elsewhere}\n"
	if _, err := m.createRecord(t.Context(), forged, nil); err != nil {
		t.Fatal(err)
	}
	release.Values = map[string]any{"changed": true}
	if results := ensureAll(t, m, release); results[0].Action != ActionUpgraded {
		t.Fatalf("the release's change = %+v, want an upgrade", results[0])
	}
	err = c.Get(t.Context(), client.ObjectKey{Name: webhookName}, &admissionregistrationv1.ValidatingWebhookConfiguration{})
	if err != nil {
		t.Errorf("the webhook configuration the release renders, after an upgrade over a forged record listing it in a namespace: %v, want it kept", err)
	}
}

// TestAnObjectOfTwoReleasesIsNotWrittenInTurn: each release's drift repair used to apply its own copy
// of an object two releases render over the other's, so both wrote it on every drift check that read it
// (this chart manager reads around any cache; the manager's reads from its cache skip an object still at
// the resource version some release's check last verified, so there a change by someone else, or a
// restart, went back to whichever release looked first). It is the last one's to keep: the other's drift check leaves it, while the last
// one's still repairs a change by anyone else. Ownership metadata written by hand to name a release
// that does not render the object hands it over to nothing.
func TestAnObjectOfTwoReleasesIsNotWrittenInTurn(t *testing.T) {
	m, c, ns := onAPIServer(t)
	first, second := sharingRelease(ns, "first"), sharingRelease(ns, "second")
	ensureAll(t, m, first, second)
	key := client.ObjectKey{Namespace: ns, Name: "shared"}
	before := &corev1.ConfigMap{}
	if err := c.Get(t.Context(), key, before); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for _, r := range ensureAll(t, m, first, second) {
			if len(r.Repaired) > 0 {
				t.Errorf("drift check %d repaired %v, want nothing: the shared object is second's", round+1, r.Repaired)
			}
		}
	}
	after := &corev1.ConfigMap{}
	if err := c.Get(t.Context(), key, after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("the shared object was written by the drift checks (resource version %s, then %s), want no write",
			before.ResourceVersion, after.ResourceVersion)
	}

	// A change by someone else is repaired, by the release that applied the object last.
	after.Data["renderedBy"] = "someone"
	if err := c.Update(t.Context(), after, client.FieldOwner("someone")); err != nil {
		t.Fatal(err)
	}
	results := ensureAll(t, m, first, second)
	if len(results[0].Repaired) > 0 || len(results[1].Repaired) != 1 {
		t.Errorf("after a change by hand first repaired %v and second %v, want second alone to repair the shared object",
			results[0].Repaired, results[1].Repaired)
	}
	if got := sharedRenderedBy(t, c, ns); got != "second" {
		t.Errorf("after a change by hand and the drift checks the shared object is %q, want second's", got)
	}

	// Ownership metadata that names first on second's own object, which first does not render, is drift.
	own := &corev1.ConfigMap{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "second"}, own); err != nil {
		t.Fatal(err)
	}
	own.Annotations[releaseNameAnnotation] = "first"
	if err := c.Update(t.Context(), own, client.FieldOwner("someone")); err != nil {
		t.Fatal(err)
	}
	if results := ensureAll(t, m, second); len(results[0].Repaired) != 1 {
		t.Errorf("second's object marked as first's: second repaired %v, want it", results[0].Repaired)
	}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "second"}, own); err != nil {
		t.Fatal(err)
	}
	if got := own.Annotations[releaseNameAnnotation]; got != "second" {
		t.Errorf("second's object after its drift repair is marked as %q's, want second's", got)
	}

	// A manager that started since knows of no release what it renders before its first check of it: the
	// first release it checks writes the object once, and the other then leaves it.
	restarted := NewChartManager(apiServer.Get(t).Config, c, c)
	ensureAll(t, restarted, first, second)
	if got := sharedRenderedBy(t, c, ns); got != "first" {
		t.Errorf("after a restart's first checks the shared object is %q's, want first's, the first checked", got)
	}
	if err := c.Get(t.Context(), key, before); err != nil {
		t.Fatal(err)
	}
	for _, r := range ensureAll(t, restarted, first, second) {
		if len(r.Repaired) > 0 {
			t.Errorf("the restarted manager's second checks repaired %v, want nothing", r.Repaired)
		}
	}
	if err := c.Get(t.Context(), key, after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("the restarted manager's second checks wrote the shared object, want no write")
	}
}

// TestAReleaseWithoutRecordsKeepsNoObject: a release whose records were deleted by hand, and which the
// ServiceMesh no longer wants, is uninstalled as having no record: from then on it renders nothing as
// far as the drift checks know, so an object it applied last is repaired by the other release that
// renders it, and not left to the release that is gone.
func TestAReleaseWithoutRecordsKeepsNoObject(t *testing.T) {
	m, c, ns := onAPIServer(t)
	first, second := sharingRelease(ns, "first"), sharingRelease(ns, "second")
	ensureAll(t, m, first, second)
	if err := c.DeleteAllOf(t.Context(), &corev1.Secret{}, client.InNamespace(ns),
		client.MatchingLabels{"owner": "helm", "name": "second"}); err != nil {
		t.Fatal(err)
	}
	if removed, err := m.Uninstall(t.Context(), ns, "second", second.Owner); err != nil || removed {
		t.Fatalf("the uninstall of a release without records = %t, %v, want nothing to remove", removed, err)
	}
	shared := &corev1.ConfigMap{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "shared"}, shared); err != nil {
		t.Fatal(err)
	}
	shared.Data["renderedBy"] = "someone"
	if err := c.Update(t.Context(), shared, client.FieldOwner("someone")); err != nil {
		t.Fatal(err)
	}
	results := ensureAll(t, m, first)
	if len(results[0].Repaired) != 1 || sharedRenderedBy(t, c, ns) != "first" {
		t.Errorf("first's drift check repaired %v and left the shared object %q's, want it repaired to first's: "+
			"no other release renders it now", results[0].Repaired, sharedRenderedBy(t, c, ns))
	}
}
