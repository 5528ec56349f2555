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
	"os"
	"path/filepath"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// managerRoleSources are the manager's rules as config/rbac/role.yaml (and so the bundle's CSV) and the
// chart's ClusterRole grant them.
func managerRoleSources(t *testing.T) map[string][]rbacv1.PolicyRule {
	t.Helper()
	objects := render(t, nil, defaultRelease, defaultNamespace)
	return map[string][]rbacv1.PolicyRule{
		"config/rbac/role.yaml":   generatedRole(t).Rules,
		"the chart's ClusterRole": as[rbacv1.ClusterRole](t, objects.get(t, "ClusterRole", objects.fullname()+"-manager")).Rules,
	}
}

// grantedOn lists the group/resource pairs on which rules grant verb.
func grantedOn(rules []rbacv1.PolicyRule, verb string) []string {
	var got []string
	for _, r := range rules {
		if !slices.Contains(r.Verbs, verb) {
			continue
		}
		for _, group := range r.APIGroups {
			for _, resource := range r.Resources {
				got = append(got, group+"/"+resource)
			}
		}
	}
	slices.Sort(got)
	return got
}

// TestEscalateAndBindOnlyOnRoles checks that the manager holds escalate and bind only where the API
// server checks them: escalate on the Role or ClusterRole being written (istiod's roles grant what the
// manager itself does not hold), bind on the Role or ClusterRole a binding references. The API server
// never checks either verb on RoleBindings or ClusterRoleBindings, so a grant there is a right no request
// uses, which a reviewer of the role has to reason away.
func TestEscalateAndBindOnlyOnRoles(t *testing.T) {
	want := []string{"rbac.authorization.k8s.io/clusterroles", "rbac.authorization.k8s.io/roles"}
	for source, rules := range managerRoleSources(t) {
		for _, verb := range []string{"escalate", "bind"} {
			if got := grantedOn(rules, verb); !slices.Equal(got, want) {
				t.Errorf("%s grants %s on %v, want only on %v", source, verb, got, want)
			}
		}
	}
}

// TestStatusIsOnlyPatched checks that the manager's only right on the ServiceMesh's status subresource
// is patch: meshkeeper writes the status by server-side apply and reads it with the ServiceMesh itself
// (get on servicemeshes), never through the subresource.
func TestStatusIsOnlyPatched(t *testing.T) {
	for source, rules := range managerRoleSources(t) {
		for _, r := range rules {
			if slices.Contains(r.APIGroups, "mesh.meshkeeper.io") && slices.Contains(r.Resources, "servicemeshes/status") &&
				!slices.Equal(r.Verbs, []string{"patch"}) {
				t.Errorf("%s grants %v on mesh.meshkeeper.io/servicemeshes/status, want only [patch]", source, r.Verbs)
			}
		}
	}
}

// TestLeaderElectionRoleGrantsWhatTheLockUses checks that the leader-election Role grants on Leases only
// what client-go's lease lock calls (get, create, update; TestLeaderElectionWithTheChartsRole runs it),
// in the chart and in config/rbac (and so the bundle's CSV).
func TestLeaderElectionRoleGrantsWhatTheLockUses(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "leader_election_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	config := &rbacv1.Role{}
	if err := yaml.UnmarshalStrict(data, config); err != nil {
		t.Fatalf("config/rbac/leader_election_role.yaml: %v", err)
	}
	objects := render(t, nil, defaultRelease, defaultNamespace)
	for source, rules := range map[string][]rbacv1.PolicyRule{
		"config/rbac/leader_election_role.yaml": config.Rules,
		"the chart's Role":                      as[rbacv1.Role](t, objects.get(t, "Role", objects.fullname()+"-leader-election")).Rules,
	} {
		var verbs []string
		for _, r := range rules {
			if slices.Contains(r.APIGroups, "coordination.k8s.io") && slices.Contains(r.Resources, "leases") {
				verbs = append(verbs, r.Verbs...)
			}
		}
		slices.Sort(verbs)
		if want := []string{"create", "get", "update"}; !slices.Equal(verbs, want) {
			t.Errorf("%s grants %v on coordination.k8s.io/leases, want only %v", source, verbs, want)
		}
	}
}
