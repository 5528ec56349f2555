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

package chart

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestLeaderElectionSwitchUpgrades upgrades a release's Deployment in a real kube-apiserver as
// `helm upgrade` does (Helm 4 applies server-side, as the field manager helm): from the default values
// to leaderElection.enabled false, which makes it a Recreate Deployment, and back. The API server
// refuses a Recreate Deployment that keeps a rollingUpdate, so the upgrade must take away the one the
// earlier revision had.
func TestLeaderElectionSwitchUpgrades(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := testenv.Start(t, testenv.WithoutCRDs())
	c := env.Client
	createRestrictedNamespace(ctx, t, c, defaultNamespace)

	for _, step := range []struct {
		name   string
		values map[string]any
		want   appsv1.DeploymentStrategyType
	}{
		{"install with the defaults", nil, appsv1.RollingUpdateDeploymentStrategyType},
		{"upgrade without leader election", map[string]any{"leaderElection": map[string]any{"enabled": false}},
			appsv1.RecreateDeploymentStrategyType},
		{"upgrade back to leader election", nil, appsv1.RollingUpdateDeploymentStrategyType},
	} {
		u := render(t, step.values, defaultRelease, defaultNamespace).get(t, "Deployment", defaultRelease)
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldManager)); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		deploy := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: defaultNamespace, Name: defaultRelease}, deploy); err != nil {
			t.Fatal(err)
		}
		if deploy.Spec.Strategy.Type != step.want {
			t.Errorf("%s: strategy %q, want %q", step.name, deploy.Spec.Strategy.Type, step.want)
		}
	}
}

// TestLeaderElectionSwitchNeverRunsTwoManagers upgrades a release installed with leaderElection.enabled
// false to true, as `helm upgrade` does, in a real kube-apiserver. The upgrade makes the Deployment a
// rolling update, whose new pod starts before the old one stops; two managers may only ever overlap
// when both compete for the Lease. So the manager of either release elects a leader, and the switch
// changes nothing in the pod template, so it starts no rollout at all.
func TestLeaderElectionSwitchNeverRunsTwoManagers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := testenv.Start(t, testenv.WithoutCRDs())
	c := env.Client
	createRestrictedNamespace(ctx, t, c, defaultNamespace)

	var (
		templates []corev1.PodTemplateSpec
		args      [][]string
	)
	for _, step := range []struct {
		name   string
		values map[string]any
	}{
		{"install without leader election", map[string]any{"leaderElection": map[string]any{"enabled": false}}},
		{"upgrade to leader election", nil},
	} {
		objects := render(t, step.values, defaultRelease, defaultNamespace)
		if !slices.Contains(objects.keys(), "Role/"+defaultRelease+"-leader-election") {
			t.Errorf("%s: no leader-election Role, though the manager needs the Lease", step.name)
		}
		u := objects.get(t, "Deployment", defaultRelease)
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldManager)); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		deploy := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: defaultNamespace, Name: defaultRelease}, deploy); err != nil {
			t.Fatal(err)
		}
		manager := container(t, deploy, "manager")
		if !slices.Contains(manager.Args, "--leader-elect") {
			t.Errorf("%s (strategy %q): args %v lack --leader-elect, so this manager reconciles beside whichever "+
				"one holds the Lease", step.name, deploy.Spec.Strategy.Type, manager.Args)
		}
		templates = append(templates, deploy.Spec.Template)
		args = append(args, manager.Args)
	}
	if !equality.Semantic.DeepEqual(templates[0], templates[1]) {
		t.Errorf("the switch to leader election changes the pod template, so a rolling update starts the new "+
			"manager beside the old one (args before %v, after %v)", args[0], args[1])
	}
}
