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

package policy

import (
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// ingressNginx is spec.ingressNginx as the API server returns it with the integration on.
func ingressNginx() meshv1alpha1.IngressNginxSpec {
	return meshv1alpha1.IngressNginxSpec{
		Enabled: ptr.To(true),
		Controller: meshv1alpha1.WorkloadReference{
			Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Kind: "Deployment"},
		IngressClassNames: []string{"nginx"},
		ServiceCIDRs:      []string{"10.96.0.0/12"},
	}
}

// controllerTemplate is the pod template of the ingress-nginx chart's controller, plus extra.
func controllerTemplate(labels, annotations map[string]string) *corev1.PodTemplateSpec {
	l := map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
	maps.Copy(l, labels)
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: l, Annotations: annotations},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "controller"}}},
	}
}

// meshAnnotations are the pod-template annotations meshkeeper sets for the given outbound ranges.
func meshAnnotations(outbound string) map[string]string {
	return map[string]string{
		AnnotationIncludeInboundPorts:     "",
		AnnotationIncludeOutboundIPRanges: outbound,
		AnnotationProxyConfig:             `{"holdApplicationUntilProxyStarts": true}`,
	}
}

var injectLabel = map[string]string{SidecarInject: "true"}

// istioInit is the Privilege of a mesh without the CNI agent.
var istioInit = PrivilegeOf(&meshv1alpha1.ServiceMeshSpec{CNI: meshv1alpha1.CNISpec{Enabled: new(bool)}})

func TestIngressNginxPodTemplate(t *testing.T) {
	allKeys := sets.New(AnnotationIncludeInboundPorts, AnnotationIncludeOutboundIPRanges, AnnotationProxyConfig)
	tests := map[string]struct {
		spec                          func(*meshv1alpha1.IngressNginxSpec)
		template                      *corev1.PodTemplateSpec
		hostNetwork                   bool
		ownedLabels, ownedAnnotations sets.Set[string]
		namespaceLabels               map[string]string
		privilege                     Privilege
		cniExcluded                   bool

		wantLabels, wantAnnotations map[string]string
		wantConfigured              bool
		wantReason                  string
		wantMessage                 []string
	}{
		"enabled: a sidecar that leaves inbound to nginx, captures only Service CIDRs and starts first": {
			template:   controllerTemplate(nil, nil),
			wantLabels: injectLabel, wantAnnotations: meshAnnotations("10.96.0.0/12"),
			wantConfigured: true, wantReason: Configured,
			wantMessage: []string{"Deployment ingress-nginx/ingress-nginx-controller", "10.96.0.0/12", "inbound traffic stays with nginx"},
		},
		"several Service CIDRs (dual stack) are joined with commas": {
			spec:       func(s *meshv1alpha1.IngressNginxSpec) { s.ServiceCIDRs = []string{"10.96.0.0/12", "fd00:10:96::/112"} },
			template:   controllerTemplate(nil, nil),
			wantLabels: injectLabel, wantAnnotations: meshAnnotations("10.96.0.0/12,fd00:10:96::/112"),
			wantConfigured: true, wantReason: Configured,
		},
		"meshkeeper's own settings follow a change of the Service CIDRs": {
			spec:             func(s *meshv1alpha1.IngressNginxSpec) { s.ServiceCIDRs = []string{"10.100.0.0/16"} },
			template:         controllerTemplate(injectLabel, meshAnnotations("10.96.0.0/12")),
			ownedLabels:      sets.New(SidecarInject),
			ownedAnnotations: allKeys,
			wantLabels:       injectLabel, wantAnnotations: meshAnnotations("10.100.0.0/16"),
			wantConfigured: true, wantReason: Configured,
		},
		"values the owner already set identically are neither a conflict nor taken over": {
			template: controllerTemplate(injectLabel, map[string]string{
				AnnotationIncludeInboundPorts: "", "prometheus.io/scrape": "true"}),
			wantLabels: map[string]string{},
			wantAnnotations: map[string]string{
				AnnotationIncludeOutboundIPRanges: "10.96.0.0/12",
				AnnotationProxyConfig:             `{"holdApplicationUntilProxyStarts": true}`,
			},
			wantConfigured: true, wantReason: Configured,
		},
		"a sidecar.istio.io/inject=true annotation of the owner agrees with meshkeeper": {
			template:   controllerTemplate(nil, map[string]string{SidecarInject: "true"}),
			wantLabels: injectLabel, wantAnnotations: meshAnnotations("10.96.0.0/12"),
			wantConfigured: true, wantReason: Configured,
		},
		"disabled: nothing, so what meshkeeper set before is removed": {
			spec:             func(s *meshv1alpha1.IngressNginxSpec) { s.Enabled = ptr.To(false) },
			template:         controllerTemplate(injectLabel, meshAnnotations("10.96.0.0/12")),
			ownedLabels:      sets.New(SidecarInject),
			ownedAnnotations: allKeys,
			wantLabels:       map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: IngressNginxDisabled, wantMessage: []string{"spec.ingressNginx.enabled is false"},
		},
		"enabled unset counts as disabled": {
			spec:       func(s *meshv1alpha1.IngressNginxSpec) { s.Enabled = nil },
			template:   controllerTemplate(nil, nil),
			wantLabels: map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: IngressNginxDisabled,
		},
		"a missing workload is named in the message": {
			template:   nil,
			wantLabels: map[string]string{}, wantAnnotations: map[string]string{},
			wantReason:  ControllerNotFound,
			wantMessage: []string{"Deployment ingress-nginx/ingress-nginx-controller", "does not exist", "spec.ingressNginx.controller"},
		},
		"hostNetwork: no sidecar, and meshkeeper's earlier settings are removed": {
			template:         controllerTemplate(injectLabel, meshAnnotations("10.96.0.0/12")),
			hostNetwork:      true,
			ownedLabels:      sets.New(SidecarInject),
			ownedAnnotations: allKeys,
			wantLabels:       map[string]string{}, wantAnnotations: map[string]string{},
			wantReason:  HostNetwork,
			wantMessage: []string{"Deployment ingress-nginx/ingress-nginx-controller", "hostNetwork: true", "traffic of the whole node"},
		},
		"a hostNetwork DaemonSet is named as one": {
			spec: func(s *meshv1alpha1.IngressNginxSpec) {
				s.Controller = meshv1alpha1.WorkloadReference{Namespace: "ingress", Name: "edge", Kind: "DaemonSet"}
			},
			template:    controllerTemplate(nil, nil),
			hostNetwork: true,
			wantLabels:  map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: HostNetwork, wantMessage: []string{"DaemonSet ingress/edge"},
		},
		"hostNetwork is reported before the owner's own settings": {
			template:    controllerTemplate(map[string]string{SidecarInject: "false"}, nil),
			hostNetwork: true,
			wantLabels:  map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: HostNetwork,
		},
		"a namespace that keeps the injector out: no settings, and meshkeeper's earlier ones are removed": {
			template:         controllerTemplate(injectLabel, meshAnnotations("10.96.0.0/12")),
			namespaceLabels:  map[string]string{LabelIstioInjection: "disabled"},
			ownedLabels:      sets.New(SidecarInject),
			ownedAnnotations: allKeys,
			wantLabels:       map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: NamespaceInjectionDisabled,
			wantMessage: []string{"namespace ingress-nginx has label istio-injection=disabled", "Deployment ingress-nginx/ingress-nginx-controller",
				"kubectl label namespace ingress-nginx istio-injection-"},
		},
		"any istio-injection value but enabled keeps the injector out": {
			template:        controllerTemplate(nil, nil),
			namespaceLabels: map[string]string{LabelIstioInjection: "Enabled"},
			wantLabels:      map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: NamespaceInjectionDisabled,
		},
		"an enrolled controller namespace injects the controller too": {
			template:        controllerTemplate(nil, nil),
			namespaceLabels: map[string]string{LabelIstioInjection: "enabled", LabelPodSecurityEnforce: "restricted"},
			wantLabels:      injectLabel, wantAnnotations: meshAnnotations("10.96.0.0/12"),
			wantConfigured: true, wantReason: Configured,
		},
		"a Pod Security level that rejects istio-init: no settings, and meshkeeper's earlier ones are removed": {
			template:         controllerTemplate(injectLabel, meshAnnotations("10.96.0.0/12")),
			namespaceLabels:  map[string]string{LabelPodSecurityEnforce: "baseline"},
			privilege:        istioInit,
			ownedLabels:      sets.New(SidecarInject),
			ownedAnnotations: allKeys,
			wantLabels:       map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: PodSecurityRejectsSidecar,
			wantMessage: []string{`namespace ingress-nginx enforces the Pod Security level "baseline"`, "istio-init",
				"Deployment ingress-nginx/ingress-nginx-controller would get no new pod", "spec.cni.enabled: true"},
		},
		"a level the API server does not know counts as restricted": {
			template:        controllerTemplate(nil, nil),
			namespaceLabels: map[string]string{LabelPodSecurityEnforce: "strict"},
			privilege:       istioInit,
			wantLabels:      map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: PodSecurityRejectsSidecar,
		},
		"the level privileged admits istio-init": {
			template:        controllerTemplate(nil, nil),
			namespaceLabels: map[string]string{LabelPodSecurityEnforce: "privileged"},
			privilege:       istioInit,
			wantLabels:      injectLabel, wantAnnotations: meshAnnotations("10.96.0.0/12"),
			wantConfigured: true, wantReason: Configured,
		},
		"a sidecar spec.values makes privileged is rejected too, CNI or not": {
			template:        controllerTemplate(nil, nil),
			namespaceLabels: map[string]string{LabelPodSecurityEnforce: "restricted"},
			privilege:       PrivilegeOf(&meshv1alpha1.ServiceMeshSpec{Values: privilegedValues()}),
			wantLabels:      map[string]string{}, wantAnnotations: map[string]string{},
			wantReason:  PodSecurityRejectsSidecar,
			wantMessage: []string{"global.proxy.privileged: true", "remove global.proxy.privileged: true from spec.values"},
		},
		"a namespace the CNI plugin skips: no settings, and meshkeeper's earlier ones are removed": {
			template:         controllerTemplate(injectLabel, meshAnnotations("10.96.0.0/12")),
			cniExcluded:      true,
			ownedLabels:      sets.New(SidecarInject),
			ownedAnnotations: allKeys,
			wantLabels:       map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: CNIExcludesNamespace,
			wantMessage: []string{"namespace ingress-nginx is in spec.cni.excludeNamespaces", "istio-validation",
				"Deployment ingress-nginx/ingress-nginx-controller would get no pod that starts"},
		},
		"with the CNI agent injecting, a restricted namespace admits the sidecar": {
			template:        controllerTemplate(nil, nil),
			namespaceLabels: map[string]string{LabelPodSecurityEnforce: "restricted"},
			wantLabels:      injectLabel, wantAnnotations: meshAnnotations("10.96.0.0/12"),
			wantConfigured: true, wantReason: Configured,
		},
		"the owner's sidecar.istio.io/inject=false label wins, and meshkeeper sets nothing": {
			template:   controllerTemplate(map[string]string{SidecarInject: "false"}, nil),
			wantLabels: map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: AnnotationConflict, wantMessage: []string{`label sidecar.istio.io/inject: "false"`},
		},
		"the owner's sidecar.istio.io/inject=false annotation wins too": {
			template:   controllerTemplate(nil, map[string]string{SidecarInject: "false"}),
			wantLabels: map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: AnnotationConflict, wantMessage: []string{`annotation sidecar.istio.io/inject: "false"`},
		},
		"the owner's own outbound ranges win, and meshkeeper sets nothing": {
			template:   controllerTemplate(nil, map[string]string{AnnotationIncludeOutboundIPRanges: "*"}),
			wantLabels: map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: AnnotationConflict,
			wantMessage: []string{"Deployment ingress-nginx/ingress-nginx-controller",
				`annotation traffic.sidecar.istio.io/includeOutboundIPRanges: "*"`, "Remove the conflicting keys"},
		},
		"every conflicting key is named": {
			template: controllerTemplate(nil, map[string]string{
				AnnotationIncludeInboundPorts: "*", AnnotationProxyConfig: `{"concurrency": 2}`}),
			wantLabels: map[string]string{}, wantAnnotations: map[string]string{},
			wantReason: AnnotationConflict,
			wantMessage: []string{`proxy.istio.io/config: "{\"concurrency\": 2}"`,
				`traffic.sidecar.istio.io/includeInboundPorts: "*"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := ingressNginx()
			if tc.spec != nil {
				tc.spec(&spec)
			}
			if tc.template != nil {
				tc.template.Spec.HostNetwork = tc.hostNetwork
			}
			got := IngressNginxPodTemplate(PodTemplateInput{
				IngressNginx: spec, Template: tc.template,
				OwnedLabels: tc.ownedLabels, OwnedAnnotations: tc.ownedAnnotations,
				NamespaceLabels: tc.namespaceLabels, Privilege: tc.privilege, CNIExcluded: tc.cniExcluded,
			})

			if got.Reason != tc.wantReason {
				t.Errorf("Reason = %q, want %q (message: %s)", got.Reason, tc.wantReason, got.Message)
			}
			if got.Configured != tc.wantConfigured {
				t.Errorf("Configured = %v, want %v", got.Configured, tc.wantConfigured)
			}
			if !maps.Equal(got.Labels, tc.wantLabels) || got.Labels == nil {
				t.Errorf("Labels = %#v, want %#v", got.Labels, tc.wantLabels)
			}
			if !maps.Equal(got.Annotations, tc.wantAnnotations) || got.Annotations == nil {
				t.Errorf("Annotations = %#v, want %#v", got.Annotations, tc.wantAnnotations)
			}
			for _, part := range tc.wantMessage {
				if !strings.Contains(got.Message, part) {
					t.Errorf("Message %q does not contain %q", got.Message, part)
				}
			}
		})
	}
}

func TestPodTemplateKeys(t *testing.T) {
	want := sets.New(SidecarInject, AnnotationIncludeInboundPorts, AnnotationIncludeOutboundIPRanges, AnnotationProxyConfig)
	if got := PodTemplateKeys(); !got.Equal(want) {
		t.Errorf("PodTemplateKeys = %v, want %v", sets.List(got), sets.List(want))
	}
}

func privilegedValues() *meshv1alpha1.IstiodValues {
	v := &meshv1alpha1.IstiodValues{}
	if err := v.UnmarshalJSON([]byte(`{"global": {"proxy": {"privileged": true}}}`)); err != nil {
		panic(err)
	}
	return v
}
