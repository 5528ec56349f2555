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
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/servicemesh"
)

const (
	installTimeout = 2 * time.Minute
	poll           = 200 * time.Millisecond
)

func createMesh(spec string) {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	manifest := "apiVersion: mesh.meshkeeper.io/v1alpha1\nkind: ServiceMesh\nmetadata:\n  name: default\nspec:\n" + spec
	Expect(yaml.Unmarshal([]byte(manifest), &u.Object)).To(Succeed())
	Expect(k8sClient.Create(ctx, u)).To(Succeed())
}

func getMesh() *meshv1alpha1.ServiceMesh {
	GinkgoHelper()
	mesh := &meshv1alpha1.ServiceMesh{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
	return mesh
}

func patchSpec(spec string) {
	GinkgoHelper()
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Name = meshv1alpha1.ServiceMeshName
	Expect(k8sClient.Patch(ctx, mesh, client.RawPatch(types.MergePatchType, []byte(`{"spec":`+spec+`}`)))).To(Succeed())
}

// conditionOf returns the condition of that type of the ServiceMesh, or an empty one.
func conditionOf(conditionType string) metav1.Condition {
	GinkgoHelper()
	if c := meta.FindStatusCondition(getMesh().Status.Conditions, conditionType); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// deleteMesh deletes the ServiceMesh and waits until meshkeeper has let it go.
func deleteMesh() {
	GinkgoHelper()
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Name = meshv1alpha1.ServiceMeshName
	Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, mesh))).To(Succeed())
	Eventually(func() bool {
		return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), mesh))
	}, installTimeout, poll).Should(BeTrue(), "the ServiceMesh was not let go: its uninstall did not finish")
}

func istiod(namespace string) *appsv1.Deployment {
	GinkgoHelper()
	d := &appsv1.Deployment{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "istiod"}, d)).To(Succeed())
	return d
}

// markAvailable writes what the Deployment controller and kubelets would: every replica updated and
// available. The envtest tier has neither. For istiod it also marks the CNI agent's DaemonSet rolled
// out when the mesh runs it: istiod and the agent together make the control plane.
func markAvailable(namespace, name string) {
	GinkgoHelper()
	if name == "istiod" {
		defer markCNIReady()
	}
	Eventually(func() error {
		d := &appsv1.Deployment{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
			return err
		}
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas,
			UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas}
		return k8sClient.Status().Update(ctx, d)
	}, installTimeout, poll).Should(Succeed())
}

func envVar(d *appsv1.Deployment, name string) string {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == name {
				return e.Value
			}
		}
	}
	return ""
}

// releaseRevisions lists the revisions Helm stored for a release, oldest first.
func releaseRevisions(namespace, release string) []int {
	GinkgoHelper()
	secrets := &corev1.SecretList{}
	Expect(k8sClient.List(ctx, secrets, client.InNamespace(namespace),
		client.MatchingLabels{"owner": "helm", "name": release})).To(Succeed())
	var revisions []int
	for _, s := range secrets.Items {
		v, err := strconv.Atoi(s.Labels["version"])
		Expect(err).NotTo(HaveOccurred())
		revisions = append(revisions, v)
	}
	sort.Ints(revisions)
	return revisions
}

// releaseStatus is the status of one revision as Helm recorded it.
func releaseStatus(namespace, release string, revision int) rcommon.Status {
	r, err := releaseDriver(namespace).Get(releaseKey(release, revision))
	if err != nil {
		return rcommon.StatusUnknown
	}
	return r.(*releasev1.Release).Info.Status
}

func releaseDriver(namespace string) *driver.Secrets {
	GinkgoHelper()
	clientset, err := kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	return driver.NewSecrets(clientset.CoreV1().Secrets(namespace))
}

func releaseKey(release string, revision int) string {
	return fmt.Sprintf("sh.helm.release.v1.%s.v%d", release, revision)
}

func readRelease(namespace, release string, revision int) *releasev1.Release {
	GinkgoHelper()
	r, err := releaseDriver(namespace).Get(releaseKey(release, revision))
	Expect(err).NotTo(HaveOccurred())
	rel, ok := r.(*releasev1.Release)
	Expect(ok).To(BeTrue(), "release of type %T", r)
	return rel
}

// managedObjects maps every object carrying meshkeeper's managed-by label to its resource version.
func managedObjects() map[string]string {
	GinkgoHelper()
	out := map[string]string{}
	// The kinds the charts render, which meshkeeper watches for drift.
	for _, kind := range servicemesh.ChartKinds {
		gvk, err := apiutil.GVKForObject(kind.Object, scheme)
		Expect(err).NotTo(HaveOccurred())
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		Expect(k8sClient.List(ctx, list, client.MatchingLabels{"mesh.meshkeeper.io/managed-by": "meshkeeper"})).To(Succeed())
		for _, item := range list.Items {
			out[gvk.Kind+" "+item.GetNamespace()+"/"+item.GetName()] = item.GetResourceVersion()
		}
	}
	return out
}

// listEvents lists every Event.
func listEvents() []eventsv1.Event {
	GinkgoHelper()
	events := &eventsv1.EventList{}
	Expect(k8sClient.List(ctx, events)).To(Succeed())
	return events.Items
}

// eventReasons lists the reasons of the Events about the ServiceMesh.
func eventReasons() []string {
	GinkgoHelper()
	var reasons []string
	for _, e := range listEvents() {
		if e.Regarding.Kind == "ServiceMesh" && e.Regarding.Name == meshv1alpha1.ServiceMeshName {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

func istiodOrNil(namespace string) *appsv1.Deployment {
	d := &appsv1.Deployment{}
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "istiod"}, d); err != nil {
		return nil
	}
	return d
}

// scrape returns what the manager's metrics endpoint serves.
func scrape() (string, error) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// missingMetrics returns the lines (or line prefixes) the metrics endpoint does not serve.
func missingMetrics(want ...string) ([]string, error) {
	body, err := scrape()
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, w := range want {
		if !strings.Contains(body, w) {
			missing = append(missing, w)
		}
	}
	return missing, nil
}

// cniNodes is the number of nodes the envtest tier pretends the CNI agent runs on.
const cniNodes = 3

// markCNIReady writes what the DaemonSet controller and kubelets would for the CNI agent, when the mesh
// runs it (status.cni): rolled out, ready and available on cniNodes nodes.
func markCNIReady() {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		mesh := getMesh()
		g.Expect(mesh.Status.CNI).NotTo(BeNil(), "the ServiceMesh has not recorded whether it runs CNI")
		if !mesh.Status.CNI.Enabled {
			return
		}
		setCNIStatus(g, mesh.Spec.CNINamespace(), cniNodes, cniNodes)
	}, installTimeout, poll).Should(Succeed())
}

// setCNIStatus writes the CNI DaemonSet's status: desired nodes, each running a pod of the current
// template, of which ready are ready and available.
func setCNIStatus(g Gomega, namespace string, desired, ready int32) {
	ds := &appsv1.DaemonSet{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "istio-cni-node"}, ds)).To(Succeed())
	ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: desired,
		CurrentNumberScheduled: desired, UpdatedNumberScheduled: desired, NumberReady: ready, NumberAvailable: ready,
		NumberUnavailable: desired - ready}
	g.Expect(k8sClient.Status().Update(ctx, ds)).To(Succeed())
}

// denial is an admission policy of the cluster's, as a ValidatingAdmissionPolicy denies: the requests
// of operations on rule's resources (only those named resourceNames, when given; only in the
// namespaces namespaces selects, when set) are refused with message unless expression holds.
type denial struct {
	name          string
	operations    []admissionregistrationv1.OperationType
	rule          admissionregistrationv1.Rule
	resourceNames []string
	expression    string
	message       string
	namespaces    *metav1.LabelSelector
}

// deleteAtCleanup deletes objs, those still there, when the spec or container that calls it ends:
// before the cleanups registered earlier (a ServiceMesh's deletion), since cleanups run last registered
// first.
func deleteAtCleanup(objs ...client.Object) {
	DeferCleanup(func(ctx context.Context) {
		for _, obj := range objs {
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, obj))).To(Succeed(), "deleting %T %s", obj, obj.GetName())
		}
	})
}

// enforce creates a denial's policy and binding, and waits until the API server enforces them: until
// tryDenied, a dry run of what the policy denies, fails.
func enforce(policy *admissionregistrationv1.ValidatingAdmissionPolicy, binding *admissionregistrationv1.ValidatingAdmissionPolicyBinding,
	tryDenied func() error) {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, policy)).To(Succeed())
	Expect(k8sClient.Create(ctx, binding)).To(Succeed())
	By("waiting until the API server enforces the policy")
	Eventually(func() error {
		if tryDenied() == nil {
			return fmt.Errorf("the policy does not deny yet")
		}
		return nil
	}, installTimeout, poll).Should(Succeed())
}

// deleteDryRun is a tryDenied for enforce: a dry-run deletion of obj.
func deleteDryRun(obj client.Object) func() error {
	return func() error { return k8sClient.Delete(ctx, obj, client.DryRunAll) }
}

// updateDryRun is a tryDenied for enforce: a dry-run update of obj (its kind and name) as it is now,
// for a policy that refuses every update of it.
func updateDryRun(obj client.Object) func() error {
	return func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		return k8sClient.Update(ctx, obj, client.DryRunAll)
	}
}

// objects are the ValidatingAdmissionPolicy and its binding, both named d.name.
func (d denial) objects() (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: d.name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				ResourceNames:      d.resourceNames,
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{Operations: d.operations, Rule: d.rule},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: d.expression, Message: d.message}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: d.name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: d.name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}},
	}
	if d.namespaces != nil {
		binding.Spec.MatchResources = &admissionregistrationv1.MatchResources{NamespaceSelector: d.namespaces}
	}
	return policy, binding
}
