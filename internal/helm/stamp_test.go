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
	"context"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// agentManifest is a rendered manifest with the objects a priority edit must tell apart: the agent's
// DaemonSet, a Deployment of the same name and another DaemonSet.
const agentManifest = `---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: istio-cni-node
spec:
  template:
    spec:
      priorityClassName: system-node-critical
      containers: [{name: install-cni, image: install-cni}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: istio-cni-node
spec:
  template:
    spec:
      containers: [{name: app, image: app}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: other-agent
spec:
  template:
    spec:
      containers: [{name: agent, image: agent}]
`

func priorityClasses(t *testing.T, manifest []byte) map[string]string {
	t.Helper()
	objects, err := decodeManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	classes := map[string]string{}
	for _, u := range objects {
		class, _, _ := unstructured.NestedString(u.Object, "spec", "template", "spec", "priorityClassName")
		classes[u.GetKind()+" "+u.GetName()] = class
	}
	return classes
}

func TestPostRenderSetsThePriorityOfTheNamedDaemonSetOnly(t *testing.T) {
	owner := Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}
	tests := map[string]struct {
		priority *PodPriority
		want     map[string]string
	}{
		"without a priority the chart's class stays": {
			want: map[string]string{"DaemonSet istio-cni-node": "system-node-critical", "Deployment istio-cni-node": "", "DaemonSet other-agent": ""},
		},
		"a custom class replaces the chart's on that DaemonSet": {
			priority: &PodPriority{DaemonSet: "istio-cni-node", ClassName: "mesh-node-agent"},
			want:     map[string]string{"DaemonSet istio-cni-node": "mesh-node-agent", "Deployment istio-cni-node": "", "DaemonSet other-agent": ""},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := PostRender([]byte(agentManifest), Release{Owner: owner, PodPriority: tc.priority})
			if err != nil {
				t.Fatal(err)
			}
			got := priorityClasses(t, out)
			for object, want := range tc.want {
				if got[object] != want {
					t.Errorf("%s: priorityClassName %q, want %q", object, got[object], want)
				}
			}
			objects, _ := decodeManifest(out)
			for _, u := range objects {
				if u.GetLabels()[ManagedByLabel] != ManagedByValue || len(u.GetOwnerReferences()) != 1 {
					t.Errorf("%s %s is not stamped: labels %v, owners %v", u.GetKind(), u.GetName(), u.GetLabels(), u.GetOwnerReferences())
				}
			}
		})
	}
}

func TestPostRenderFailsWhenTheChartLacksTheDaemonSet(t *testing.T) {
	_, err := PostRender([]byte(agentManifest), Release{PodPriority: &PodPriority{DaemonSet: "istio-cni", ClassName: "mesh-node-agent"}})
	if err == nil || !strings.Contains(err.Error(), "renders no DaemonSet istio-cni") {
		t.Errorf("PostRender error = %v, want one that names the missing DaemonSet", err)
	}
}

func TestDigestFollowsThePodPriority(t *testing.T) {
	base := Release{Name: "istio-cni", Namespace: "istio-system", ChartDigest: "chart", Values: map[string]any{"chained": true}}
	digest := func(r Release) string {
		t.Helper()
		d, err := r.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	withClass := func(class string) Release {
		r := base
		r.PodPriority = &PodPriority{DaemonSet: "istio-cni-node", ClassName: class}
		return r
	}
	if digest(withClass("system-node-critical")) == digest(withClass("mesh-node-agent")) {
		t.Error("changing the priority class leaves the digest as it was, so no upgrade would apply it")
	}
	if first, again := withClass("mesh-node-agent"), withClass("mesh-node-agent"); digest(first) != digest(again) {
		t.Error("the digest of the same release differs")
	}
	if digest(base) == digest(withClass("system-node-critical")) {
		t.Error("a release with a pod priority has the digest of one without")
	}
}

// TestTheAgentRollsOutWhenItsConfigMapChanges: the CNI agent reads excludeNamespaces and chained from
// the istio-cni ConfigMap through envFrom, only as it starts. A change of them changes the DaemonSet's
// pod template (ConfigDigestAnnotation), so that the agent rolls out and every node's plugin follows.
func TestTheAgentRollsOutWhenItsConfigMapChanges(t *testing.T) {
	chart, err := charts.Builtin(charts.CNI)
	if err != nil {
		t.Fatal(err)
	}
	template := func(mutate func(*meshv1alpha1.CNISpec)) map[string]any {
		t.Helper()
		spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}
		mutate(&spec.CNI)
		options := common.ReleaseOptions{Name: "istio-cni", Namespace: "istio-system", Revision: 1, IsInstall: true}
		objects, _, err := renderChart(context.Background(), chart, render.CNIValues(spec, charts.BuiltinVersion), options, common.DefaultCapabilities)
		if err != nil {
			t.Fatal(err)
		}
		if err := stampObjects(objects, Owner{UID: "uid-1"}, &PodPriority{DaemonSet: render.CNIDaemonSet, ClassName: "system-node-critical"}); err != nil {
			t.Fatal(err)
		}
		for _, u := range objects {
			if u.GetKind() == "DaemonSet" && u.GetName() == render.CNIDaemonSet {
				tpl, _, _ := unstructured.NestedMap(u.Object, "spec", "template")
				return tpl
			}
		}
		t.Fatalf("the chart renders no DaemonSet %s", render.CNIDaemonSet)
		return nil
	}
	base := template(func(*meshv1alpha1.CNISpec) {})
	changes := map[string]func(*meshv1alpha1.CNISpec){
		"excludeNamespaces": func(c *meshv1alpha1.CNISpec) { c.ExcludeNamespaces = []string{"legacy"} },
		"chained":           func(c *meshv1alpha1.CNISpec) { c.Chained = ptr.To(false) },
	}
	for name, change := range changes {
		if changed := template(change); equality.Semantic.DeepEqual(base, changed) {
			t.Errorf("a change of %s leaves the agent's pod template as it was: no node's plugin would follow it", name)
		}
	}
	if again := template(func(*meshv1alpha1.CNISpec) {}); !equality.Semantic.DeepEqual(base, again) {
		t.Error("the same spec renders another pod template: the agent would roll out on every upgrade")
	}
	if digest, _, _ := unstructured.NestedString(base, "metadata", "annotations", ConfigDigestAnnotation); digest == "" {
		t.Errorf("the agent's pod template has no %s annotation", ConfigDigestAnnotation)
	}
}
