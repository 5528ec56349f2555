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

package servicemesh

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// TestAnAgentPlantedByANamespaceOwnerIsNoneOfTheMeshs: the owner of a namespace (the built-in edit
// role's rights on DaemonSets and Secrets there, nothing else) may create a DaemonSet named as the CNI agent's, with meshkeeper's
// managed-by label and an owner reference to the ServiceMesh's UID, which the API server does not check.
// With every namespace allowed (--control-plane-namespaces=*, where the cache holds every labelled
// DaemonSet), meshkeeper took it for an agent of the mesh's: it uninstalled the istio-cni release of
// the records the owner may forge there on every reconcile (as a stray agent) and on the mesh's
// deletion, and with the status lost took it for the agent that runs, and its image's tag for the
// agent's version. It is none of the mesh's now; an agent in a namespace the installer listed still is.
func TestAnAgentPlantedByANamespaceOwnerIsNoneOfTheMeshs(t *testing.T) {
	admin := onAPIServer(t)
	ctx := t.Context()
	team := testNamespace(t, admin, "team")
	listed := testNamespace(t, admin, "cni")
	// What the built-in edit role grants on DaemonSets and Secrets (its rules come from aggregation,
	// which the kube-controller-manager does and the test's API server alone does not).
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: team, Name: "owner"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"daemonsets"}, Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}},
	}}
	if err := admin.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: team, Name: "owner"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "owner"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "team-owner"}}}
	if err := admin.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	config := rest.CopyConfig(apiServer.Get(t).Config)
	config.Impersonate = rest.ImpersonationConfig{UserName: "team-owner", Groups: []string{"system:authenticated"}}
	owner, err := client.New(config, client.Options{Scheme: admin.Scheme()})
	if err != nil {
		t.Fatal(err)
	}

	mesh := testMesh()
	mesh.UID = types.UID("mesh-" + team) // no other test's agents are this mesh's
	mesh.Spec.CNI.Enabled = new(bool)
	*mesh.Spec.CNI.Enabled = true
	mesh.Spec.CNI.Namespace = "kube-system"
	mesh.Status = meshv1alpha1.ServiceMeshStatus{} // lost whole
	agent := func(namespace string) *appsv1.DaemonSet {
		labels := map[string]string{cniPodLabel: cniDaemonSet}
		return &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: cniDaemonSet,
				Labels: map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh",
					Name: mesh.Name, UID: mesh.UID}}},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: agentContainer, Image: "docker.io/istio/install-cni:1.0.0"}}}}},
		}
	}
	// The API server holds the owner to their namespace: the test's user is no one with more rights.
	if err := owner.Create(ctx, agent(listed)); !apierrors.IsForbidden(err) {
		t.Fatalf("the namespace owner's create of a DaemonSet in another namespace: %v, want Forbidden", err)
	}
	if err := owner.Create(ctx, agent(team)); err != nil {
		t.Fatalf("the namespace owner's create of a DaemonSet in their namespace: %v", err)
	}
	if err := admin.Create(ctx, agent(listed)); err != nil {
		t.Fatal(err)
	}
	// A release record of the owner's forging beside their DaemonSet, which the Orphaned Event of a
	// deletion with --cascade=orphan would name (installedReleases).
	forged := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: team, Name: "sh.helm.release.v1." + cniRelease + ".v1",
		Labels: map[string]string{"owner": "helm", "name": cniRelease, helm.DigestLabel: "forged"}}}
	if err := owner.Create(ctx, forged); err != nil {
		t.Fatalf("the namespace owner's create of a release record in their namespace: %v", err)
	}

	for name, tc := range map[string]struct {
		allowed     []string
		wantRunning []string
	}{
		"every namespace allowed":          {nil, nil},
		"the namespaces listed":            {[]string{"istio-system", "kube-system", listed}, []string{listed}},
		"the owner's namespace not listed": {[]string{"istio-system", "kube-system"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			chartManager := &recordingCharts{}
			r := &Reconciler{Client: admin, APIReader: admin, Recorder: events.NewFakeRecorder(10), Charts: chartManager,
				Policy: charts.Policy{Namespaces: tc.allowed}}
			running, err := r.agentsOf(ctx, mesh)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(running, tc.wantRunning) {
				t.Errorf("the mesh's agents run in %v, want %v", running, tc.wantRunning)
			}
			stray, err := r.strayAgents(ctx, mesh, "kube-system", "")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(stray, tc.wantRunning) {
				t.Errorf("stray agents in %v, want %v", stray, tc.wantRunning)
			}
			if err := r.uninstallAllCNI(ctx, mesh); err != nil {
				t.Fatal(err)
			}
			if slices.Contains(chartManager.uninstalled, team+"/"+cniRelease) {
				t.Errorf("the mesh's deletion uninstalled %v, the release of the namespace owner's records among them", chartManager.uninstalled)
			}
			installed, err := r.installedReleases(ctx, mesh)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := installed[team]; ok {
				t.Errorf("the releases a deletion with --cascade=orphan names are %v, the namespace owner's forged record among them", installed)
			}
			version, err := r.runningAgentVersion(ctx, mesh)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{true: "1.0.0", false: ""}[len(tc.wantRunning) > 0]; version != want {
				t.Errorf("the running agent's version is %q, want %q", version, want)
			}
		})
	}
}
