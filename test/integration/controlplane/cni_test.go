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

package controlplane

import (
	"regexp"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// cniReleaseValues are the values meshkeeper installs the cni chart with for the spec below.
const cniReleaseValues = `
chained: true
cniBinDir: /home/kubernetes/bin
excludeNamespaces: [kube-system, cni-monitoring]
global: {hub: docker.io/istio, imagePullPolicy: IfNotPresent, tag: 1.31.1}
tolerations: [{operator: Exists}]
`

func cniDaemonSetOf(namespace string) *appsv1.DaemonSet {
	GinkgoHelper()
	ds := &appsv1.DaemonSet{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "istio-cni-node"}, ds)).To(Succeed())
	return ds
}

var _ = Describe("The istio-cni node agent", long, Ordered, func() {
	const ns = "cni-system"

	BeforeAll(func() {
		deleteMesh()
		createNamespace("cni-shop", nil, nil)
		createMesh("  namespace: " + ns + "\n  injection:\n    namespaces: [cni-shop]\n" +
			"  cni:\n    cniBinDir: /home/kubernetes/bin\n    excludeNamespaces: [cni-monitoring]\n")
	})
	AfterAll(deleteMesh)

	It("installs the cni chart as istio-cni alongside a new control plane, with the spec's values", func() {
		// With no istiod running yet, the agent is installed side by side with it (an upgrade moves it
		// only after istiod, below).
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istio-cni", 1)).To(BeEquivalentTo("deployed"))
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
		cni := readRelease(ns, "istio-cni", 1)
		Expect(cni.Chart.Name()).To(Equal("cni"))
		Expect(cni.Chart.Metadata.Version).To(Equal("1.31.1"))

		var want map[string]any
		Expect(yaml.Unmarshal([]byte(cniReleaseValues), &want)).To(Succeed())
		Expect(cni.Config).To(Equal(want))

		By("rendering the DaemonSet for every node, owned by the ServiceMesh")
		ds := cniDaemonSetOf(ns)
		pod := ds.Spec.Template.Spec
		Expect(pod.PriorityClassName).To(Equal("system-node-critical"))
		Expect(pod.Tolerations).To(ConsistOf(corev1.Toleration{Operator: corev1.TolerationOpExists}))
		Expect(pod.Containers[0].Image).To(Equal("docker.io/istio/install-cni:1.31.1"))
		Expect(ds.Labels).To(HaveKeyWithValue("mesh.meshkeeper.io/managed-by", "meshkeeper"))
		Expect(ds.OwnerReferences).To(HaveLen(1))
		Expect(ds.OwnerReferences[0].UID).To(Equal(getMesh().UID))
		config := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-cni-config"}, config)).To(Succeed())
		Expect(config.Data).To(HaveKeyWithValue("CHAINED_CNI_PLUGIN", "true"))
		Expect(config.Data).To(HaveKeyWithValue("EXCLUDE_NAMESPACES", "kube-system,cni-monitoring"))
		Expect(pod.Volumes).To(ContainElement(And(
			HaveField("Name", "cni-bin-dir"), HaveField("HostPath.Path", "/home/kubernetes/bin"))))

		By("making injection use the agent, with a sidecar that meets Pod Security restricted")
		injector := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-sidecar-injector"}, injector)).To(Succeed())
		var values struct {
			Pilot struct {
				CNI struct{ Enabled bool } `json:"cni"`
			} `json:"pilot"`
			Global struct {
				Proxy struct {
					SeccompProfile map[string]string `json:"seccompProfile"`
				} `json:"proxy"`
			} `json:"global"`
		}
		Expect(yaml.Unmarshal([]byte(injector.Data["values"]), &values)).To(Succeed())
		Expect(values.Pilot.CNI.Enabled).To(BeTrue())
		Expect(values.Global.Proxy.SeccompProfile).To(Equal(map[string]string{"type": "RuntimeDefault"}))

		By("recording that a new mesh runs the agent")
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CNI).To(Equal(&meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: ns,
				ExcludeNamespaces: []string{"cni-monitoring"}}))
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonNodesNotReady))
		}, installTimeout, poll).Should(Succeed())
	})

	It("names the nodes where the agent is not ready, and holds Ready back until it is everywhere", func() {
		markAvailable(ns, "istiod") // and the DaemonSet on every node
		Eventually(func() metav1.ConditionStatus { return conditionOf(meshv1alpha1.ConditionReady).Status }, installTimeout, poll).
			Should(Equal(metav1.ConditionTrue))

		By("one node's agent failing its readiness probe")
		for node, ready := range map[string]corev1.ConditionStatus{"node-a": corev1.ConditionTrue, "node-b": corev1.ConditionFalse} {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istio-cni-node-" + node,
				Labels: map[string]string{"k8s-app": "istio-cni-node"}},
				Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "install-cni", Image: "docker.io/istio/install-cni:1.31.1"}}}}
			Expect(k8sClient.Create(ctx, pod)).To(Succeed())
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
			Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
		}
		Eventually(func(g Gomega) { setCNIStatus(g, ns, cniNodes, cniNodes-1) }, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonNodesNotReady))
			g.Expect(c.Message).To(ContainSubstring("not ready on node-b"))
			g.Expect(c.Message).NotTo(ContainSubstring("node-a"))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Reason).To(Equal(meshv1alpha1.ReasonNodesNotReady))
			g.Expect(getMesh().Status.CNI.ReadyNodes).To(BeEquivalentTo(cniNodes - 1))
		}, installTimeout, poll).Should(Succeed())

		markCNIReady()
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonAvailable))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
	})

	It("writes nothing while nothing changes", func() {
		time.Sleep(3 * time.Second) // let the status write of the last change settle
		before := managedObjects()
		meshVersion := getMesh().ResourceVersion
		By("waking the reconciler with a change that is not meshkeeper's to undo")
		ds := cniDaemonSetOf(ns)
		Expect(k8sClient.Patch(ctx, ds, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"example.com/touched":"yes"}}}`)))).To(Succeed())
		touched := cniDaemonSetOf(ns).ResourceVersion
		Consistently(func(g Gomega) {
			after := managedObjects()
			for key, version := range before {
				if key == "DaemonSet "+ns+"/istio-cni-node" {
					g.Expect(after).To(HaveKeyWithValue(key, touched), "the DaemonSet was written")
					continue
				}
				g.Expect(after).To(HaveKeyWithValue(key, version), "%s was written", key)
			}
			g.Expect(getMesh().ResourceVersion).To(Equal(meshVersion), "the ServiceMesh was written")
			g.Expect(releaseRevisions(ns, "istio-cni")).To(Equal([]int{1}))
		}, 4*time.Second, 300*time.Millisecond).Should(Succeed())
	})

	It("restores a deleted or edited DaemonSet", func() {
		ds := cniDaemonSetOf(ns)
		Expect(k8sClient.Delete(ctx, ds)).To(Succeed())
		Eventually(func(g Gomega) {
			restored := &appsv1.DaemonSet{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ds), restored)).To(Succeed())
			g.Expect(restored.UID).NotTo(Equal(ds.UID))
		}, installTimeout, poll).Should(Succeed())

		By("an edit that drops the agent's tolerations")
		Expect(k8sClient.Patch(ctx, cniDaemonSetOf(ns), client.RawPatch(types.MergePatchType,
			[]byte(`{"spec":{"template":{"spec":{"tolerations":null}}}}`)))).To(Succeed())
		Eventually(func() []corev1.Toleration { return cniDaemonSetOf(ns).Spec.Template.Spec.Tolerations }, installTimeout, poll).
			Should(ConsistOf(corev1.Toleration{Operator: corev1.TolerationOpExists}))
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement("DriftRepaired"))
		Expect(releaseRevisions(ns, "istio-cni")).To(Equal([]int{1}), "a repair is not an upgrade")
		markCNIReady()
	})

	It("gives the agent the spec's priority class in one upgrade, and restores it after an edit", func() {
		Expect(getMesh().Spec.CNI.PriorityClassName).To(Equal("system-node-critical"), "the CRD default")
		Expect(releaseRevisions(ns, "istio-cni")).To(Equal([]int{1}))

		patchSpec(`{"cni": {"priorityClassName": "mesh-node-agent"}}`)
		Eventually(func() string { return cniDaemonSetOf(ns).Spec.Template.Spec.PriorityClassName }, installTimeout, poll).
			Should(Equal("mesh-node-agent"))
		Eventually(func() any { return releaseStatus(ns, "istio-cni", 2) }, installTimeout, poll).Should(BeEquivalentTo("deployed"))
		Consistently(func() []int { return releaseRevisions(ns, "istio-cni") }, 3*time.Second, 300*time.Millisecond).
			Should(Equal([]int{1, 2}), "the change is one Helm revision")
		Expect(readRelease(ns, "istio-cni", 2).Config).To(Equal(readRelease(ns, "istio-cni", 1).Config),
			"the class is set on the rendered DaemonSet, not through the chart's values")

		By("an edit that puts the chart's class back")
		Expect(k8sClient.Patch(ctx, cniDaemonSetOf(ns), client.RawPatch(types.MergePatchType,
			[]byte(`{"spec":{"template":{"spec":{"priorityClassName":"system-node-critical"}}}}`)))).To(Succeed())
		Eventually(func() string { return cniDaemonSetOf(ns).Spec.Template.Spec.PriorityClassName }, installTimeout, poll).
			Should(Equal("mesh-node-agent"))
		Expect(releaseRevisions(ns, "istio-cni")).To(Equal([]int{1, 2}), "a repair is not an upgrade")
		markCNIReady()
	})

	It("moves the running agent to a new version only once istiod has rolled it out", func() {
		markAvailable(ns, "istiod")
		Eventually(func() string { return conditionOf(meshv1alpha1.ConditionReady).Reason }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ReasonSucceeded))
		cniRevisions := releaseRevisions(ns, "istio-cni")
		istiodRevision := slices.Max(releaseRevisions(ns, "istiod"))

		patchSpec(`{"version": "1.31.4"}`)
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istiod", istiodRevision+1)).To(BeEquivalentTo("deployed"))
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonWaitingForControlPlane))
			g.Expect(c.Message).To(ContainSubstring("runs 1.31.1 and moves to 1.31.4 once istiod has rolled it out"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istio-cni")).To(Equal(cniRevisions), "the agent was upgraded before istiod rolled out")
			g.Expect(cniDaemonSetOf(ns).Spec.Template.Spec.Containers[0].Image).To(Equal("docker.io/istio/install-cni:1.31.1"))
		}, 3*time.Second, 300*time.Millisecond).Should(Succeed())

		By("istiod rolling out the new version")
		markAvailable(ns, "istiod")
		Eventually(func() string { return cniDaemonSetOf(ns).Spec.Template.Spec.Containers[0].Image }, installTimeout, poll).
			Should(Equal("docker.io/istio/install-cni:1.31.4"))
		Expect(releaseRevisions(ns, "istio-cni")).To(Equal(append(cniRevisions, slices.Max(cniRevisions)+1)))
		markCNIReady()
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonAvailable))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
	})

	It("without CNI, refuses to enroll a namespace whose Pod Security level rejects istio-init, and says to turn CNI on", func() {
		// Stalled is set only once nothing else is in progress, so the spec starts from a Ready mesh:
		// istiod rolled out and the agent ready on every node. The specs before it leave the mesh so, but
		// a run that focuses this spec skips them (an Ordered container still runs its BeforeAll).
		By("starting from a Ready mesh")
		markAvailable(ns, "istiod") // and the DaemonSet on every node
		Eventually(func() metav1.ConditionStatus { return conditionOf(meshv1alpha1.ConditionReady).Status }, installTimeout, poll).
			Should(Equal(metav1.ConditionTrue))
		Eventually(func() map[string]string { return namespaceLabels("cni-shop") }, installTimeout, poll).
			Should(HaveKeyWithValue("istio-injection", "enabled"))
		shop := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "cni-shop"}, shop)).To(Succeed())
		Expect(k8sClient.Patch(ctx, shop, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted"}}}`)))).To(Succeed())
		Consistently(func() map[string]string { return namespaceLabels("cni-shop") }, 2*time.Second, 200*time.Millisecond).
			Should(HaveKeyWithValue("istio-injection", "enabled"), "with CNI on, a restricted namespace stays in the mesh")

		By("turning CNI off")
		patchSpec(`{"cni": {"enabled": false}}`)
		Eventually(func(g Gomega) {
			g.Expect(namespaceLabels("cni-shop")).NotTo(HaveKey("istio-injection"))
			c := conditionOf(meshv1alpha1.ConditionNamespacesEnrolled)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonPodSecurityRejectsSidecar))
			g.Expect(c.Message).To(ContainSubstring("cni-shop"))
			g.Expect(c.Message).To(ContainSubstring("spec.cni.enabled: true"))
			g.Expect(conditionOf(meshv1alpha1.ConditionStalled).Reason).To(Equal(meshv1alpha1.ReasonPodSecurityRejectsSidecar))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() []string { return namespaceEvents("cni-shop") }, installTimeout, poll).
			Should(ContainElement(meshv1alpha1.ReasonPodSecurityRejectsSidecar))
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement(meshv1alpha1.ReasonPodSecurityRejectsSidecar))

		By("uninstalling the agent and injecting istio-init again")
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istio-cni")).To(BeEmpty())
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-cni-node"}, &appsv1.DaemonSet{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the DaemonSet is left behind: %v", err)
			g.Expect(getMesh().Status.CNI).To(Equal(&meshv1alpha1.CNIStatus{Enabled: false, EnabledBy: meshv1alpha1.CNIBySpec}))
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonCNIDisabled))
			injector := &corev1.ConfigMap{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-sidecar-injector"}, injector)).To(Succeed())
			g.Expect(injector.Data["values"]).To(MatchRegexp(`"cni": \{\s*"enabled": false`))
		}, installTimeout, poll).Should(Succeed())

		By("turning CNI on with a version change the control plane refuses: istiod keeps injecting istio-init")
		patchSpec(`{"cni": {"enabled": true}, "version": "1.34.0"}`)
		Eventually(func() string { return conditionOf(meshv1alpha1.ConditionReady).Reason }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ReasonUpgradeNotSupported))
		Consistently(func() map[string]string { return namespaceLabels("cni-shop") }, 3*time.Second, 200*time.Millisecond).
			ShouldNot(HaveKey("istio-injection"), "a restricted namespace was enrolled while istiod still injects istio-init")

		By("turning CNI on again while istiod's injector cannot be installed for the agent: the namespace waits")
		// The agent is installed and recorded in the pass whose istiod was rendered before it, for
		// istio-init; istiod is installed for the agent by the next pass, here refused by an admission
		// policy of the cluster's. A restricted namespace enrolled meanwhile gets pods with istio-init,
		// which the API server rejects.
		vap, binding := denial{
			name:       "frozen-injector-in-cni-system",
			operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
			rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"*"},
				Resources: []string{"configmaps"}},
			resourceNames: []string{"istio-sidecar-injector"},
			expression:    "false",
			message:       "the injector in cni-system is frozen",
			namespaces:    &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
		}.objects()
		deleteAtCleanup(binding, vap)
		injectorKey := client.ObjectKey{Namespace: ns, Name: "istio-sidecar-injector"}
		enforce(vap, binding, updateDryRun(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: injectorKey.Name}}))
		patchSpec(`{"version": "1.31.4"}`)
		// istiod is rendered for the agent only once the agent is ready on every node.
		markCNIReady()
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CNI).NotTo(BeNil())
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal(ns))
			g.Expect(getMesh().Status.CNI.InjectorPending).To(BeTrue())
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Message).To(ContainSubstring("the injector in cni-system is frozen"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func() map[string]string { return namespaceLabels("cni-shop") }, 3*time.Second, 200*time.Millisecond).
			ShouldNot(HaveKey("istio-injection"), "a restricted namespace was enrolled while istiod still injects istio-init")

		By("lifting the policy, which installs istiod for the agent and then enrolls the namespace")
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, vap)).To(Succeed())
		Eventually(func() map[string]string { return namespaceLabels("cni-shop") }, installTimeout, poll).
			Should(HaveKeyWithValue("istio-injection", "enabled"))
		injector := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, injectorKey, injector)).To(Succeed())
		Expect(injector.Data["values"]).To(MatchRegexp(`"cni": \{\s*"enabled": true`), "enrolled before istiod injects for the agent")
		Expect(getMesh().Status.CNI.InjectorPending).To(BeFalse())
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istio-cni", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
	})

	It("keeps the running agent, and istiod injecting for it, while its install in the namespace it moves to fails", func() {
		// Were the running agent removed first, a failed install elsewhere would leave none: istiod
		// rendered for istio-init again, restricted namespaces unenrolled, every pod injected for the
		// agent counted outdated, all to flip back once the install succeeds.
		vap, binding := denial{
			name:       "no-daemonsets-in-kube-system",
			operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
			rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"*"},
				Resources: []string{"daemonsets"}},
			expression: "false",
			message:    "no DaemonSets in kube-system",
			namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
		}.objects()
		deleteAtCleanup(binding, vap)
		labels := map[string]string{"app": "probe"}
		probe := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "probe"},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: "probe"}}}}}}
		enforce(vap, binding, func() error { return k8sClient.Create(ctx, probe.DeepCopy(), client.DryRunAll) })
		Eventually(func(g Gomega) { g.Expect(injectsForAgentIn(g, ns)).To(BeTrue()) }, installTimeout, poll).Should(Succeed())

		patchSpec(`{"cni": {"namespace": "kube-system"}}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInstallFailed))
			g.Expect(c.Message).To(ContainSubstring("no DaemonSets in kube-system"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal(ns), "the running agent was given up")
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-cni-node"}, &appsv1.DaemonSet{})).
				To(Succeed(), "the running agent was removed before the new one was installed")
			g.Expect(injectsForAgentIn(g, ns)).To(BeTrue(), "istiod went back to istio-init")
			g.Expect(namespaceLabels("cni-shop")).To(HaveKeyWithValue("istio-injection", "enabled"))
		}, 3*time.Second, poll).Should(Succeed())

		By("lifting the policy: the agent is installed there, and the old one keeps running until the new one is ready on every node")
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, vap)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus("kube-system", "istio-cni", 1)).To(BeEquivalentTo("deployed"))
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonNodesNotReady))
			g.Expect(c.Message).To(ContainSubstring("the one in " + ns + " keeps running until the one in kube-system is ready"))
		}, installTimeout, poll).Should(Succeed())
		waitsForTheNewAgent := func(from, to string) {
			GinkgoHelper()
			Consistently(func(g Gomega) {
				g.Expect(getMesh().Status.CNI.Namespace).To(Equal(from), "the running agent was given up")
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: from, Name: "istio-cni-node"}, &appsv1.DaemonSet{})).
					To(Succeed(), "the running agent was removed before the one in %s was ready", to)
				g.Expect(injectsForAgentIn(g, ns)).To(BeTrue(), "istiod went back to istio-init")
			}, 3*time.Second, poll).Should(Succeed())
		}
		waitsForTheNewAgent(ns, "kube-system")
		By("the new agent ready on two nodes of three: the old one still runs")
		Eventually(func(g Gomega) { setCNIStatus(g, "kube-system", cniNodes, cniNodes-1) }, installTimeout, poll).Should(Succeed())
		waitsForTheNewAgent(ns, "kube-system")
		By("the new agent ready on every node: the old one is removed")
		Eventually(func(g Gomega) { setCNIStatus(g, "kube-system", cniNodes, cniNodes) }, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal("kube-system"))
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-cni-node"}, &appsv1.DaemonSet{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the old agent is left behind: %v", err)
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonAvailable))
		}, installTimeout, poll).Should(Succeed())
		Expect(injectsForAgentIn(Default, ns)).To(BeTrue())

		By("moving it back")
		patchSpec(`{"cni": {"namespace": null}}`)
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istio-cni", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
		waitsForTheNewAgent("kube-system", ns)
		Eventually(func(g Gomega) { setCNIStatus(g, ns, cniNodes, cniNodes) }, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal(ns))
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "istio-cni-node"}, &appsv1.DaemonSet{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the agent in kube-system is left behind: %v", err)
		}, installTimeout, poll).Should(Succeed())
	})

	It("uninstalls the agent with the rest of the mesh", func() {
		deleteMesh()
		Expect(releaseRevisions(ns, "istio-cni")).To(BeEmpty())
		err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-cni-node"}, &appsv1.DaemonSet{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the DaemonSet is left behind: %v", err)
		Expect(managedObjects()).To(BeEmpty(), "objects meshkeeper installed are left behind")
		Expect(namespaceLabels("cni-shop")).NotTo(HaveKey("istio-injection"))
	})
})

var _ = Describe("A new mesh's istio-cni agent while its control plane fails to install", Ordered, func() {
	const ns = "cnifail-system"

	foreignServiceAccount := func(name string) *corev1.ServiceAccount {
		return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	failsWith := func(name string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInstallFailed))
			g.Expect(c.Message).To(ContainSubstring(name))
		}, installTimeout, poll).Should(Succeed())
	}

	cniNamespace := func() string {
		if cni := getMesh().Status.CNI; cni != nil {
			return cni.Namespace
		}
		return ""
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(ns, nil, nil)
	})
	AfterAll(deleteMesh)

	It("installs no agent while istiod is refused, and installs it once istiod is in place", func() {
		// An object of another installation that istiod's release would take over: meshkeeper refuses it,
		// and would otherwise run its agent beside no control plane of its own.
		istiodAccount := foreignServiceAccount("istiod")
		Expect(k8sClient.Create(ctx, istiodAccount)).To(Succeed())
		createMesh("  namespace: " + ns + "\n")
		failsWith("istiod")
		Consistently(func() []int { return releaseRevisions(ns, "istio-cni") }, 3*time.Second, poll).Should(BeEmpty(),
			"the agent was installed though istiod was refused")
		Expect(cniNamespace()).To(BeEmpty())

		Expect(k8sClient.Delete(ctx, istiodAccount)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istio-cni", 1)).To(BeEquivalentTo("deployed"))
			g.Expect(cniNamespace()).To(Equal(ns))
		}, installTimeout, poll).Should(Succeed())
	})

	It("records an agent installed beside a failing base chart, so that turning CNI off later removes it", func() {
		deleteMesh()
		readerAccount := foreignServiceAccount("istio-reader-service-account")
		Expect(k8sClient.Create(ctx, readerAccount)).To(Succeed())
		createMesh("  namespace: " + ns + "\n")
		failsWith("istio-reader-service-account")
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istio-cni", 1)).To(BeEquivalentTo("deployed"))
			g.Expect(cniNamespace()).To(Equal(ns), "the running agent is not recorded")
		}, installTimeout, poll).Should(Succeed())

		patchSpec(`{"cni":{"enabled":false}}`)
		Expect(k8sClient.Delete(ctx, readerAccount)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Reason).NotTo(Equal(meshv1alpha1.ReasonInstallFailed))
			g.Expect(releaseRevisions(ns, "istio-cni")).To(BeEmpty(), "the agent is left running with CNI turned off")
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-cni-node"}, &appsv1.DaemonSet{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the DaemonSet is left behind: %v", err)
		}, installTimeout, poll).Should(Succeed())
		Expect(cniNamespace()).To(BeEmpty())
	})
})

var _ = Describe("An istio-cni agent whose namespace's Pod Security level rejects it", Ordered, func() {
	const ns = "cnipsa-system"

	BeforeAll(func() {
		deleteMesh()
		// The control-plane namespace, where the agent runs by default, enforces restricted (istiod's
		// own pods meet it).
		createNamespace(ns, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}, nil)
	})
	AfterAll(deleteMesh)

	// injectsForAgent tells whether istiod's injector, as its ConfigMap has it, injects for the CNI agent.
	injectsForAgent := func(g Gomega) bool { return injectsForAgentIn(g, ns) }

	It("installs no agent there and says why, and installs it once the namespace admits privileged pods", func() {
		createMesh("  namespace: " + ns + "\n")
		Eventually(func(g Gomega) {
			// istiod is installed: its first release injects for the agent, the next (once the agent
			// is refused) injects istio-init, so the revision deployed last is the one to look at.
			revisions := releaseRevisions(ns, "istiod")
			g.Expect(revisions).NotTo(BeEmpty())
			g.Expect(releaseStatus(ns, "istiod", revisions[len(revisions)-1])).To(BeEquivalentTo("deployed"))
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonPodSecurityRejectsAgent))
			g.Expect(c.Message).To(ContainSubstring(`namespace cnipsa-system enforces the Pod Security level "restricted"`))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func() []int { return releaseRevisions(ns, "istio-cni") }, 3*time.Second, poll).Should(BeEmpty(),
			"the agent was installed where its pods are rejected")
		Expect(getMesh().Status.CNI.Namespace).To(BeEmpty())
		// A new mesh's first istiod injected for the agent; without one, istiod goes back to istio-init.
		Eventually(injectsForAgent, installTimeout, poll).Should(BeFalse(), "istiod injects for an agent that is not installed")
		Eventually(func() []string { return warningsAbout("ServiceMesh", meshv1alpha1.ServiceMeshName) }, installTimeout, poll).
			Should(ContainElement(meshv1alpha1.ReasonPodSecurityRejectsAgent))

		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		Expect(k8sClient.Patch(ctx, namespace, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"privileged"}}}`)))).To(Succeed())
		// The mesh runs by now: istiod is installed for the agent once the agent is ready on every node.
		markCNIReady()
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istio-cni", 1)).To(BeEquivalentTo("deployed"))
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal(ns))
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).NotTo(Equal(meshv1alpha1.ReasonPodSecurityRejectsAgent))
			g.Expect(injectsForAgent(g)).To(BeTrue(), "istiod does not inject for the agent once it is installed")
		}, installTimeout, poll).Should(Succeed())
	})

	It("keeps the running agent where it is when spec.cni.namespace moves it to a namespace that rejects it", func() {
		patchSpec(`{"cni": {"namespace": "kube-system"}}`)
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus("kube-system", "istio-cni", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) { setCNIStatus(g, "kube-system", cniNodes, cniNodes) }, installTimeout, poll).Should(Succeed())
		Eventually(func() string { return getMesh().Status.CNI.Namespace }, installTimeout, poll).Should(Equal("kube-system"))

		By("moving it back to the control-plane namespace, which enforces restricted again")
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		Expect(k8sClient.Patch(ctx, namespace, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"restricted"}}}`)))).To(Succeed())
		patchSpec(`{"cni": {"namespace": null}}`)
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonPodSecurityRejectsAgent))
			g.Expect(c.Message).To(ContainSubstring(`namespace cnipsa-system enforces the Pod Security level "restricted"`))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal("kube-system"), "the running agent was given up")
			g.Expect(releaseStatus("kube-system", "istio-cni", 1)).To(BeEquivalentTo("deployed"), "the running agent was uninstalled")
			g.Expect(injectsForAgent(g)).To(BeTrue(), "istiod stopped injecting for the agent that still runs")
		}, 3*time.Second, poll).Should(Succeed())
	})
})

// injectsForAgentIn tells whether the injector of the istiod in namespace, as its ConfigMap has it,
// injects for the CNI agent.
func injectsForAgentIn(g Gomega, namespace string) bool {
	injector := &corev1.ConfigMap{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "istio-sidecar-injector"}, injector)).To(Succeed())
	return regexp.MustCompile(`"cni": \{\s*"enabled": true`).MatchString(injector.Data["values"])
}
