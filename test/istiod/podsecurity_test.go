//go:build istiod

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

package istiod_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/test/istiod"
)

// restrictedNamespace enforces the Pod Security level restricted; the API server of this tier runs the
// PodSecurity admission plugin (on by default).
const restrictedNamespace = "psa-restricted"

// restrictedPod is a pod whose own container meets the Pod Security level restricted, so that the
// level judges only what injection adds. Nothing is set at the pod level: the sidecar's containers must
// meet it on their own.
func restrictedPod(namespace string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: namespace, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{ServiceAccountName: "default", Containers: []corev1.Container{{
			Name: "web", Image: "registry.example/web:1",
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				RunAsNonRoot:             ptr.To(true),
				RunAsUser:                ptr.To[int64](1000),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		}}},
	}
}

// injectUntil sends the pod to istiod until its answer passes done: istiod reloads its injection
// templates a moment after meshkeeper changed their ConfigMap.
func injectUntil(ctx context.Context, t *testing.T, pod *corev1.Pod, done func(*corev1.Pod) error) *corev1.Pod {
	t.Helper()
	var injected *corev1.Pod
	if err := waitFor(ctx, 2*time.Minute, func() error {
		injection, err := istiod.Inject(ctx, pilot.InjectURL(), appNamespace, pod.DeepCopy())
		if err != nil {
			return err
		}
		if !injection.Injected() {
			return fmt.Errorf("istiod did not inject the pod")
		}
		injected = injection.Pod
		return done(injected)
	}); err != nil {
		t.Fatal(err)
	}
	return injected
}

// createIn creates the injected pod in the restricted namespace, as the API server would once the
// webhook answered, and returns the API server's verdict.
func createIn(ctx context.Context, injected *corev1.Pod, name string) error {
	pod := injected.DeepCopy()
	pod.Namespace, pod.Name, pod.GenerateName, pod.ResourceVersion, pod.UID = restrictedNamespace, name, "", "", ""
	return k8sClient.Create(ctx, pod)
}

// ensureRestrictedNamespace creates the namespace that enforces restricted, with the ServiceAccount the
// ServiceAccount admission plugin wants for the pods created there (this tier has no controller that
// creates it).
func ensureRestrictedNamespace(ctx context.Context, t *testing.T) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: restrictedNamespace,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	if err := k8sClient.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: restrictedNamespace, Name: "default"}}
	if err := k8sClient.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// expectLeftOut waits until meshkeeper reports the restricted namespace as not enrolled for Pod
// Security, with a message that names fix, and the namespace carries no injection label.
func expectLeftOut(ctx context.Context, t *testing.T, fix string) {
	t.Helper()
	if err := waitFor(ctx, 2*time.Minute, func() error {
		mesh := &meshv1alpha1.ServiceMesh{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
			return err
		}
		c := meta.FindStatusCondition(mesh.Status.Conditions, meshv1alpha1.ConditionNamespacesEnrolled)
		if c == nil || c.Reason != meshv1alpha1.ReasonPodSecurityRejectsSidecar || !strings.Contains(c.Message, restrictedNamespace) ||
			!strings.Contains(c.Message, fix) {
			return fmt.Errorf("NamespacesEnrolled is %+v", c)
		}
		got := &corev1.Namespace{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: restrictedNamespace}, got); err != nil {
			return err
		}
		if v, ok := got.Labels["istio-injection"]; ok {
			return fmt.Errorf("namespace %s is enrolled (istio-injection=%s)", restrictedNamespace, v)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

func initContainerNamed(name string) func(*corev1.Pod) error {
	return func(p *corev1.Pod) error {
		if find(p.Spec.InitContainers, name) == nil {
			return fmt.Errorf("no init container %s yet", name)
		}
		return nil
	}
}

// TestCNIInjectionPassesPodSecurity: with the CNI agent (a new ServiceMesh's default), the real istiod
// injects no istio-init and no added capability, and the injected pod is admitted where restricted is
// enforced. With CNI off, the same pod gets istio-init and is rejected there, and meshkeeper refuses
// to enroll that namespace. Turning CNI off and on upgrades istiod twice; go test runs a package's
// files in name order, so this file comes after istiod_test.go, whose TestIstiodWritesAreLeftAlone
// counts istiod's releases.
func TestCNIInjectionPassesPodSecurity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	ensureRestrictedNamespace(ctx, t)
	pod := restrictedPod(appNamespace)

	// The pod alone passes: what follows judges what injection adds.
	if err := createIn(ctx, pod, "web-alone"); err != nil {
		t.Fatalf("the application pod alone is rejected under restricted: %v", err)
	}

	injected := injectUntil(ctx, t, pod, initContainerNamed("istio-validation"))
	if c := find(injected.Spec.InitContainers, "istio-init"); c != nil {
		t.Errorf("with CNI, istiod injected istio-init: %+v", c)
	}
	for _, c := range append(injected.Spec.InitContainers, injected.Spec.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			continue
		}
		if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			t.Errorf("with CNI, container %s adds capabilities %v", c.Name, sc.Capabilities.Add)
		}
		if c.Name != "web" && (sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
			t.Errorf("container %s has seccomp profile %+v, want RuntimeDefault", c.Name, sc.SeccompProfile)
		}
	}
	if err := createIn(ctx, injected, "web-cni"); err != nil {
		t.Errorf("the pod injected for the CNI agent is rejected under restricted: %v", err)
	}

	// CNI off, and the restricted namespace selected too: meshkeeper must leave it out.
	// Cleanups run last registered first: this one after patchMesh's restores the spec.
	t.Cleanup(func() {
		// The rest of the tier runs with the CNI agent: wait until istiod injects for it again, which it
		// does once the agent installed again is ready on its nodes. No DaemonSet controller runs here:
		// its status is written as one would.
		agentCtx, stop := context.WithCancel(context.Background())
		defer stop()
		go keepAgentReady(agentCtx)
		injectUntil(context.Background(), t, pod, initContainerNamed("istio-validation"))
	})
	patchMesh(t, `{"cni": {"enabled": false}, "injection": {"namespaces": ["`+appNamespace+`", "`+restrictedNamespace+`"]}}`,
		`{"cni": {"enabled": true}, "injection": {"namespaces": ["`+appNamespace+`"]}}`)
	withoutCNI := injectUntil(ctx, t, pod, initContainerNamed("istio-init"))
	initC := find(withoutCNI.Spec.InitContainers, "istio-init")
	if initC.SecurityContext == nil || initC.SecurityContext.Capabilities == nil ||
		!strings.Contains(fmt.Sprint(initC.SecurityContext.Capabilities.Add), "NET_ADMIN") {
		t.Errorf("istio-init without CNI has security context %+v, want NET_ADMIN added", initC.SecurityContext)
	}
	err := createIn(ctx, withoutCNI, "web-no-cni")
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "restricted") || !strings.Contains(err.Error(), "NET_ADMIN") {
		t.Errorf("the pod injected without CNI was not rejected for NET_ADMIN under restricted: %v", err)
	}

	expectLeftOut(ctx, t, "spec.cni.enabled: true")
}

// TestAPrivilegedSidecarOfTheValuesKeepsARestrictedNamespaceOut: spec.values can make the sidecar
// itself privileged (global.proxy.privileged), which the CNI agent does not lift. The real istiod then
// injects a privileged istio-proxy, the API server rejects it where restricted is enforced, and
// meshkeeper leaves that namespace out, naming the value.
func TestAPrivilegedSidecarOfTheValuesKeepsARestrictedNamespaceOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	ensureRestrictedNamespace(ctx, t)
	pod := restrictedPod(appNamespace)
	privilegedProxy := func(privileged bool) func(*corev1.Pod) error {
		return func(p *corev1.Pod) error {
			// A native sidecar (an init container that keeps running) from Kubernetes 1.29 on.
			c := find(append(p.Spec.InitContainers, p.Spec.Containers...), "istio-proxy")
			if c == nil || c.SecurityContext == nil || ptr.Deref(c.SecurityContext.Privileged, false) != privileged {
				return fmt.Errorf("istio-proxy is not privileged=%v yet", privileged)
			}
			return nil
		}
	}
	t.Cleanup(func() {
		// The rest of the tier runs with an unprivileged sidecar: wait until istiod injects one again.
		injectUntil(context.Background(), t, pod, privilegedProxy(false))
	})
	patchMesh(t, `{"values": {"global": {"proxy": {"privileged": true}}}, "injection": {"namespaces": ["`+appNamespace+`", "`+restrictedNamespace+`"]}}`,
		`{"values": null, "injection": {"namespaces": ["`+appNamespace+`"]}}`)
	injected := injectUntil(ctx, t, pod, privilegedProxy(true))
	if find(injected.Spec.InitContainers, "istio-init") != nil {
		t.Errorf("with CNI, istiod injected istio-init")
	}
	err := createIn(ctx, injected, "web-privileged")
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "privileged") {
		t.Errorf("the pod with a privileged sidecar was not rejected under restricted: %v", err)
	}

	expectLeftOut(ctx, t, "global.proxy.privileged: true")
}

// keepAgentReady writes the CNI agent's DaemonSet status as the DaemonSet controller would once its pod
// is ready on the one node, for every generation of it, until ctx ends: a running mesh that turns CNI
// on has istiod inject for the agent only once the agent is ready.
func keepAgentReady(ctx context.Context) {
	for ctx.Err() == nil {
		mesh := &meshv1alpha1.ServiceMesh{}
		ds := &appsv1.DaemonSet{}
		if k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh) == nil &&
			k8sClient.Get(ctx, client.ObjectKey{Namespace: mesh.Spec.CNINamespace(), Name: "istio-cni-node"}, ds) == nil &&
			(ds.Status.ObservedGeneration != ds.Generation || ds.Status.NumberReady != 1) {
			ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: 1,
				CurrentNumberScheduled: 1, UpdatedNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}
			_ = k8sClient.Status().Update(ctx, ds) // a conflict is written again on the next round
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestAUserCNIOfTheValuesLetsARestrictedNamespaceIn: a CNI installation of the user's own, which
// spec.values turns on (cni.enabled) while meshkeeper runs no agent, has the real istiod inject
// istio-validation, with no added capability, instead of istio-init. With the seccomp profile the
// values give the sidecar, the injected pod is admitted where restricted is enforced, and meshkeeper
// enrolls that namespace.
func TestAUserCNIOfTheValuesLetsARestrictedNamespaceIn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	ensureRestrictedNamespace(ctx, t)
	pod := restrictedPod(appNamespace)

	// Cleanups run last registered first: this one after patchMesh's restores the spec.
	t.Cleanup(func() {
		// The rest of the tier runs with meshkeeper's agent: wait until it is installed again, ready,
		// and istiod installed for it. No DaemonSet controller runs here: its status is written as one would.
		agentCtx, stop := context.WithCancel(context.Background())
		defer stop()
		go keepAgentReady(agentCtx)
		if err := waitFor(context.Background(), 2*time.Minute, func() error {
			mesh := &meshv1alpha1.ServiceMesh{}
			if err := k8sClient.Get(context.Background(), client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
				return err
			}
			if cni := mesh.Status.CNI; cni == nil || !cni.Enabled || cni.Namespace == "" || cni.InjectorPending ||
				!meta.IsStatusConditionTrue(mesh.Status.Conditions, meshv1alpha1.ConditionCNIReady) {
				return fmt.Errorf("the CNI agent is not back: status.cni %+v", mesh.Status.CNI)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	})
	patchMesh(t, `{"cni": {"enabled": false}, "values": {"cni": {"enabled": true}, "global": {"proxy": {"seccompProfile": {"type": "RuntimeDefault"}}}}, `+
		`"injection": {"namespaces": ["`+appNamespace+`", "`+restrictedNamespace+`"]}}`,
		`{"cni": {"enabled": true}, "values": null, "injection": {"namespaces": ["`+appNamespace+`"]}}`)
	// meshkeeper's agent is removed once istiod no longer injects with meshkeeper's values for it: the
	// istiod that runs then injects with the user's.
	if err := waitFor(ctx, 2*time.Minute, func() error {
		mesh := &meshv1alpha1.ServiceMesh{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
			return err
		}
		if cni := mesh.Status.CNI; cni == nil || cni.Enabled || cni.Namespace != "" {
			return fmt.Errorf("meshkeeper's agent still runs: status.cni %+v", cni)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	injected := injectUntil(ctx, t, pod, initContainerNamed("istio-validation"))
	if c := find(injected.Spec.InitContainers, "istio-init"); c != nil {
		t.Errorf("with a CNI installation of the values, istiod injected istio-init: %+v", c)
	}
	for _, c := range append(injected.Spec.InitContainers, injected.Spec.Containers...) {
		if sc := c.SecurityContext; sc != nil && sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			t.Errorf("with a CNI installation of the values, container %s adds capabilities %v", c.Name, sc.Capabilities.Add)
		}
	}
	if err := createIn(ctx, injected, "web-own-cni"); err != nil {
		t.Errorf("the pod injected for a CNI installation of the values is rejected under restricted: %v", err)
	}

	if err := waitFor(ctx, 2*time.Minute, func() error {
		got := &corev1.Namespace{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: restrictedNamespace}, got); err != nil {
			return err
		}
		if got.Labels["istio-injection"] != "enabled" {
			mesh := &meshv1alpha1.ServiceMesh{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
				return err
			}
			return fmt.Errorf("namespace %s is not enrolled: NamespacesEnrolled %+v", restrictedNamespace,
				meta.FindStatusCondition(mesh.Status.Conditions, meshv1alpha1.ConditionNamespacesEnrolled))
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}
