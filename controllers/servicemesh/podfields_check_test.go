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
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestPodFieldProblems: the fields written into a pod's spec as they are refuse what the API server
// refuses in a pod (test/integration/controlplane/podfields_test.go tries each case in a real one) and
// accept every form it accepts, each problem naming its field.
func TestPodFieldProblems(t *testing.T) {
	list := func(names ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for _, n := range names {
			l[corev1.ResourceName(n)] = resource.MustParse("1")
		}
		return l
	}
	quantities := func(nameQuantity ...string) corev1.ResourceList {
		l := corev1.ResourceList{}
		for i := 0; i < len(nameQuantity); i += 2 {
			l[corev1.ResourceName(nameQuantity[i])] = resource.MustParse(nameQuantity[i+1])
		}
		return l
	}
	for name, tc := range map[string]struct {
		spec meshv1alpha1.ServiceMeshSpec
		want []string // empty: no problem
	}{
		"nothing set": {},
		"every accepted form": {spec: meshv1alpha1.ServiceMeshSpec{
			ControlPlane: meshv1alpha1.ControlPlaneSpec{
				NodeSelector: map[string]string{"node-role.kubernetes.io/infra": "", "kubernetes.io/os": "linux", "pool": "mesh_1.a-b"},
				Resources: corev1.ResourceRequirements{Requests: quantities("cpu", "1", "memory", "1Gi", "ephemeral-storage", "1Gi", "hugepages-2Mi", "4Mi"),
					Limits: quantities("example.com/gpu", "1", "hugepages-2Mi", "4Mi", "hugepages-1Gi", "1Gi")},
				Tolerations: []corev1.Toleration{{Key: "example.com/dedicated", Value: "mesh"}, {Operator: corev1.TolerationOpExists},
					{Key: "infra", Operator: corev1.TolerationOpExists}},
			},
			Proxy: meshv1alpha1.ProxySpec{Resources: corev1.ResourceRequirements{Limits: list("cpu", "memory")}},
			CNI:   meshv1alpha1.CNISpec{Resources: corev1.ResourceRequirements{Requests: list("memory")}, Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
		}},
		"a node selector key and value with spaces": {
			spec: meshv1alpha1.ServiceMeshSpec{ControlPlane: meshv1alpha1.ControlPlaneSpec{NodeSelector: map[string]string{"node role": "infra nodes"}}},
			want: []string{`spec.controlPlane.nodeSelector key "node role" is not a label key`, `spec.controlPlane.nodeSelector value "infra nodes" of "node role" is not a label value`},
		},
		"misspelt and capitalised resources": {
			spec: meshv1alpha1.ServiceMeshSpec{
				ControlPlane: meshv1alpha1.ControlPlaneSpec{Resources: corev1.ResourceRequirements{Requests: list("memroy")}},
				Proxy:        meshv1alpha1.ProxySpec{Resources: corev1.ResourceRequirements{Limits: list("cpus")}},
				CNI:          meshv1alpha1.CNISpec{Resources: corev1.ResourceRequirements{Requests: list("CPU")}},
			},
			want: []string{`spec.controlPlane.resources.requests names "memroy"`, `spec.proxy.resources.limits names "cpus"`, `spec.cni.resources.requests names "CPU"`},
		},
		"a negative quantity": {
			spec: meshv1alpha1.ServiceMeshSpec{Proxy: meshv1alpha1.ProxySpec{Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("-100m")}}}},
			want: []string{`spec.proxy.resources.requests.cpu is -100m: a quantity must not be negative`},
		},
		// The API server overcommits no huge pages and no extended resource: every injected pod, or
		// istiod's and the agent's, would be refused.
		"an extended resource of the sidecar requested below its limit": {
			spec: meshv1alpha1.ServiceMeshSpec{Proxy: meshv1alpha1.ProxySpec{Resources: corev1.ResourceRequirements{
				Requests: quantities("cpu", "100m", "example.com/gpu", "1"), Limits: quantities("cpu", "1", "example.com/gpu", "2")}}},
			want: []string{"spec.proxy.resources.requests.example.com/gpu is 1 and its limit 2: they must be equal, since example.com/gpu cannot be overcommitted"},
		},
		"huge pages of the sidecar requested without a limit": {
			spec: meshv1alpha1.ServiceMeshSpec{Proxy: meshv1alpha1.ProxySpec{Resources: corev1.ResourceRequirements{
				Requests: quantities("memory", "128Mi", "hugepages-2Mi", "4Mi")}}},
			want: []string{"spec.proxy.resources.limits.hugepages-2Mi must be set, equal to its request: hugepages-2Mi cannot be overcommitted"},
		},
		"an extended resource of istiod in part": {
			spec: meshv1alpha1.ServiceMeshSpec{ControlPlane: meshv1alpha1.ControlPlaneSpec{Resources: corev1.ResourceRequirements{
				Limits: quantities("example.com/fpga", "500m")}}},
			want: []string{"spec.controlPlane.resources.limits.example.com/fpga is 500m: an extended resource comes in whole units"},
		},
		"huge pages of the sidecar alone, not in whole pages": {
			spec: meshv1alpha1.ServiceMeshSpec{Proxy: meshv1alpha1.ProxySpec{Resources: corev1.ResourceRequirements{
				Requests: quantities("hugepages-2Mi", "3Mi"), Limits: quantities("hugepages-2Mi", "3Mi")}}},
			want: []string{"spec.proxy.resources.requests.hugepages-2Mi is 3Mi: huge pages come in whole pages",
				"spec.proxy.resources.limits.hugepages-2Mi is 3Mi: huge pages come in whole pages",
				"spec.proxy.resources sets huge pages without cpu or memory"},
		},
		"huge pages of the agent beside ephemeral storage only": {
			spec: meshv1alpha1.ServiceMeshSpec{CNI: meshv1alpha1.CNISpec{Resources: corev1.ResourceRequirements{
				Limits: quantities("ephemeral-storage", "1Gi", "hugepages-1Gi", "1Gi")}}},
			want: []string{"spec.cni.resources sets huge pages without cpu or memory"},
		},
		"a resource of the kubernetes.io domain, which is overcommitted as cpu and memory are": {
			spec: meshv1alpha1.ServiceMeshSpec{Proxy: meshv1alpha1.ProxySpec{Resources: corev1.ResourceRequirements{
				Requests: quantities("memory", "128Mi", "kubernetes.io/network-bandwidth", "500m")}}},
		},
		"a resource claim": {
			spec: meshv1alpha1.ServiceMeshSpec{ControlPlane: meshv1alpha1.ControlPlaneSpec{Resources: corev1.ResourceRequirements{Claims: []corev1.ResourceClaim{{Name: "gpu"}}}}},
			want: []string{"spec.controlPlane.resources.claims must not be set"},
		},
		"toleration keys and values that are not label keys and values": {
			spec: meshv1alpha1.ServiceMeshSpec{
				ControlPlane: meshv1alpha1.ControlPlaneSpec{Tolerations: []corev1.Toleration{{Key: "ok"}, {Key: "dedicated node", Operator: corev1.TolerationOpExists}}},
				CNI:          meshv1alpha1.CNISpec{Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "mesh/agents"}}},
			},
			want: []string{`spec.controlPlane.tolerations[1].key "dedicated node" is not a label key`, `spec.cni.tolerations[0].value "mesh/agents" is not a label value`},
		},
		// The CRD's pattern lets a ".." element through; the API server refuses it in a hostPath volume.
		"CNI directories that climb with ..": {
			spec: meshv1alpha1.ServiceMeshSpec{CNI: meshv1alpha1.CNISpec{CNIBinDir: "/opt/cni/../bin", CNIConfDir: "/etc/cni/net.d/.."}},
			want: []string{`spec.cni.cniBinDir "/opt/cni/../bin" has a ".." element`, `spec.cni.cniConfDir "/etc/cni/net.d/.." has a ".." element`},
		},
		"CNI directories whose names hold dots": {
			spec: meshv1alpha1.ServiceMeshSpec{CNI: meshv1alpha1.CNISpec{CNIBinDir: "/opt/cni.../bin", CNIConfDir: "/etc/.cni/./net.d/"}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			problems := podFieldProblems(&tc.spec)
			if len(tc.want) == 0 {
				if len(problems) > 0 {
					t.Fatalf("podFieldProblems = %q, want none", problems)
				}
				return
			}
			if len(problems) != len(tc.want) {
				t.Errorf("podFieldProblems = %q, want %d problems", problems, len(tc.want))
			}
			joined := strings.Join(problems, "\n")
			for _, want := range tc.want {
				if !strings.Contains(joined, want) {
					t.Errorf("podFieldProblems = %q, want one to mention %q", problems, want)
				}
			}
		})
	}
}

// TestSeccompProfileProblems: a seccomp profile of spec.values, the sidecar's or istiod's, is refused as
// the API server refuses it in a container (test/integration/controlplane/podfields_test.go tries each
// form in a real one), after the merge over the RuntimeDefault meshkeeper sets under it; what the
// templates write no profile for, or a profile the API server takes, passes.
func TestSeccompProfileProblems(t *testing.T) {
	off := false
	for name, tc := range map[string]struct {
		values string
		cniOff bool
		want   []string
	}{
		"the sidecar's type null":  {values: `{"global":{"proxy":{"seccompProfile":{"type":null}}}}`, want: []string{"spec.values global.proxy.seccompProfile.type is null"}},
		"the sidecar's type empty": {values: `{"global":{"proxy":{"seccompProfile":{"type":""}}}}`, want: []string{`spec.values global.proxy.seccompProfile.type is ""`}},
		"istiod's type misspelt":   {values: `{"seccompProfile":{"type":"runtimeDefault"}}`, want: []string{`spec.values seccompProfile.type is "runtimeDefault"`}},
		"Localhost with an absolute profile": {values: `{"global":{"proxy":{"seccompProfile":{"type":"Localhost","localhostProfile":"/var/lib/kubelet/seccomp/p.json"}}}}`,
			want: []string{`global.proxy.seccompProfile.localhostProfile is "/var/lib/kubelet/seccomp/p.json": the API server takes a path relative`}},
		"Localhost with a profile up the tree": {values: `{"seccompProfile":{"type":"Localhost","localhostProfile":"profiles/../../p.json"}}`,
			want: []string{`spec.values seccompProfile.localhostProfile is "profiles/../../p.json"`}},
		"Localhost with a profile that is no string": {values: `{"seccompProfile":{"type":"Localhost","localhostProfile":7}}`,
			want: []string{"spec.values seccompProfile.localhostProfile is 7: it is the path of a profile file"}},
		"Localhost with a profile whose name holds two dots": {values: `{"seccompProfile":{"type":"Localhost","localhostProfile":"profiles/p..json"}}`},
		"Localhost without its profile":                      {values: `{"global":{"proxy":{"seccompProfile":{"type":"Localhost"}}}}`, want: []string{"global.proxy.seccompProfile has type Localhost without a localhostProfile"}},
		"a localhostProfile under the default":               {values: `{"seccompProfile":{"localhostProfile":"profiles/istiod.json"}}`, want: []string{"seccompProfile.localhostProfile is set with type RuntimeDefault"}},
		"a profile given as its type":                        {values: `{"global":{"proxy":{"seccompProfile":"RuntimeDefault"}}}`, want: []string{`global.proxy.seccompProfile is "RuntimeDefault": a seccomp profile is an object`}},
		"no type and no agent, with a localhostProfile": {values: `{"global":{"proxy":{"seccompProfile":{"localhostProfile":"p.json"}}}}`, cniOff: true,
			want: []string{"global.proxy.seccompProfile.type is null"}},
		"both at once": {values: `{"seccompProfile":{"type":""},"global":{"proxy":{"seccompProfile":{"type":"Bogus"}}}}`,
			want: []string{`global.proxy.seccompProfile.type is "Bogus"`, `spec.values seccompProfile.type is ""`}},
		"null":                           {values: `{"seccompProfile":null,"global":{"proxy":{"seccompProfile":null}}}`},
		"{}, which keeps RuntimeDefault": {values: `{"seccompProfile":{},"global":{"proxy":{"seccompProfile":{}}}}`},
		"{} without the agent, which writes none": {values: `{"global":{"proxy":{"seccompProfile":{}}}}`, cniOff: true},
		"an empty string, which writes none":      {values: `{"global":{"proxy":{"seccompProfile":""}}}`},
		"RuntimeDefault and Unconfined":           {values: `{"seccompProfile":{"type":"RuntimeDefault"},"global":{"proxy":{"seccompProfile":{"type":"Unconfined"}}}}`},
		"Localhost with its profile":              {values: `{"global":{"proxy":{"seccompProfile":{"type":"Localhost","localhostProfile":"profiles/proxy.json"}}}}`},
		"no seccomp profile":                      {values: `{"global":{"proxy":{"privileged":false}}}`},
	} {
		t.Run(name, func(t *testing.T) {
			spec := meshv1alpha1.ServiceMeshSpec{Values: &meshv1alpha1.IstiodValues{Raw: []byte(tc.values)}}
			if tc.cniOff {
				spec.CNI.Enabled = &off
			}
			problems := podFieldProblems(&spec)
			if len(problems) != len(tc.want) {
				t.Fatalf("podFieldProblems = %q, want %d problems", problems, len(tc.want))
			}
			joined := strings.Join(problems, "\n")
			for _, want := range tc.want {
				if !strings.Contains(joined, want) {
					t.Errorf("podFieldProblems = %q, want one to mention %q", problems, want)
				}
			}
		})
	}
}
