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
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/test/istiod"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

const (
	// meshNamespace is the control-plane namespace: not istio-system, so nothing passes by relying on
	// the default name.
	meshNamespace = "mesh-system"
	// appNamespace is the namespace the ServiceMesh enrolls.
	appNamespace = "app"
	// webCluster is the outbound cluster of the Service web in appNamespace.
	webCluster = "outbound|80||web.app.svc.cluster.local"
	// istiodCluster is the outbound xDS cluster of the istiod Service the chart installed.
	istiodCluster = "outbound|15010||istiod." + meshNamespace + ".svc.cluster.local"
)

// The one API server, manager and istiod every test shares.
var (
	k8sClient client.Client
	pilot     *istiod.Istiod
	// meshVersion is the Istio version meshkeeper installed (ServiceMesh status.version).
	meshVersion string
	// deploymentEnv and deploymentArgs are what the installed istiod Deployment gives its container,
	// and the local istiod got.
	deploymentEnv, deploymentArgs []string
	// kubeconfig is the path of an admin kubeconfig of the API server, for istiod and istioctl.
	kubeconfig string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run sets up the tier, runs the tests and tears the tier down again.
func run(m *testing.M) int {
	suite := &testenv.Suite{}
	defer suite.Close()
	dir, err := os.MkdirTemp("", "istiod-tier-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	suite.Cleanup(func() { _ = os.RemoveAll(dir) })

	if !suite.SetUp(func(s *testenv.Suite) {
		// envtest's default Service range (a /24) holds 254 ClusterIPs; BenchmarkSidecarScoping creates 2,000.
		env := testenv.Start(s, testenv.WithServiceCIDR("10.96.0.0/12"))
		ctx, cancel := context.WithCancel(context.Background())
		s.Cleanup(cancel)
		if err := setUp(ctx, s, env, dir); err != nil {
			s.Fatalf("setting up the control-plane tier: %v", err)
		}
	}) {
		if log, _ := os.ReadFile(filepath.Join(dir, "manager.log")); len(log) > 0 {
			fmt.Fprintf(os.Stderr, "the end of the manager's log:\n%s\n", tail(string(log), 4000))
		}
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "the end of istiod's log:\n%s\n", pilot.LogTail(6000))
	}
	return code
}

// setUp starts the manager on env, lets meshkeeper install the charts and starts pilot-discovery on
// what they installed. What it starts stops when suite closes.
func setUp(ctx context.Context, suite *testenv.Suite, env *testenv.Env, dir string) error {
	logFile, err := os.Create(filepath.Join(dir, "manager.log"))
	if err != nil {
		return err
	}
	k8sClient = env.Client
	// The manager as main.go builds it, logging to the file.
	if err := testenv.StartManager(ctx, env.Config, logFile); err != nil {
		return err
	}

	for _, name := range []string{appNamespace} {
		if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			return err
		}
	}
	if err := k8sClient.Create(ctx, service(appNamespace, "web", 80)); err != nil {
		return err
	}
	mesh := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`
apiVersion: mesh.meshkeeper.io/v1alpha1
kind: ServiceMesh
metadata: {name: default}
spec:
  namespace: `+meshNamespace+`
  injection: {namespaces: [`+appNamespace+`]}
`), &mesh.Object); err != nil {
		return err
	}
	if err := k8sClient.Create(ctx, mesh); err != nil {
		return fmt.Errorf("creating the ServiceMesh: %w", err)
	}

	// istiod reads both ConfigMaps at start: without the injector's, it serves no /inject.
	for _, name := range []string{"istio", "istio-sidecar-injector"} {
		if err := waitFor(ctx, 3*time.Minute, func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: meshNamespace, Name: name}, &corev1.ConfigMap{})
		}); err != nil {
			return fmt.Errorf("meshkeeper did not install ConfigMap %s/%s: %w", meshNamespace, name, err)
		}
	}
	if err := waitFor(ctx, time.Minute, func() error {
		got := &unstructured.Unstructured{}
		got.SetAPIVersion("mesh.meshkeeper.io/v1alpha1")
		got.SetKind("ServiceMesh")
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: "default"}, got); err != nil {
			return err
		}
		meshVersion, _, _ = unstructured.NestedString(got.Object, "status", "version")
		if meshVersion == "" {
			return fmt.Errorf("no status.version yet")
		}
		// meshkeeper's policies (the mesh-wide PeerAuthentication) in place, so that no write of theirs
		// reaches istiod as a config change while the tests count pushes.
		conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conditions {
			if c, ok := c.(map[string]any); ok && c["type"] == "PoliciesApplied" && c["status"] == "True" {
				return nil
			}
		}
		return fmt.Errorf("PoliciesApplied is not True yet")
	}); err != nil {
		return err
	}

	// The local istiod runs with the environment and arguments the installed Deployment has.
	deployment := &appsv1.Deployment{}
	if err := waitFor(ctx, time.Minute, func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: meshNamespace, Name: "istiod"}, deployment)
	}); err != nil {
		return fmt.Errorf("meshkeeper did not install Deployment %s/istiod: %w", meshNamespace, err)
	}
	if deploymentEnv, deploymentArgs, err = istiod.DeploymentSettings(deployment); err != nil {
		return err
	}

	kubeconfig, err = env.WriteKubeconfig(dir)
	if err != nil {
		return err
	}
	start := time.Now()
	pilot, err = istiod.Start(ctx, istiod.Options{
		Kubeconfig: kubeconfig,
		Namespace:  meshNamespace,
		Env:        deploymentEnv,
		Args:       deploymentArgs,
	})
	if err != nil {
		return fmt.Errorf("starting istiod: %w", err)
	}
	suite.Cleanup(func() { _ = pilot.Stop() })
	fmt.Printf("istiod (env %v, args %v) ready in %s: xDS %s, inject %s, log %s\n", deploymentEnv, deploymentArgs,
		time.Since(start).Round(time.Millisecond), pilot.GRPCAddr, pilot.InjectURL(), pilot.LogFile)
	return nil
}

func service(namespace, name string, port int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

func waitFor(ctx context.Context, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// appProxy is a sidecar in the enrolled namespace.
var appProxy = istiod.Proxy{IP: "10.244.0.10", Pod: "client-7d9c", Namespace: appNamespace, Labels: map[string]string{"app": "client"}}

// TestCDS: a sidecar in the enrolled namespace gets a cluster for the Service there, for istiod's own
// Service in the control-plane namespace and for the API server's, with either flavour of ADS, and
// both flavours give the same clusters. The two are asked one after the other, and istiod may still be
// pushing what an earlier test changed (its ServiceEntries) in between, so they are asked again until
// they agree: a difference between the flavours themselves stays and fails the test.
func TestCDS(t *testing.T) {
	ctx := testContext(t)
	err := waitFor(ctx, 30*time.Second, func() error {
		got := map[istiod.Mode]istiod.Resources{}
		for _, mode := range []istiod.Mode{istiod.SotW, istiod.Delta} {
			clusters, err := istiod.FetchCDS(ctx, pilot.GRPCAddr, appProxy, mode)
			if err != nil {
				return fmt.Errorf("%s CDS: %w", mode, err)
			}
			t.Logf("%s CDS: %d clusters, %d bytes: %s", mode, clusters.Count(), clusters.Bytes, strings.Join(clusters.Names, " "))
			for _, want := range []string{webCluster, istiodCluster, "outbound|443||kubernetes.default.svc.cluster.local",
				"BlackHoleCluster", "PassthroughCluster", "InboundPassthroughCluster"} {
				if !clusters.Has(want) {
					return fmt.Errorf("%s CDS has no cluster %q", mode, want)
				}
			}
			if clusters.Bytes <= 0 {
				return fmt.Errorf("%s CDS: %d bytes", mode, clusters.Bytes)
			}
			got[mode] = clusters
		}
		if !slices.Equal(got[istiod.SotW].Names, got[istiod.Delta].Names) {
			return fmt.Errorf("SotW and delta CDS differ:\n  sotw  %v\n  delta %v", got[istiod.SotW].Names, got[istiod.Delta].Names)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLDS: the sidecar gets the virtual listeners that capture its traffic and an outbound HTTP
// listener for the port of the Service web.
func TestLDS(t *testing.T) {
	ctx := testContext(t)
	for _, mode := range []istiod.Mode{istiod.SotW, istiod.Delta} {
		listeners, err := istiod.FetchLDS(ctx, pilot.GRPCAddr, appProxy, mode)
		if err != nil {
			t.Fatalf("%s LDS: %v", mode, err)
		}
		t.Logf("%s LDS: %d listeners, %d bytes: %s", mode, listeners.Count(), listeners.Bytes, strings.Join(listeners.Names, " "))
		for _, want := range []string{"virtualOutbound", "virtualInbound", "0.0.0.0_80"} {
			if !listeners.Has(want) {
				t.Errorf("%s LDS has no listener %q", mode, want)
			}
		}
	}
}

// TestPush: with the stream open, nothing is pushed while nothing changes, and a new Service is pushed
// to the sidecar: SotW sends every cluster again, delta only the new one (and istiod's fixed clusters).
func TestPush(t *testing.T) {
	ctx := testContext(t)
	for i, mode := range []istiod.Mode{istiod.SotW, istiod.Delta} {
		ads, err := istiod.Dial(ctx, pilot.GRPCAddr, appProxy, mode)
		if err != nil {
			t.Fatal(err)
		}
		defer ads.Close()
		if err := ads.Subscribe(istiod.ClusterType); err != nil {
			t.Fatal(err)
		}
		if _, err := ads.WaitForType(ctx, 0, istiod.ClusterType); err != nil {
			t.Fatal(err)
		}
		// Nothing more comes while nothing changes.
		quiet, err := ads.Quiet(ctx, ads.Mark(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		before := ads.State(istiod.ClusterType)

		mark := ads.Mark()
		name := fmt.Sprintf("api-%d", i)
		if err := k8sClient.Create(ctx, service(appNamespace, name, 8080)); err != nil {
			t.Fatal(err)
		}
		newCluster := fmt.Sprintf("outbound|8080||%s.%s.svc.cluster.local", name, appNamespace)
		push, err := ads.WaitFor(ctx, mark, func(r istiod.Response) bool {
			return r.TypeURL == istiod.ClusterType && slices.Contains(r.Names, newCluster)
		})
		if err != nil {
			t.Fatalf("%s: no CDS push with %s: %v; pushes: %v", mode, newCluster, err, summaries(ads.ResponsesSince(mark)))
		}
		after := ads.State(istiod.ClusterType)
		t.Logf("%s: %d responses while idle; push after creating Service %s: %s (had %d clusters, has %d): %v",
			mode, len(quiet), name, push.Summary(), before.Count(), after.Count(), push.Names)
		if len(quiet) != 0 {
			t.Errorf("%s: istiod pushed with nothing changed: %v", mode, summaries(quiet))
		}
		if after.Count() != before.Count()+1 || !after.Has(newCluster) {
			t.Errorf("%s: clusters went from %d to %d; want one more, %s", mode, before.Count(), after.Count(), newCluster)
		}
		switch mode {
		case istiod.SotW:
			if push.Resources != after.Count() {
				t.Errorf("SotW push carried %d clusters, want all %d", push.Resources, after.Count())
			}
		case istiod.Delta:
			// Of the Services' clusters only the new one; istiod regenerates its three fixed clusters
			// (BlackHole, Passthrough, InboundPassthrough) on every CDS push.
			var outbound []string
			for _, n := range push.Names {
				if strings.HasPrefix(n, "outbound|") {
					outbound = append(outbound, n)
				}
			}
			if !slices.Equal(outbound, []string{newCluster}) || push.Resources >= after.Count() {
				t.Errorf("delta push carried %v, want of the outbound clusters only %s", push.Names, newCluster)
			}
		}
	}
}

func summaries(rs []istiod.Response) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Summary())
	}
	return out
}

// TestInjection: the stock injector, with the templates and mesh config meshkeeper installed, gives
// a pod of the enrolled namespace the sidecar: the init container that validates the CNI agent's
// redirection, istio-proxy with the
// proxy settings of the ServiceMesh's defaults, and the HTTP readiness probe moved to the sidecar's
// status port.
func TestInjection(t *testing.T) {
	ctx := testContext(t)

	// The API server would send the pod to istiod because meshkeeper labelled the namespace.
	ns := &corev1.Namespace{}
	if err := k8sClient.Get(ctx, client.ObjectKey{Name: appNamespace}, ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels["istio-injection"] != "enabled" {
		t.Errorf("namespace %s has labels %v, want istio-injection=enabled", appNamespace, ns.Labels)
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: appNamespace, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "web",
			Image: "registry.example/web:1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)},
			}},
		}}},
	}
	injection, err := istiod.Inject(ctx, pilot.InjectURL(), appNamespace, pod)
	if err != nil {
		t.Fatal(err)
	}
	if !injection.Injected() {
		t.Fatalf("istiod did not inject the pod: %+v", injection.Response)
	}
	got := injection.Pod
	names := func(cs []corev1.Container) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	t.Logf("injected pod: initContainers %v, containers %v", names(got.Spec.InitContainers), names(got.Spec.Containers))

	// The mesh runs the CNI agent (a new ServiceMesh's default), so the init container only checks the
	// redirection the agent set up (TestCNIInjectionPassesPodSecurity has the rest).
	initC := find(got.Spec.InitContainers, "istio-validation")
	if initC == nil {
		t.Fatalf("no istio-validation init container: %v", names(got.Spec.InitContainers))
	}
	args := strings.Join(append(slices.Clone(initC.Command), initC.Args...), " ")
	for _, want := range []string{"istio-iptables", "-p 15001", "-z 15006", "-u 1337", "--run-validation", "--skip-rule-apply"} {
		if !strings.Contains(args, want) {
			t.Errorf("istio-validation runs %q, want %q in it", args, want)
		}
	}

	// istio-proxy is a native sidecar (an init container that keeps running) on a Kubernetes that has
	// them, a container otherwise.
	proxy := find(got.Spec.InitContainers, "istio-proxy")
	if proxy == nil {
		proxy = find(got.Spec.Containers, "istio-proxy")
	}
	if proxy == nil {
		t.Fatalf("no istio-proxy container: init %v, containers %v", names(got.Spec.InitContainers), names(got.Spec.Containers))
	}
	if want := "docker.io/istio/proxyv2:" + meshVersion; proxy.Image != want {
		t.Errorf("istio-proxy image %q, want %q", proxy.Image, want)
	}
	env := map[string]string{}
	for _, e := range proxy.Env {
		env[e.Name] = e.Value
	}
	for k, v := range map[string]string{
		"ISTIO_DELTA_XDS":        "true",
		"ISTIO_META_DNS_CAPTURE": "true",
		"PILOT_CERT_PROVIDER":    "istiod",
		"CA_ADDR":                "istiod." + meshNamespace + ".svc:15012",
	} {
		if env[k] != v {
			t.Errorf("istio-proxy env %s=%q, want %q", k, env[k], v)
		}
	}
	// DNS auto-allocation is istiod's (TestServiceEntryAddressAllocation); the proxy flag is deprecated.
	if v, ok := env["ISTIO_META_DNS_AUTO_ALLOCATE"]; ok {
		t.Errorf("istio-proxy env ISTIO_META_DNS_AUTO_ALLOCATE=%q, want it unset", v)
	}
	if !strings.Contains(env["ISTIO_KUBE_APP_PROBERS"], `"/app-health/web/readyz"`) ||
		!strings.Contains(env["ISTIO_KUBE_APP_PROBERS"], `"path":"/healthz"`) {
		t.Errorf("istio-proxy ISTIO_KUBE_APP_PROBERS=%q, want the original probe of web", env["ISTIO_KUBE_APP_PROBERS"])
	}

	web := find(got.Spec.Containers, "web")
	if web == nil || web.ReadinessProbe == nil || web.ReadinessProbe.HTTPGet == nil {
		t.Fatalf("container web lost its HTTP readiness probe: %+v", web)
	}
	if g := web.ReadinessProbe.HTTPGet; g.Path != "/app-health/web/readyz" || g.Port != intstr.FromInt32(15020) {
		t.Errorf("web's readiness probe is %s on port %s, want /app-health/web/readyz on 15020", g.Path, g.Port.String())
	}
	if got.Annotations["sidecar.istio.io/status"] == "" {
		t.Errorf("no sidecar.istio.io/status annotation: %v", got.Annotations)
	}
	if got.Labels["security.istio.io/tlsMode"] != "istio" {
		t.Errorf("labels %v, want security.istio.io/tlsMode=istio", got.Labels)
	}

	// A pod that opts out is left alone.
	optOut := pod.DeepCopy()
	optOut.Annotations = map[string]string{"sidecar.istio.io/inject": "false"}
	injection, err = istiod.Inject(ctx, pilot.InjectURL(), appNamespace, optOut)
	if err != nil {
		t.Fatal(err)
	}
	if injection.Injected() {
		t.Errorf("istiod injected a pod annotated sidecar.istio.io/inject=false: %s", injection.Patch)
	}
}

func find(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// TestDeploymentSettings: the local istiod runs with the push tuning meshkeeper rendered into the
// Deployment (the ServiceMesh's defaults) and the chart's arguments, without the in-cluster addresses.
func TestDeploymentSettings(t *testing.T) {
	for _, want := range []string{"PILOT_DEBOUNCE_AFTER=100ms", "PILOT_DEBOUNCE_MAX=10s", "PILOT_PUSH_THROTTLE=100", "REVISION=default",
		"PILOT_ENABLE_IP_AUTOALLOCATE=true"} {
		if !slices.Contains(deploymentEnv, want) {
			t.Errorf("env %v has no %s", deploymentEnv, want)
		}
	}
	if args := strings.Join(deploymentArgs, " "); !strings.Contains(args, "--domain cluster.local") || strings.Contains(args, "Addr") {
		t.Errorf("args %q: want --domain cluster.local and no address flags", args)
	}
}

// TestIstiodWritesAreLeftAlone: istiod writes its CA bundle into the webhook configurations the chart
// installed; meshkeeper sees those writes and leaves them alone: no Helm upgrade, no rewrite.
func TestIstiodWritesAreLeftAlone(t *testing.T) {
	ctx := testContext(t)
	type webhookState struct {
		caBundles map[string]int
		release   []string
	}
	read := func() (webhookState, error) {
		st := webhookState{caBundles: map[string]int{}}
		mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: "istio-sidecar-injector-" + meshNamespace}, mwc); err != nil {
			return st, err
		}
		if !managedBy(mwc.ManagedFields, "pilot-discovery") {
			return st, fmt.Errorf("MutatingWebhookConfiguration %s: no fields managed by pilot-discovery", mwc.Name)
		}
		for _, w := range mwc.Webhooks {
			st.caBundles["mutating/"+w.Name] = len(w.ClientConfig.CABundle)
		}
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: "istio-validator-" + meshNamespace}, vwc); err != nil {
			return st, err
		}
		if !managedBy(vwc.ManagedFields, "pilot-discovery") {
			return st, fmt.Errorf("ValidatingWebhookConfiguration %s: no fields managed by pilot-discovery", vwc.Name)
		}
		for _, w := range vwc.Webhooks {
			st.caBundles["validating/"+w.Name] = len(w.ClientConfig.CABundle)
		}
		secrets := &corev1.SecretList{}
		if err := k8sClient.List(ctx, secrets, client.InNamespace(meshNamespace), client.MatchingLabels{"owner": "helm", "name": "istiod"}); err != nil {
			return st, err
		}
		for _, s := range secrets.Items {
			st.release = append(st.release, s.Name)
		}
		slices.Sort(st.release)
		return st, nil
	}
	first, err := read()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("caBundle sizes %v, istiod release %v", first.caBundles, first.release)
	if len(first.caBundles) < 5 {
		t.Errorf("webhooks %v: want the injector's four and the validator's", first.caBundles)
	}
	for name, size := range first.caBundles {
		if size == 0 {
			t.Errorf("webhook %s has no caBundle", name)
		}
	}
	if want := []string{"sh.helm.release.v1.istiod.v1"}; !slices.Equal(first.release, want) {
		t.Errorf("istiod release revisions %v, want only %v", first.release, want)
	}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		now, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(now.caBundles, first.caBundles) || !slices.Equal(now.release, first.release) {
			t.Fatalf("meshkeeper changed what istiod wrote: caBundles %v -> %v, release %v -> %v",
				first.caBundles, now.caBundles, first.release, now.release)
		}
	}
}

func managedBy(fields []metav1.ManagedFieldsEntry, manager string) bool {
	return slices.ContainsFunc(fields, func(f metav1.ManagedFieldsEntry) bool { return f.Manager == manager })
}
