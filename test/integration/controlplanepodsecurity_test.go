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

package integration

import (
	"bytes"
	"errors"
	"io"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// A hardened cluster enforces the Pod Security level restricted in the control-plane namespace, by its
// label or by the cluster's default. The API server's PodSecurity admission checks each pod the
// istiod Deployment creates, so every pod template the istiod and base charts render there with
// meshkeeper's values must meet restricted. Each is created as a Pod with a server-side dry run in a
// namespace that enforces restricted: the admission refuses it, naming what it lacks, unless it meets the
// level. The CNI agent is not among them: it is privileged, and meshkeeper installs it only where its
// namespace admits privileged pods (docs/install.md).
var _ = Describe("The control plane's pods under the Pod Security level restricted", func() {
	DescribeTable("are admitted in a control-plane namespace that enforces restricted",
		func(namespace, spec string) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
				"pod-security.kubernetes.io/enforce":         "restricted",
				"pod-security.kubernetes.io/enforce-version": "latest",
			}}}
			Expect(k8sClient.Create(ctx, ns)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, ns))).To(Succeed()) })

			// The dry run returns the ServiceMesh as the API server would store it, with the CRD's
			// defaults filled in: the spec meshkeeper renders for a user who writes only these fields.
			mesh := &meshv1alpha1.ServiceMesh{}
			Expect(yaml.Unmarshal([]byte(meshYAML("  namespace: "+namespace+"\n"+spec)), mesh)).To(Succeed())
			Expect(k8sClient.Create(ctx, mesh, client.DryRunAll)).To(Succeed())

			var templates []podTemplate
			for _, name := range []string{charts.Base, charts.Istiod} {
				chart, err := charts.Builtin(name)
				Expect(err).NotTo(HaveOccurred())
				values := render.BaseValues(&mesh.Spec)
				if name == charts.Istiod {
					values, err = render.IstiodValues(&mesh.Spec, charts.BuiltinVersion)
					Expect(err).NotTo(HaveOccurred())
				}
				manifest, err := helm.Template(chart, values, name, namespace)
				Expect(err).NotTo(HaveOccurred())
				templates = append(templates, podTemplates(manifest)...)
			}
			owners := make([]string, 0, len(templates))
			for _, t := range templates {
				owners = append(owners, t.owner)
			}
			Expect(owners).To(ContainElement("Deployment/istiod"), "the istiod chart rendered no istiod Deployment")

			for _, t := range templates {
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{GenerateName: "pod-security-", Namespace: namespace,
						Labels: t.template.Labels, Annotations: t.template.Annotations},
					Spec: t.template.Spec,
				}
				Expect(k8sClient.Create(ctx, pod, client.DryRunAll)).To(Succeed(),
					"the pod template of %s is refused in a namespace that enforces restricted", t.owner)
			}
		},
		Entry("a ServiceMesh with every default", "istio-restricted", ""),
		Entry("without the CNI agent", "istio-restricted-no-cni", "  cni:\n    enabled: false\n"),
		Entry("with autoscaling", "istio-restricted-hpa",
			"  controlPlane:\n    autoscaling:\n      minReplicas: 2\n      maxReplicas: 4\n"+
				"    resources:\n      requests:\n        cpu: 500m\n"),
	)
})

// podTemplate is the pod template of a workload a chart renders, with the workload's kind and name.
type podTemplate struct {
	owner    string
	template corev1.PodTemplateSpec
}

// podTemplates are the pod templates of the Deployments, DaemonSets and StatefulSets of a manifest.
func podTemplates(manifest []byte) []podTemplate {
	var out []podTemplate
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := decoder.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return out
		}
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		var template corev1.PodTemplateSpec
		switch u.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			ExpectWithOffset(1, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d)).To(Succeed())
			template = d.Spec.Template
		case "DaemonSet":
			var d appsv1.DaemonSet
			ExpectWithOffset(1, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d)).To(Succeed())
			template = d.Spec.Template
		case "StatefulSet":
			var s appsv1.StatefulSet
			ExpectWithOffset(1, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &s)).To(Succeed())
			template = s.Spec.Template
		default:
			continue
		}
		out = append(out, podTemplate{owner: u.GetKind() + "/" + u.GetName(), template: template})
	}
}
