//go:build cluster

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

package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/test/cluster"
	"github.com/meshkeeper/meshkeeper/test/faultkit"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

const (
	// userManager is the field manager of everything the test writes as the cluster's users.
	userManager = "user"
	// controlPlaneNamespace is spec.namespace's default.
	controlPlaneNamespace = "istio-system"
	// controllerNamespace and controllerName are spec.ingressNginx.controller's defaults.
	controllerNamespace = "ingress-nginx"
	controllerName      = "ingress-nginx-controller"
	// selectorLabel is the user label spec.injection.namespaceSelector matches.
	selectorLabel = "mesh"
	// injectionLabel is meshkeeper's label on enrolled namespaces, with the value "enabled".
	injectionLabel = "istio-injection"

	// settleTimeout is how long the system may take to converge after a step. A reconcile that failed
	// through a whole fault window waits up to meshkeeper's retry cap (5 minutes, backoffMax in
	// controllers/servicemesh) before its next try once the faults stop, as backoff must; the margin
	// above it is for the install that try makes.
	settleTimeout = 7 * time.Minute
	// quietWindow is how long steady state must write nothing.
	quietWindow  = 5 * time.Second
	quietTimeout = time.Minute
)

var (
	meshGVR         = meshv1alpha1.GroupVersion.WithResource("servicemeshes")
	sidecarGVR      = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "sidecars"}
	peerAuthGVR     = schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "peerauthentications"}
	managerBinary   string
	managerBuildErr error
)

// TestMain builds meshkeeper's binary once for the package's tests: they run it as a process, which
// they can kill.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meshkeeper-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	managerBinary, managerBuildErr = testenv.BuildImageBinary(dir)
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// env is a simulated cluster with meshkeeper's manager running as a process behind the proxy. The
// test reads and writes the cluster directly, so the proxy counts only the manager's requests.
type env struct {
	t          *testing.T
	ctx        context.Context
	cluster    *cluster.Cluster
	proxy      *Proxy
	kubeconfig string // the proxy's, for the manager
	logPath    string
	manager    *faultkit.Manager
	starts     int
	cs         kubernetes.Interface
	dyn        dynamic.Interface
	client     client.Client
}

// startEnv starts a one-node cluster, the proxy (faults off, seeded with seed), the CRD and the manager.
func startEnv(ctx context.Context, t *testing.T, seed uint64) *env {
	t.Helper()
	if managerBuildErr != nil {
		t.Fatal(managerBuildErr)
	}
	testenv.DependOn(testenv.ManagerInputs(managerBinary)...)
	dir := t.TempDir()
	c, err := cluster.Start(ctx, cluster.Options{Nodes: 1, Dir: filepath.Join(dir, "cluster")})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, cluster: c, logPath: filepath.Join(dir, "meshkeeper.log"), kubeconfig: filepath.Join(dir, "proxy.kubeconfig")}
	t.Cleanup(func() {
		e.killManager()
		// CHAOS_KEEP_LOG=path keeps the manager's log of the last environment there.
		if keep := os.Getenv("CHAOS_KEEP_LOG"); keep != "" {
			if log, err := os.ReadFile(e.logPath); err == nil {
				_ = os.WriteFile(keep, log, 0o644)
			}
		}
		if e.proxy != nil {
			e.proxy.Close()
		}
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	if e.proxy, err = NewProxy(c.RESTConfig(), seed, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.proxy.WriteKubeconfig(e.kubeconfig); err != nil {
		t.Fatal(err)
	}
	if e.cs, err = kubernetes.NewForConfig(c.RESTConfig()); err != nil {
		t.Fatal(err)
	}
	if e.dyn, err = dynamic.NewForConfig(c.RESTConfig()); err != nil {
		t.Fatal(err)
	}
	scheme, err := testenv.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	if e.client, err = client.New(c.RESTConfig(), client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	if err := testenv.InstallCRD(c.Kubeconfig()); err != nil {
		t.Fatal(err)
	}
	e.startManager()
	return e
}

func (e *env) startManager() {
	e.t.Helper()
	e.starts++
	var err error
	if e.manager, err = faultkit.StartManager(managerBinary, e.kubeconfig, e.logPath, fmt.Sprintf("manager start %d", e.starts)); err != nil {
		e.t.Fatal(err)
	}
}

// killManager kills the manager with SIGKILL: no deferred function, no graceful shutdown runs.
func (e *env) killManager() {
	if e.manager == nil {
		return
	}
	e.manager.Kill()
	e.manager = nil
}

// model is what the users asked for; the cluster must come to match it.
type model struct {
	installed bool
	pool      []string                     // the namespaces the test uses
	listed    map[string]bool              // spec.injection.namespaces
	mtls      string                       // spec.mtls.mode
	hold      bool                         // spec.proxy.holdApplicationUntilProxyStarts
	outbound  string                       // spec.sidecarScoping.outboundTrafficPolicy
	nsLabels  map[string]map[string]string // the users' labels of each namespace
	ingAnnots map[string]map[string]string // the users' annotations of each namespace's Ingress
	podRev    string                       // the users' annotation on the controller's pod template
}

func newModel(namespaces ...string) *model {
	m := &model{pool: namespaces, listed: map[string]bool{}, mtls: "PERMISSIVE", hold: true, outbound: "ALLOW_ANY",
		nsLabels: map[string]map[string]string{}, ingAnnots: map[string]map[string]string{}, podRev: "1"}
	for _, ns := range namespaces {
		m.nsLabels[ns] = map[string]string{"team": ns + "-owners"}
		m.ingAnnots[ns] = map[string]string{"user.example/note": "kept"}
	}
	return m
}

// enrolled is whether ns must carry meshkeeper's injection label: listed, or selected by the user's label.
func (m *model) enrolled(ns string) bool {
	return m.installed && (m.listed[ns] || m.nsLabels[ns][selectorLabel] == "on")
}

func (m *model) String() string {
	var enrolled []string
	for _, ns := range m.pool {
		if m.enrolled(ns) {
			enrolled = append(enrolled, ns)
		}
	}
	return fmt.Sprintf("installed=%t enrolled=%v mtls=%s hold=%t outbound=%s", m.installed, enrolled, m.mtls, m.hold, m.outbound)
}

func (m *model) mesh() *unstructured.Unstructured {
	listed := []any{}
	for _, ns := range slices.Sorted(maps.Keys(m.listed)) {
		listed = append(listed, ns)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": meshv1alpha1.GroupVersion.String(),
		"kind":       "ServiceMesh",
		"metadata":   map[string]any{"name": "default"},
		"spec": map[string]any{
			"controlPlane": map[string]any{"replicas": int64(1)},
			"injection": map[string]any{
				"namespaces":        listed,
				"namespaceSelector": map[string]any{"matchLabels": map[string]any{selectorLabel: "on"}},
			},
			"mtls":           map[string]any{"mode": m.mtls},
			"proxy":          map[string]any{"holdApplicationUntilProxyStarts": m.hold},
			"sidecarScoping": map[string]any{"enabled": true, "outboundTrafficPolicy": m.outbound},
			"ingressNginx":   map[string]any{"enabled": true, "serviceCIDRs": []any{"10.96.0.0/12"}},
		},
	}}
}

var apply = metav1.ApplyOptions{FieldManager: userManager, Force: true}

// applyMesh applies the ServiceMesh the model describes, as its user.
func (e *env) applyMesh(m *model) {
	e.t.Helper()
	if _, err := e.dyn.Resource(meshGVR).Apply(e.ctx, "default", m.mesh(), apply); err != nil {
		e.t.Fatalf("applying the ServiceMesh: %v", err)
	}
}

// deleteMesh deletes the ServiceMesh; the manager uninstalls and removes the finalizer.
func (e *env) deleteMesh() {
	e.t.Helper()
	if err := e.dyn.Resource(meshGVR).Delete(e.ctx, "default", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		e.t.Fatalf("deleting the ServiceMesh: %v", err)
	}
}

// createUserObjects creates what the users own: the namespaces with a Service and an Ingress each,
// and the ingress-nginx controller.
func (e *env) createUserObjects(m *model) {
	e.t.Helper()
	for _, ns := range m.pool {
		e.applyNamespace(m, ns)
		svc := corev1ac.Service("web", ns).WithSpec(corev1ac.ServiceSpec().
			WithSelector(map[string]string{"app": "web"}).WithPorts(corev1ac.ServicePort().WithPort(80)))
		if _, err := e.cs.CoreV1().Services(ns).Apply(e.ctx, svc, apply); err != nil {
			e.t.Fatal(err)
		}
		e.applyIngress(m, ns)
	}
	if _, err := e.cs.CoreV1().Namespaces().Apply(e.ctx, corev1ac.Namespace(controllerNamespace), apply); err != nil {
		e.t.Fatal(err)
	}
	// The controller's service account may read IngressClasses, as the ingress-nginx chart's
	// ClusterRole lets it: without that, ingress-nginx ignores spec.ingressClassName.
	role := rbacv1ac.ClusterRole("ingress-nginx").WithRules(rbacv1ac.PolicyRule().
		WithAPIGroups(networkingv1.GroupName).WithResources("ingressclasses").WithVerbs("get", "list", "watch"))
	if _, err := e.cs.RbacV1().ClusterRoles().Apply(e.ctx, role, apply); err != nil {
		e.t.Fatal(err)
	}
	binding := rbacv1ac.ClusterRoleBinding("ingress-nginx").
		WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup("rbac.authorization.k8s.io").WithKind("ClusterRole").WithName("ingress-nginx")).
		WithSubjects(rbacv1ac.Subject().WithKind("ServiceAccount").WithNamespace(controllerNamespace).WithName("default"))
	if _, err := e.cs.RbacV1().ClusterRoleBindings().Apply(e.ctx, binding, apply); err != nil {
		e.t.Fatal(err)
	}
	e.applyController(m)
}

func (e *env) applyNamespace(m *model, ns string) {
	e.t.Helper()
	if _, err := e.cs.CoreV1().Namespaces().Apply(e.ctx, corev1ac.Namespace(ns).WithLabels(m.nsLabels[ns]), apply); err != nil {
		e.t.Fatalf("applying namespace %s: %v", ns, err)
	}
}

func (e *env) applyIngress(m *model, ns string) {
	e.t.Helper()
	backend := networkingv1ac.IngressBackend().WithService(networkingv1ac.IngressServiceBackend().
		WithName("web").WithPort(networkingv1ac.ServiceBackendPort().WithNumber(80)))
	ing := networkingv1ac.Ingress("web", ns).WithAnnotations(m.ingAnnots[ns]).WithSpec(networkingv1ac.IngressSpec().
		WithIngressClassName("nginx").
		WithRules(networkingv1ac.IngressRule().WithHost(ns + ".example.com").WithHTTP(networkingv1ac.HTTPIngressRuleValue().
			WithPaths(networkingv1ac.HTTPIngressPath().WithPath("/").WithPathType(networkingv1.PathTypePrefix).WithBackend(backend)))))
	if _, err := e.cs.NetworkingV1().Ingresses(ns).Apply(e.ctx, ing, apply); err != nil {
		e.t.Fatalf("applying the Ingress of %s: %v", ns, err)
	}
}

func (e *env) applyController(m *model) {
	e.t.Helper()
	labels := map[string]string{"app": "ingress-nginx"}
	deploy := appsv1ac.Deployment(controllerName, controllerNamespace).WithSpec(appsv1ac.DeploymentSpec().
		WithReplicas(1).
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(labels)).
		WithTemplate(corev1ac.PodTemplateSpec().WithLabels(labels).
			WithAnnotations(map[string]string{"user.example/rev": m.podRev}).
			WithSpec(corev1ac.PodSpec().WithContainers(corev1ac.Container().WithName("controller").WithImage("registry.example/ingress-nginx:1")))))
	if _, err := e.cs.AppsV1().Deployments(controllerNamespace).Apply(e.ctx, deploy, apply); err != nil {
		e.t.Fatalf("applying the ingress-nginx controller: %v", err)
	}
}

// settle waits until the cluster matches the model and then writes nothing for quietWindow, and checks
// the model once more; it fails the test with what differs.
func (e *env) settle(m *model) time.Duration {
	e.t.Helper()
	start := time.Now()
	if err := e.waitConverged(m, settleTimeout); err != nil {
		e.fail("not converged after %s (%s): %v", settleTimeout, m, err)
	}
	if err := e.waitQuiet(); err != nil {
		e.fail("no steady state (%s): %v", m, err)
	}
	if err := e.converged(m); err != nil {
		e.fail("converged, then drifted in steady state (%s): %v", m, err)
	}
	return time.Since(start)
}

// waitConverged polls converged until it holds or timeout passes.
func (e *env) waitConverged(m *model, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := e.converged(m)
		if err == nil || time.Now().After(deadline) || e.ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Second)
	}
}

// waitQuiet waits for quietWindow in which no write of the manager reaches the API server.
func (e *env) waitQuiet() error {
	deadline := time.Now().Add(quietTimeout)
	for {
		before := e.proxy.Counts().Writes()
		time.Sleep(quietWindow)
		after := e.proxy.Counts().Writes()
		if after == before {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still writing after %s: %d writes in the last %s, the latest:\n%s",
				quietTimeout, after-before, quietWindow, strings.Join(e.proxy.LastWrites(), "\n"))
		}
	}
}

func (e *env) fail(format string, args ...any) {
	e.t.Helper()
	mesh, _ := testenv.Kubectl(e.cluster.Kubeconfig(), "", "get", "mesh", "default", "-o", "yaml")
	log, _ := os.ReadFile(e.logPath)
	e.t.Fatalf(format+"\n%s\nmeshkeeper's log (%s):\n%s", append(args, mesh, e.logPath, testenv.TailLines(string(log), 60))...)
}

// converged says what of the model the cluster does not match, or nil. When the model holds, the
// invariants of the fault tier (faultkit.Violations) must hold too.
func (e *env) converged(m *model) error {
	ctx := e.ctx
	var errs []error
	mesh := &meshv1alpha1.ServiceMesh{}
	err := e.client.Get(ctx, types.NamespacedName{Name: "default"}, mesh)
	switch {
	case m.installed && err != nil:
		return fmt.Errorf("the ServiceMesh: %w", err)
	case m.installed:
		if why := faultkit.NotReady(mesh, ""); why != "" {
			errs = append(errs, errors.New(why))
		}
	case err == nil:
		return errors.New("the ServiceMesh is still there")
	case !apierrors.IsNotFound(err):
		return err
	}

	for _, ns := range m.pool {
		errs = append(errs, e.checkNamespace(m, ns))
	}
	errs = append(errs, e.checkController(m), e.checkPolicy(m))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	state := faultkit.Uninstalled
	if m.installed {
		state = faultkit.MeshReady
	}
	if violations := faultkit.Violations(ctx, e.cluster.RESTConfig(), e.client, controlPlaneNamespace, state); len(violations) > 0 {
		return fmt.Errorf("invariants broken (%s):\n  %s", state, strings.Join(violations, "\n  "))
	}
	return nil
}

func (e *env) checkNamespace(m *model, ns string) error {
	ctx := e.ctx
	var errs []error
	namespace, err := e.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for k, v := range m.nsLabels[ns] {
		if got, ok := namespace.Labels[k]; !ok || got != v {
			errs = append(errs, fmt.Errorf("namespace %s: the user's label %s=%s is %q", ns, k, v, got))
		}
	}
	// A user's own istio-injection=enabled is no conflict and stays the user's: meshkeeper need not
	// own the label then, but must not own it on a namespace it does not enroll.
	label, labelled := namespace.Labels[injectionLabel]
	owns := slices.Contains(faultkit.MeshkeeperLabels(namespace), injectionLabel)
	want, users := m.enrolled(ns), m.nsLabels[ns][injectionLabel] == "enabled"
	if (want || users) != (labelled && label == "enabled") || (!want && owns) || (want && !users && !owns) {
		errs = append(errs, fmt.Errorf("namespace %s: enrolled=%t, the user's label %t, but istio-injection=%q (present %t, meshkeeper's %t)",
			ns, want, users, label, labelled, owns))
	}

	ing, err := e.cs.NetworkingV1().Ingresses(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		return err
	}
	for k, v := range m.ingAnnots[ns] {
		if got, ok := ing.Annotations[k]; !ok || got != v {
			errs = append(errs, fmt.Errorf("ingress %s/web: the user's annotation %s=%s is %q", ns, k, v, got))
		}
	}
	upstream := ing.Annotations["nginx.ingress.kubernetes.io/service-upstream"]
	vhost := ing.Annotations["nginx.ingress.kubernetes.io/upstream-vhost"]
	if want := m.enrolled(ns); want != (upstream == "true" && vhost == "web."+ns+".svc") || (!want && (upstream != "" || vhost != "")) {
		errs = append(errs, fmt.Errorf("ingress %s/web: enrolled=%t but service-upstream=%q upstream-vhost=%q", ns, want, upstream, vhost))
	}

	_, err = e.dyn.Resource(sidecarGVR).Namespace(ns).Get(ctx, "default", metav1.GetOptions{})
	switch {
	case m.enrolled(ns) && err != nil:
		errs = append(errs, fmt.Errorf("namespace %s is enrolled, its Sidecar: %w", ns, err))
	case !m.enrolled(ns) && err == nil:
		errs = append(errs, fmt.Errorf("namespace %s is not enrolled, but its Sidecar is there", ns))
	case !m.enrolled(ns) && !apierrors.IsNotFound(err) && !isNoKind(err):
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// isNoKind is the error of a read of an Istio kind before the first install brought its CRD.
func isNoKind(err error) bool {
	return err != nil && (apierrors.IsNotFound(err) || strings.Contains(err.Error(), "the server could not find the requested resource"))
}

func (e *env) checkController(m *model) error {
	deploy, err := e.cs.AppsV1().Deployments(controllerNamespace).Get(e.ctx, controllerName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	var errs []error
	annotations := deploy.Spec.Template.Annotations
	if got := annotations["user.example/rev"]; got != m.podRev {
		errs = append(errs, fmt.Errorf("the controller's pod template: the user's annotation user.example/rev=%s is %q", m.podRev, got))
	}
	_, configured := annotations["traffic.sidecar.istio.io/includeInboundPorts"]
	if configured != m.installed || (deploy.Spec.Template.Labels["sidecar.istio.io/inject"] == "true") != m.installed {
		errs = append(errs, fmt.Errorf("the controller's pod template: installed=%t but its sidecar settings are %v %v", m.installed, deploy.Spec.Template.Labels, annotations))
	}
	return errors.Join(errs...)
}

// checkPolicy checks the mesh-wide PeerAuthentication's mode. What else the control plane must be
// (istiod, its releases, its webhooks) is faultkit.Violations's.
func (e *env) checkPolicy(m *model) error {
	if !m.installed {
		return nil
	}
	pa, err := e.dyn.Resource(peerAuthGVR).Namespace(controlPlaneNamespace).Get(e.ctx, "default", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("the mesh-wide PeerAuthentication: %w", err)
	}
	if mode, _, _ := unstructured.NestedString(pa.Object, "spec", "mtls", "mode"); mode != m.mtls {
		return fmt.Errorf("the mesh-wide PeerAuthentication's mode is %q, want %s", mode, m.mtls)
	}
	return nil
}

// envInt reads a positive integer from the environment, else def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
