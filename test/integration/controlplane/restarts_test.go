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
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// restartTestDeadline is the progressDeadlineSeconds of the test's Deployments: short, so a stuck
// rollout is seen within seconds.
const restartTestDeadline = 4

// createWorkload creates a Deployment rolled out with one replica and its ReplicaSet, and a pod of it
// created before its namespace was enrolled (no sidecar), as the Deployment controller and a kubelet
// would leave them.
func createWorkload(namespace, name string, annotations map[string]string) {
	GinkgoHelper()
	rs := createDeployment(namespace, name, annotations)
	createOwnedPod(namespace, name+"-old", "", &rs.ObjectMeta, "ReplicaSet")
}

// createDeployment creates a Deployment rolled out with one replica and its ReplicaSet, which it
// returns, without pods.
func createDeployment(namespace, name string, annotations map[string]string) *appsv1.ReplicaSet {
	GinkgoHelper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Replicas:                ptr.To[int32](1),
			ProgressDeadlineSeconds: ptr.To[int32](restartTestDeadline),
			Selector:                &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}},
			},
		},
	}
	Expect(k8sClient.Create(ctx, d)).To(Succeed())
	markAvailable(namespace, name)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-1", Labels: labels,
			OwnerReferences: []metav1.OwnerReference{controllerRef("Deployment", d.Name, d.UID)}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: d.Spec.Selector, Template: d.Spec.Template},
	}
	Expect(k8sClient.Create(ctx, rs)).To(Succeed())
	return rs
}

func controllerRef(kind, name string, uid types.UID) metav1.OwnerReference {
	apiVersion := "apps/v1"
	if kind == "Job" {
		apiVersion = "batch/v1"
	}
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: ptr.To(true)}
}

// createOwnedPod creates a pod controlled by owner, injected by revision (none when "").
func createOwnedPod(namespace, name, revision string, owner *metav1.ObjectMeta, kind string) {
	GinkgoHelper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}},
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{controllerRef(kind, owner.Name, owner.UID)}
	}
	if revision != "" {
		pod.Annotations = map[string]string{"sidecar.istio.io/status": fmt.Sprintf(`{"containers":["istio-proxy"],"revision":%q}`, revision)}
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.31.1"})
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
}

// restartedAt returns the Deployment's restarted-at annotation ("" when absent).
func restartedAt(namespace, name string) string {
	GinkgoHelper()
	d := &appsv1.Deployment{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d)).To(Succeed())
	return d.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation]
}

// restarted lists which of the named Deployments carry the annotation.
func restarted(namespace string, names ...string) []string {
	GinkgoHelper()
	var out []string
	for _, name := range names {
		if restartedAt(namespace, name) != "" {
			out = append(out, name)
		}
	}
	return out
}

// rollOut does what the Deployment controller and the kubelets would after a restart: the old pod
// goes, a new one with the current sidecar comes, and the Deployment reports itself rolled out.
func rollOut(namespace, name string) {
	GinkgoHelper()
	Expect(k8sClient.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-old"}},
		client.GracePeriodSeconds(0))).To(Succeed())
	rs := &appsv1.ReplicaSet{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name + "-1"}, rs)).To(Succeed())
	createOwnedPod(namespace, name+"-new", "default", &rs.ObjectMeta, "ReplicaSet")
	markAvailable(namespace, name)
}

// markProgressing writes what the Deployment controller would while a rollout waits for a new pod.
func markProgressing(namespace, name string) {
	GinkgoHelper()
	Eventually(func() error {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
			return err
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 2, UpdatedReplicas: 1,
			ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 1}
		return k8sClient.Status().Update(ctx, d)
	}, installTimeout, poll).Should(Succeed())
}

// meshEvents returns the messages of the ServiceMesh's Events of a reason.
func meshEvents(reason string) []string {
	GinkgoHelper()
	var out []string
	for _, e := range listEvents() {
		if e.Regarding.Kind == "ServiceMesh" && e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}

var _ = Describe("Data-plane restarts", long, Ordered, func() {
	workloads := []string{"a", "b", "c"}

	BeforeAll(func() {
		deleteMesh()
		createNamespace("dr-shop", nil, nil)
		createNamespace("dr-kept", nil, map[string]string{meshv1alpha1.RestartAnnotation: meshv1alpha1.RestartNever})
		createNamespace("dr-jobs", nil, nil)
		for _, name := range workloads {
			createWorkload("dr-shop", name, nil)
		}
		createWorkload("dr-shop", "kept", map[string]string{meshv1alpha1.RestartAnnotation: meshv1alpha1.RestartNever})
		createWorkload("dr-kept", "d", nil)
		createOwnedPod("dr-jobs", "bare", "", nil, "")
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Namespace: "dr-jobs", Name: "report"},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "job", Image: "registry.example.com/job:1.0"}}}}},
		}
		Expect(k8sClient.Create(ctx, job)).To(Succeed())
		createOwnedPod("dr-jobs", "report-1", "", &job.ObjectMeta, "Job")

		createMesh("  namespace: dr-system\n  version: 1.31.1\n  injection:\n    namespaces: [dr-shop, dr-kept, dr-jobs]\n")
		Eventually(func() bool { return istiodOrNil("dr-system") != nil }, installTimeout, poll).Should(BeTrue())
		markAvailable("dr-system", "istiod")
		Eventually(func() metav1.ConditionStatus { return conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status },
			installTimeout, poll).Should(Equal(metav1.ConditionTrue))
		Eventually(func() int32 { return getMesh().Status.Proxies.WithoutSidecar }, installTimeout, poll).Should(BeEquivalentTo(7))
	})
	AfterAll(deleteMesh)

	It("writes nothing in Manual mode", func() {
		Consistently(func() []string { return restarted("dr-shop", workloads...) }, 2*time.Second, poll).Should(BeEmpty())
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "dr-shop", Name: "a"}, d)).To(Succeed())
		for _, entry := range d.ManagedFields {
			Expect(entry.Manager).NotTo(Equal(restart.FieldManager))
		}
	})

	It("starts nothing while the window is closed", func() {
		// A one-hour window that opened an hour from now: closed for the whole test.
		from := time.Now().UTC().Add(time.Hour)
		patchSpec(fmt.Sprintf(`{"dataPlane": {"restarts": {"mode": "Automatic", "window": {"start": %q, "end": %q}}}}`,
			from.Format("15:04"), from.Add(time.Hour).Format("15:04")))
		Consistently(func() []string { return restarted("dr-shop", workloads...) }, 2*time.Second, poll).Should(BeEmpty())
	})

	It("restarts one workload of a namespace at a time, each after the one before rolled out", func() {
		patchSpec(`{"dataPlane": {"restarts": {"window": null}}}`)
		for i, name := range workloads {
			Eventually(func() []string { return restarted("dr-shop", workloads...) }, installTimeout, poll).
				Should(Equal(workloads[:i+1]), "%s is restarted only after the ones before it rolled out", name)
			Consistently(func() []string { return restarted("dr-shop", workloads...) }, 500*time.Millisecond, poll).
				Should(Equal(workloads[:i+1]), "the next workload waits for %s's rollout", name)
			if i == 0 {
				Eventually(func(g Gomega) {
					g.Expect(getMesh().Status.Proxies.Restarting).To(BeEquivalentTo(1))
					g.Expect(conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Reason).To(Equal(meshv1alpha1.ReasonRestarting))
				}, installTimeout, poll).Should(Succeed())
			}
			if i < len(workloads)-1 {
				markProgressing("dr-shop", name)
				rollOut("dr-shop", name)
			}
		}
	})

	It("never restarts a workload or namespace that opted out, nor bare pods and Jobs, and names those", func() {
		Expect(restartedAt("dr-shop", "kept")).To(BeEmpty())
		Expect(restartedAt("dr-kept", "d")).To(BeEmpty())
		Eventually(func() int32 { return getMesh().Status.Proxies.NotRestartable }, installTimeout, poll).Should(BeEquivalentTo(2))
		Eventually(func() []string { return meshEvents(meshv1alpha1.ReasonNotRestartable) }, installTimeout, poll).
			Should(ContainElement(And(ContainSubstring("2 pod(s)"), ContainSubstring("dr-jobs/bare"), ContainSubstring("dr-jobs/report-1"))))
		for _, name := range []string{"bare", "report-1"} {
			pod := &corev1.Pod{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "dr-jobs", Name: name}, pod)).To(Succeed())
			Expect(pod.DeletionTimestamp).To(BeNil())
		}
	})

	It("stops every further restart when a rollout does not complete within its deadline", func() {
		markProgressing("dr-shop", "c") // c's new pod never becomes ready
		Eventually(func() []string { return meshEvents(meshv1alpha1.ReasonRestartStalled) }, installTimeout, poll).
			Should(ContainElement(ContainSubstring("Deployment dr-shop/c made no progress for 4s")))
		Eventually(func() string { return conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Reason }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ReasonRestartStalled))
		createNamespace("dr-more", nil, nil)
		createWorkload("dr-more", "e", nil)
		patchSpec(`{"injection": {"namespaces": ["dr-shop", "dr-kept", "dr-jobs", "dr-more"]}}`)
		Consistently(func() string { return restartedAt("dr-more", "e") }, 2*time.Second, poll).Should(BeEmpty())
	})

	It("leaves the annotation behind on uninstall and starts no rollout", func() {
		before := map[string]string{}
		for _, name := range workloads {
			before[name] = restartedAt("dr-shop", name)
		}
		generation := map[string]int64{}
		for _, name := range []string{"a", "e"} {
			ns := map[string]string{"a": "dr-shop", "e": "dr-more"}[name]
			d := &appsv1.Deployment{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d)).To(Succeed())
			generation[name] = d.Generation
		}
		deleteMesh()
		Consistently(func(g Gomega) {
			for _, name := range workloads {
				g.Expect(restartedAt("dr-shop", name)).To(Equal(before[name]))
			}
			for name, ns := range map[string]string{"a": "dr-shop", "e": "dr-more"} {
				d := &appsv1.Deployment{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d)).To(Succeed())
				g.Expect(d.Generation).To(Equal(generation[name]))
			}
		}, 2*time.Second, poll).Should(Succeed())
	})
})

// markStatefulSetRolledOut writes what the StatefulSet controller and kubelets would once every replica
// of the current revision is ready and available.
func markStatefulSetRolledOut(namespace, name string) {
	GinkgoHelper()
	Eventually(func() error {
		s := &appsv1.StatefulSet{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, s); err != nil {
			return err
		}
		s.Status = appsv1.StatefulSetStatus{ObservedGeneration: s.Generation, Replicas: 1, UpdatedReplicas: 1,
			ReadyReplicas: 1, AvailableReplicas: 1, CurrentReplicas: 1}
		return k8sClient.Status().Update(ctx, s)
	}, installTimeout, poll).Should(Succeed())
}

// markDaemonSetRolledOut writes what the DaemonSet controller and kubelets would once its pod on each of
// two nodes is updated, ready and available.
func markDaemonSetRolledOut(namespace, name string) {
	GinkgoHelper()
	Eventually(func() error {
		ds := &appsv1.DaemonSet{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, ds); err != nil {
			return err
		}
		ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: 2,
			CurrentNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2}
		return k8sClient.Status().Update(ctx, ds)
	}, installTimeout, poll).Should(Succeed())
}

// templateAnnotation returns the restarted-at annotation of a workload's pod template ("" when absent).
func templateAnnotation(obj client.Object) string {
	GinkgoHelper()
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	switch o := obj.(type) {
	case *appsv1.StatefulSet:
		return o.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation]
	case *appsv1.DaemonSet:
		return o.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation]
	case *appsv1.Deployment:
		return o.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation]
	}
	return ""
}

var _ = Describe("Restarts of every workload kind, the ingress-nginx controller first", Ordered, func() {
	const apps, ingressNS = "dk-apps", "dk-ingress"
	var (
		sts *appsv1.StatefulSet
		ds  *appsv1.DaemonSet
		// ordered are the workloads in the order meshkeeper must restart them, one at a time.
		ordered []client.Object
	)

	BeforeAll(func() {
		deleteMesh()
		createNamespace(apps, nil, nil)
		createNamespace(ingressNS, nil, nil)
		labels := map[string]string{"app": "db"}
		template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}}}
		sts = &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: apps, Name: "db"},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
		Expect(k8sClient.Create(ctx, sts)).To(Succeed())
		markStatefulSetRolledOut(apps, "db")
		createOwnedPod(apps, "db-0", "", &sts.ObjectMeta, "StatefulSet")
		labels = map[string]string{"app": "agent"}
		template.Labels = labels
		ds = &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: apps, Name: "agent"},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
		Expect(k8sClient.Create(ctx, ds)).To(Succeed())
		markDaemonSetRolledOut(apps, "agent")
		createOwnedPod(apps, "agent-x1", "", &ds.ObjectMeta, "DaemonSet")
		createOwnedPod(apps, "agent-x2", "", &ds.ObjectMeta, "DaemonSet")
		createWorkload(ingressNS, "controller", nil)

		// Ingress-nginx integration off: only the controller's name matters here, for the order.
		createMesh("  namespace: dk-system\n  version: 1.31.1\n  injection:\n    namespaces: [dk-apps, dk-ingress]\n" +
			"  ingressNginx:\n    controller: {namespace: dk-ingress, name: controller, kind: Deployment}\n" +
			"  dataPlane:\n    restarts:\n      mode: Automatic\n      maxConcurrent: 1\n")
		Eventually(func() bool { return istiodOrNil("dk-system") != nil }, installTimeout, poll).Should(BeTrue())
		controller := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ingressNS, Name: "controller"}}
		// dk-apps sorts before dk-ingress: the controller comes first only because it is the gateway.
		ordered = []client.Object{controller, &appsv1.DaemonSet{ObjectMeta: ds.ObjectMeta}, &appsv1.StatefulSet{ObjectMeta: sts.ObjectMeta}}
	})
	AfterAll(deleteMesh)

	It("restarts the ingress-nginx controller first, then a DaemonSet and a StatefulSet, each once the one before rolled out", func() {
		markAvailable("dk-system", "istiod")
		restartedSet := func() []string {
			var out []string
			for _, obj := range ordered {
				if templateAnnotation(obj) != "" {
					out = append(out, obj.GetName())
				}
			}
			return out
		}
		names := []string{"controller", "agent", "db"}
		for i := range ordered {
			Eventually(restartedSet, installTimeout, poll).Should(Equal(names[:i+1]))
			Consistently(restartedSet, time.Second, poll).Should(Equal(names[:i+1]),
				"maxConcurrent 1: the next waits for %s's rollout", names[i])
			switch i {
			case 0:
				rollOut(ingressNS, "controller")
			case 1:
				markDaemonSetRolledOut(apps, "agent")
			}
		}
		By("following the StatefulSet's rollout to its end by its own rules")
		Eventually(func() int32 { return getMesh().Status.Proxies.Restarting }, installTimeout, poll).Should(BeEquivalentTo(1))
		markStatefulSetRolledOut(apps, "db")
		Eventually(func() int32 { return getMesh().Status.Proxies.Restarting }, installTimeout, poll).Should(BeZero())
		Eventually(func() []string { return workloadKindEvents("StatefulSet", apps, "db", meshv1alpha1.ReasonRestarted) },
			installTimeout, poll).ShouldNot(BeEmpty())
		Expect(workloadKindEvents("DaemonSet", apps, "agent", meshv1alpha1.ReasonRestarted)).NotTo(BeEmpty())
	})
})

// workloadKindEvents returns the messages of a workload's Events of a reason.
func workloadKindEvents(kind, namespace, name, reason string) []string {
	GinkgoHelper()
	var out []string
	for _, e := range listEvents() {
		if e.Regarding.Kind == kind && e.Regarding.Namespace == namespace && e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}
