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

// Package chartmanager tests meshkeeper's chart manager on a real API server: what it applies and
// skips, what it refuses to take over, and the release records it keeps, read back with Helm's own
// storage driver.
package chartmanager

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/meshkeeper/meshkeeper/controllers"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// The clients log through controller-runtime's logger; these tests read what they did from the API
// server instead.
func init() { logf.SetLogger(logr.Discard()) }

// apiServer is the API server every test of the package runs on, one after the other: a server per
// test cost each test about 4 s of CPU to start and stop. Each test installs into a control-plane
// namespace of its own (newCluster), and reads only that namespace's objects and release records, so
// what a test leaves there (no namespace controller deletes it) is invisible to the tests after it.
// The charts' cluster-scoped objects are not: the base chart's CRDs and webhook configuration and the
// CNI agent's cluster roles have fixed names, and the chart manager skips a CRD whose applied digest
// is already on it. So each test deletes every cluster-scoped object of the charts' kinds that the API
// server did not make itself, and waits until they are gone (removeClusterScoped): each test begins
// on a cluster without them, as it did on a server of its own.
var apiServer *testenv.Env

// builtin are the cluster-scoped objects of the charts' kinds that the API server made itself (its
// bootstrap cluster roles and bindings), which the tests leave alone.
var builtin = map[types.UID]bool{}

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, func(s *testenv.Suite) {
		apiServer = testenv.Start(s, testenv.WithoutCRDs())
		for _, obj := range clusterScoped(s) {
			builtin[obj.UID] = true
		}
	}))
}

// clusterScopedKinds are the kinds of the cluster-scoped objects the charts render, and the CRDs.
var clusterScopedKinds = []schema.GroupVersionKind{
	apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"),
	admissionregistrationv1.SchemeGroupVersion.WithKind("ValidatingWebhookConfiguration"),
	admissionregistrationv1.SchemeGroupVersion.WithKind("MutatingWebhookConfiguration"),
	admissionregistrationv1.SchemeGroupVersion.WithKind("ValidatingAdmissionPolicy"),
	admissionregistrationv1.SchemeGroupVersion.WithKind("ValidatingAdmissionPolicyBinding"),
	rbacv1.SchemeGroupVersion.WithKind("ClusterRole"),
	rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"),
}

// clusterScoped lists every object of clusterScopedKinds on the package's API server.
func clusterScoped(t testenv.T) []metav1.PartialObjectMetadata {
	t.Helper()
	var all []metav1.PartialObjectMetadata
	for _, gvk := range clusterScopedKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := apiServer.Client.List(context.Background(), list); err != nil {
			t.Fatalf("listing the %ss: %v", gvk.Kind, err)
		}
		for _, obj := range list.Items {
			obj.SetGroupVersionKind(gvk)
			all = append(all, obj)
		}
	}
	return all
}

// removeClusterScoped deletes the cluster-scoped objects of the charts' kinds that a test made, and
// waits until they are gone, for the next test to begin without them.
func removeClusterScoped(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	made := func() []string {
		var names []string
		for _, obj := range clusterScoped(t) {
			if !builtin[obj.UID] {
				names = append(names, obj.Kind+" "+obj.Name)
				if err := apiServer.Client.Delete(ctx, &obj); client.IgnoreNotFound(err) != nil {
					t.Errorf("deleting %s %s: %v", obj.Kind, obj.Name, err)
				}
			}
		}
		return names
	}
	NewWithT(t).Eventually(made, "30s", "100ms").Should(BeEmpty(), "the cluster-scoped objects the test made are not gone")
}

// namesTaken counts the uses of each name given to unique.
var namesTaken = struct {
	sync.Mutex
	uses map[string]int
}{uses: map[string]int{}}

// unique returns name the first time it is given, and name-<n> the n-th time: the namespaces of the
// tests before outlive them on the shared API server.
func unique(name string) string {
	namesTaken.Lock()
	defer namesTaken.Unlock()
	namesTaken.uses[name]++
	if n := namesTaken.uses[name]; n > 1 {
		return fmt.Sprintf("%s-%d", name, n)
	}
	return name
}

// cluster is the package's API server as one test sees it.
type cluster struct {
	*testenv.Env
	// Namespace is the test's control-plane namespace: istio-system, or istio-system-<n> when a test
	// before took that name.
	Namespace string
}

// newCluster creates the test's control-plane namespace on the package's API server, and removes the
// cluster-scoped objects the test makes when it ends.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	env := &cluster{Env: apiServer, Namespace: unique("istio-system")}
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: env.Namespace}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeClusterScoped(t) })
	return env
}

// setUp creates the test's control-plane namespace and returns a chart manager whose PATCH requests
// are counted, and the test's view of the API server.
func setUp(t *testing.T) (*helm.ChartManager, *testenv.RequestCounter, *cluster) {
	t.Helper()
	counter := &testenv.RequestCounter{Match: func(req *http.Request) bool { return req.Method == http.MethodPatch }}
	m, env := setUpWrapped(t, counter.Wrap)
	return m, counter, env
}

// setUpWrapped creates the test's control-plane namespace and returns a chart manager whose requests
// go through wrap, and the test's view of the API server.
func setUpWrapped(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper) (*helm.ChartManager, *cluster) {
	t.Helper()
	env := newCluster(t)
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(wrap)
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return helm.NewChartManager(cfg, c, c), env
}

// values are values of Istio's charts for the test's namespace: with global.istioNamespace set, which
// the charts install into what they do not install into the release namespace (the base chart's
// ServiceAccount; istiod's, outside istio-system).
func (env *cluster) values(values map[string]any) map[string]any {
	out := maps.Clone(values)
	if out == nil {
		out = map[string]any{}
	}
	global, _ := out["global"].(map[string]any)
	global = maps.Clone(global)
	if global == nil {
		global = map[string]any{}
	}
	global["istioNamespace"] = env.Namespace
	out["global"] = global
	return out
}

func (env *cluster) baseRelease(t *testing.T, uid string) helm.Release {
	t.Helper()
	chart, err := charts.Builtin(charts.Base)
	if err != nil {
		t.Fatal(err)
	}
	return helm.Release{Name: "istio-base", Namespace: env.Namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: env.values(map[string]any{}), Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: uid}}
}

func crdApplies(counter *testenv.RequestCounter) int {
	n := 0
	for _, crd := range istioCRDs {
		n += counter.Of("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + crd)
	}
	return n
}

// istioCRDs are some of the base chart's CRDs.
var istioCRDs = []string{"virtualservices.networking.istio.io", "peerauthentications.security.istio.io",
	"sidecars.networking.istio.io", "destinationrules.networking.istio.io"}

// TestUnchangedCRDsAreNotAppliedAgain: a second ServiceMesh installing the base chart over the CRDs
// the first left behind, and an upgrade that changes no CRD, apply none of the 700 KB again; a CRD
// whose content someone changed is applied again.
func TestUnchangedCRDsAreNotAppliedAgain(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, counter, env := setUp(t)

	first := env.baseRelease(t, "uid-1")
	result, err := m.Ensure(ctx, first)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionInstalled))
	g.Expect(crdApplies(counter)).To(Equal(len(istioCRDs)), "the first install applies every CRD")

	g.Expect(m.Uninstall(ctx, env.Namespace, first.Name, first.Owner)).To(BeTrue(), "the uninstall removed the release")
	for _, name := range istioCRDs {
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: name}, &apiextensionsv1.CustomResourceDefinition{})).To(Succeed(), "the uninstall keeps the CRDs")
	}

	second := env.baseRelease(t, "uid-2")
	before := crdApplies(counter)
	result, err = m.Ensure(ctx, second)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionInstalled))
	g.Expect(crdApplies(counter)-before).To(BeZero(), "an install over unchanged CRDs applied them again")

	// Someone changes one CRD; a values change upgrades the release.
	edited := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: istioCRDs[0]}, edited)).To(Succeed())
	edited.Annotations[helm.AppliedDigestAnnotation] = "edited"
	g.Expect(env.Client.Update(ctx, edited)).To(Succeed())
	second.Values = env.values(map[string]any{"base": map[string]any{"enableIstioConfigCRDs": true}})
	before = crdApplies(counter)
	result, err = m.Ensure(ctx, second)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(crdApplies(counter)-before).To(Equal(1), "the upgrade applies only the CRD that changed")
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: istioCRDs[0]}, edited)).To(Succeed())
	g.Expect(edited.Annotations[helm.AppliedDigestAnnotation]).NotTo(Equal("edited"))

	// Helm's own storage driver reads the records: the upgrade deployed, the install superseded.
	history := baseHistory(g, env)
	for _, rel := range history {
		g.Expect(rel.Name).To(Equal("istio-base"))
		g.Expect(rel.Manifest).To(ContainSubstring("kind: CustomResourceDefinition"))
		g.Expect(rel.Chart.Metadata.Version).To(Equal(charts.BuiltinVersion))
	}
	g.Expect(statuses(history)).To(Equal(map[int]string{1: "superseded", 2: "deployed"}))
}

// baseHistory reads the istio-base release's records with Helm's own storage driver.
func baseHistory(g Gomega, env *cluster) []*releasev1.Release {
	releases := driver.NewSecrets(kubernetes.NewForConfigOrDie(env.Config).CoreV1().Secrets(env.Namespace))
	records, err := releases.Query(map[string]string{"name": "istio-base", "owner": "helm"})
	g.Expect(err).NotTo(HaveOccurred())
	history := make([]*releasev1.Release, 0, len(records))
	for _, r := range records {
		rel, ok := r.(*releasev1.Release)
		g.Expect(ok).To(BeTrue())
		history = append(history, rel)
	}
	return history
}

// statuses maps each revision of history to its status.
func statuses(history []*releasev1.Release) map[int]string {
	out := map[int]string{}
	for _, rel := range history {
		out[rel.Version] = rel.Info.Status.String()
	}
	return out
}

// TestAnotherInstallationsObjectsAreNotTakenOver: an install fails, naming the object, when one of its
// objects exists without meshkeeper's label, and writes nothing to that object.
func TestAnotherInstallationsObjectsAreNotTakenOver(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, _, env := setUp(t)

	chart, err := charts.Builtin(charts.Istiod)
	g.Expect(err).NotTo(HaveOccurred())
	foreign := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "istiod", Namespace: env.Namespace,
		Labels: map[string]string{"app": "istiod", "installed-by": "someone-else"}}}
	g.Expect(env.Client.Create(ctx, foreign)).To(Succeed())

	_, err = m.Ensure(ctx, helm.Release{Name: "istiod", Namespace: env.Namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: env.values(map[string]any{}), Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}})
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("ServiceAccount " + env.Namespace + "/istiod exists and was not installed by meshkeeper"))

	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(foreign), foreign)).To(Succeed())
	g.Expect(foreign.OwnerReferences).To(BeEmpty())
	g.Expect(foreign.Labels).To(Equal(map[string]string{"app": "istiod", "installed-by": "someone-else"}))
	for _, entry := range foreign.ManagedFields {
		g.Expect(entry.Manager).NotTo(Equal("meshkeeper"))
	}
	secrets := &corev1.SecretList{}
	g.Expect(env.Client.List(ctx, secrets, client.InNamespace(env.Namespace), client.MatchingLabels{"owner": "helm"})).To(Succeed())
	g.Expect(secrets.Items).To(BeEmpty(), "a refused install stores no release record")
}

// TestADeletedCRDIsRestoredWhole: the chart manager keeps only a stub of each CRD between drift checks;
// a CRD someone deleted is applied again whole, from a fresh render, and nothing else is touched.
func TestADeletedCRDIsRestoredWhole(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, counter, env := setUp(t)

	release := env.baseRelease(t, "uid-1")
	_, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	result, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionNone), "a release just installed has not drifted")

	crd := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: istioCRDs[0]}, crd)).To(Succeed())
	g.Expect(env.Client.Delete(ctx, crd)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKey{Name: istioCRDs[0]}, &apiextensionsv1.CustomResourceDefinition{}))
	}, "30s", "50ms").Should(BeTrue())

	before := crdApplies(counter)
	result, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionRepaired))
	g.Expect(result.Repaired).To(Equal([]string{"CustomResourceDefinition " + istioCRDs[0]}))
	g.Expect(crdApplies(counter)-before).To(Equal(1), "only the deleted CRD is applied")
	restored := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: istioCRDs[0]}, restored)).To(Succeed())
	g.Expect(restored.Spec.Versions).NotTo(BeEmpty())
	g.Expect(restored.Spec.Versions[0].Schema).NotTo(BeNil(), "the CRD was restored from a stub, without its schema")
	g.Expect(restored.Labels).To(HaveKeyWithValue("mesh.meshkeeper.io/managed-by", "meshkeeper"))
}

// TestAnUpgradeAppliesOnlyWhatChanged: with the chart kinds cached, as the manager runs it, an upgrade
// whose values change one object applies that object and none of the others, and a second Ensure of
// a release that failed part way applies only what the failed attempt had not.
func TestAnUpgradeAppliesOnlyWhatChanged(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, counter, env := setUp(t)
	m, c, fail := cachedManager(ctx, t, env, counter)
	serviceAccount := readerServiceAccount(env.Namespace)

	release := env.baseRelease(t, "uid-1")
	_, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(counter.Of(serviceAccount)).To(Equal(1))
	g.Expect(counter.Of(webhook)).To(Equal(1))
	// The cache shows what the install applied before the upgrade is asked for.
	g.Eventually(func() error {
		return c.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: "istio-reader-service-account"}, &corev1.ServiceAccount{})
	}, "10s", "20ms").Should(Succeed())
	g.Eventually(func() error {
		return c.Get(ctx, client.ObjectKey{Name: "istiod-default-validator"}, &admissionregistrationv1.ValidatingWebhookConfiguration{})
	}, "10s", "20ms").Should(Succeed())

	// The first upgrade renders the webhook configuration without the install's failurePolicy (istiod
	// sets it once it serves): both objects are applied.
	upgrade := func(values map[string]any) (helm.Result, error) {
		release.Values = env.values(values)
		return m.Ensure(ctx, release)
	}
	result, err := upgrade(map[string]any{"global": map[string]any{"imagePullSecrets": []any{"registry-one"}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(counter.Of(serviceAccount)).To(Equal(2))
	g.Expect(counter.Of(webhook)).To(Equal(2))
	pullSecretIs := func(name string) func(client.Object) bool {
		return func(o client.Object) bool {
			secrets := o.(*corev1.ServiceAccount).ImagePullSecrets
			return len(secrets) == 1 && secrets[0].Name == name
		}
	}
	waitCached(ctx, g, c, env.Namespace, "istio-reader-service-account", &corev1.ServiceAccount{}, pullSecretIs("registry-one"))

	// The image pull secrets are the ServiceAccount's only.
	result, err = upgrade(map[string]any{"global": map[string]any{"imagePullSecrets": []any{"registry-two"}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(counter.Of(serviceAccount)).To(Equal(3), "the changed ServiceAccount is applied")
	g.Expect(counter.Of(webhook)).To(Equal(2), "the unchanged webhook configuration is applied again")
	waitCached(ctx, g, c, env.Namespace, "istio-reader-service-account", &corev1.ServiceAccount{}, pullSecretIs("registry-two"))

	// The next upgrade's webhook apply is refused; the ServiceAccount's goes through. The retry applies
	// the webhook configuration only.
	values := map[string]any{"global": map[string]any{"imagePullSecrets": []any{"registry-three"}},
		"base": map[string]any{"validationFailurePolicy": "Ignore"}}
	fail.Store(webhook)
	_, err = upgrade(values)
	g.Expect(err).To(MatchError(ContainSubstring("forbidden")))
	g.Expect(counter.Of(serviceAccount)).To(Equal(4))
	g.Expect(counter.Of(webhook)).To(Equal(3), "the refused apply")
	waitCached(ctx, g, c, env.Namespace, "istio-reader-service-account", &corev1.ServiceAccount{}, pullSecretIs("registry-three"))
	result, err = upgrade(values)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(counter.Of(serviceAccount)).To(Equal(4), "the retry applied the ServiceAccount again, unchanged since the failed attempt")
	g.Expect(counter.Of(webhook)).To(Equal(4), "the retry applies the webhook configuration")
	validator := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "istiod-default-validator"}, validator)).To(Succeed())
	g.Expect(validator.Webhooks).NotTo(BeEmpty())
	g.Expect(validator.Webhooks[0].FailurePolicy).To(HaveValue(Equal(admissionregistrationv1.Ignore)))
}

// webhook is the path of the base chart's webhook configuration.
const webhook = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/istiod-default-validator"

// readerServiceAccount is the path of the base chart's ServiceAccount, installed into namespace.
func readerServiceAccount(namespace string) string {
	return "/api/v1/namespaces/" + namespace + "/serviceaccounts/istio-reader-service-account"
}

// cachedManager returns a chart manager as the manager builds it, with the chart kinds cached, whose
// requests go through counter; fail holds a path whose next PATCH is refused (403), or "".
func cachedManager(ctx context.Context, t *testing.T, env *cluster, counter *testenv.RequestCounter) (*helm.ChartManager, client.Client, *atomic.Value) {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	fail := &atomic.Value{}
	fail.Store("")
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return counter.Wrap(testenv.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodPatch && req.URL.Path == fail.Load().(string) {
				fail.Store("")
				return forbidden(req), nil
			}
			return next.RoundTrip(req)
		}))
	})
	options := controllers.CacheOptions(nil)
	options.Scheme = env.Scheme
	informers, err := cache.New(cfg, options)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = informers.Start(ctx) }()
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme, Cache: &client.CacheOptions{Reader: informers}})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	m, err := controllers.NewChartManager(cfg, c, reader)
	if err != nil {
		t.Fatal(err)
	}
	return m, c, fail
}

// waitCached waits until the cache shows the object as done says.
func waitCached(ctx context.Context, g *WithT, c client.Client, namespace, name string, obj client.Object, done func(client.Object) bool) {
	g.Eventually(func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj) == nil && done(obj)
	}, "10s", "20ms").Should(BeTrue())
}

// forbidden is the API server's answer to a request meshkeeper has no right to make.
func forbidden(req *http.Request) *http.Response {
	body := `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected: forbidden","reason":"Forbidden","code":403}`
	return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Request: req,
		Header: http.Header{"Content-Type": []string{"application/json"}}, Body: io.NopCloser(strings.NewReader(body))}
}

// TestAFailedFirstInstallIsResumed: a first install that failed part way is recovered as `helm upgrade
// --install` recovers it: the objects it applied stay (same UID) and are not applied again, the rest
// is applied as an install renders it (the validating webhook fails open until istiod serves), and
// the failed revision is superseded.
func TestAFailedFirstInstallIsResumed(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, counter, env := setUp(t)
	m, c, fail := cachedManager(ctx, t, env, counter)
	serviceAccount := readerServiceAccount(env.Namespace)

	release := env.baseRelease(t, "uid-1")
	fail.Store(webhook)
	_, err := m.Ensure(ctx, release)
	g.Expect(err).To(MatchError(ContainSubstring("forbidden")))
	applied := &corev1.ServiceAccount{}
	waitCached(ctx, g, c, env.Namespace, "istio-reader-service-account", applied, func(client.Object) bool { return true })

	result, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.State).To(Equal(helm.StateFailedInstall))
	g.Expect(result.Action).To(Equal(helm.ActionRecovered))
	g.Expect(result.Revision).To(Equal(2))
	kept := &corev1.ServiceAccount{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(applied), kept)).To(Succeed())
	g.Expect(kept.UID).To(Equal(applied.UID), "the recovery deleted and created again an object the failed install had applied")
	g.Expect(counter.Of(serviceAccount)).To(Equal(1), "the recovery applied the unchanged ServiceAccount again")
	g.Expect(counter.Of(webhook)).To(Equal(2))
	validator := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "istiod-default-validator"}, validator)).To(Succeed())
	g.Expect(validator.Webhooks).NotTo(BeEmpty())
	g.Expect(validator.Webhooks[0].FailurePolicy).To(HaveValue(Equal(admissionregistrationv1.Ignore)),
		"a release never deployed is rendered as an install: the webhook fails open until istiod serves")

	g.Expect(statuses(baseHistory(g, env))).To(Equal(map[int]string{1: "superseded", 2: "deployed"}))

	result, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.State).To(Equal(helm.StateInSync))
	g.Expect(result.Action).To(Equal(helm.ActionNone))
}

// forgeRecord writes, as anyone who may write Secrets in the namespace could, a record of revision
// version of the base release that no Helm can read.
func forgeRecord(ctx context.Context, g *WithT, env *cluster, version int, status, digest string) {
	g.Expect(env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace, Name: "sh.helm.release.v1.istio-base.v" + strconv.Itoa(version),
			Labels: map[string]string{"owner": "helm", "name": "istio-base", "version": strconv.Itoa(version),
				"status": status, helm.DigestLabel: digest}},
		Type: "helm.sh/release.v1",
		Data: map[string][]byte{"release": []byte("not a release")},
	})).To(Succeed())
}

// TestAnUnreadableRecordBlocksNothing: a release record nobody can read (corrupted, or forged by someone
// who may write Secrets in the namespace) does not block an upgrade, the recovery of a pending
// revision, or the uninstall; the objects and records go as they would without it. An uninstall
// deletes no record of another installation's release of the same name, and a Secret labelled as a
// record whose revision is no number stops nothing.
func TestAnUnreadableRecordBlocksNothing(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, _, env := setUp(t)

	release := env.baseRelease(t, "uid-1")
	_, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())

	// A newer "deployed" revision with another digest: the release is out of sync and upgraded.
	forgeRecord(ctx, g, env, 2, "deployed", "forged")
	result, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(result.Revision).To(Equal(3))

	// A newer pending revision: it cannot be marked failed, so it is deleted and the release upgraded.
	forgeRecord(ctx, g, env, 4, "pending-upgrade", "forged")
	result, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.State).To(Equal(helm.StateLocked))
	g.Expect(result.Action).To(Equal(helm.ActionRecovered))
	g.Expect(result.Revision).To(Equal(4), "the unreadable revision 4 is replaced")
	releases := driver.NewSecrets(kubernetes.NewForConfigOrDie(env.Config).CoreV1().Secrets(env.Namespace))
	replaced, err := releases.Get("sh.helm.release.v1.istio-base.v4")
	g.Expect(err).NotTo(HaveOccurred(), "Helm reads the revision that replaced the unreadable one")
	g.Expect(replaced.(*releasev1.Release).Info.Status.String()).To(Equal("deployed"))

	// The newest record unreadable again: the uninstall reads the one before, deletes its objects and
	// every record.
	forgeRecord(ctx, g, env, 9, "deployed", "forged")
	g.Expect(m.Uninstall(ctx, env.Namespace, release.Name, release.Owner)).To(BeTrue(), "the uninstall removed the release")
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: "istio-reader-service-account"}, &corev1.ServiceAccount{})).
		To(Satisfy(apierrors.IsNotFound))
	secrets := &corev1.SecretList{}
	g.Expect(env.Client.List(ctx, secrets, client.InNamespace(env.Namespace), client.MatchingLabels{"owner": "helm"})).To(Succeed())
	g.Expect(secrets.Items).To(BeEmpty())

	// Another installation's release of the same name (say, an Istio installed with helm, over which
	// meshkeeper's install failed): its records carry no digest of meshkeeper's, and an uninstall, as
	// when the ServiceMesh is deleted, leaves them, or helm would no longer know that release.
	g.Expect(env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace, Name: "sh.helm.release.v1.istio-base.v1",
			Labels: map[string]string{"owner": "helm", "name": "istio-base", "version": "1", "status": "deployed"}},
		Type: "helm.sh/release.v1",
		Data: map[string][]byte{"release": []byte("another installation's record")},
	})).To(Succeed())
	// And a Secret labelled as a record of the release whose revision is no number: it stops nothing.
	g.Expect(env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace, Name: "not-a-record",
			Labels: map[string]string{"owner": "helm", "name": "istio-base", "version": "latest", "status": "deployed",
				helm.DigestLabel: "forged"}},
	})).To(Succeed())
	g.Expect(m.Uninstall(ctx, env.Namespace, release.Name, release.Owner)).To(BeFalse(), "no record of meshkeeper's was left to remove")
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: "sh.helm.release.v1.istio-base.v1"}, &corev1.Secret{})).
		To(Succeed(), "another installation's release record is not meshkeeper's to delete")
}

// TestARecoveredInstallTakesNothingOver: the recovery of a failed first install checks, as an install
// does, that no object it would apply belongs to another installation: an object the failed install
// never reached, created meanwhile without meshkeeper's label, makes the recovery fail and is left as
// it is.
func TestARecoveredInstallTakesNothingOver(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, counter, env := setUp(t)
	m, _, fail := cachedManager(ctx, t, env, counter)
	serviceAccount := readerServiceAccount(env.Namespace)

	release := env.baseRelease(t, "uid-1")
	fail.Store(serviceAccount) // the install fails before it reaches the webhook configuration
	_, err := m.Ensure(ctx, release)
	g.Expect(err).To(MatchError(ContainSubstring("forbidden")))
	g.Expect(counter.Of(webhook)).To(BeZero())

	foreign := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{
		Name: "istiod-default-validator", Labels: map[string]string{"installed-by": "someone-else"}}}
	g.Expect(env.Client.Create(ctx, foreign)).To(Succeed())
	_, err = m.Ensure(ctx, release)
	g.Expect(err).To(MatchError(ContainSubstring("ValidatingWebhookConfiguration istiod-default-validator exists and was not installed by meshkeeper")))
	g.Expect(counter.Of(webhook)).To(BeZero(), "the recovery wrote to another installation's webhook configuration")
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(foreign), foreign)).To(Succeed())
	g.Expect(foreign.Labels).To(Equal(map[string]string{"installed-by": "someone-else"}))
	g.Expect(foreign.OwnerReferences).To(BeEmpty())
}

// TestAnUpgradeTakesNothingOver: an upgrade of a deployed release checks, as an install does, the
// objects it adds: a CRD the new values render, which someone else created meanwhile without
// meshkeeper's label, makes the upgrade fail and is left as it is.
func TestAnUpgradeTakesNothingOver(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, counter, env := setUp(t)

	const added = "wasmplugins.extensions.istio.io"
	release := env.baseRelease(t, "uid-1")
	release.Values = env.values(map[string]any{"base": map[string]any{"excludedCRDs": []any{added}}})
	_, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	err = env.Client.Get(ctx, client.ObjectKey{Name: added}, &apiextensionsv1.CustomResourceDefinition{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the excluded CRD was installed: %v", err)

	foreign := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: added, Labels: map[string]string{"installed-by": "someone-else"}},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "extensions.istio.io", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "wasmplugins", Singular: "wasmplugin", Kind: "WasmPlugin", ListKind: "WasmPluginList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1alpha1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true)}}}},
		},
	}
	g.Expect(env.Client.Create(ctx, foreign)).To(Succeed())

	release.Values = env.values(map[string]any{})
	_, err = m.Ensure(ctx, release)
	g.Expect(err).To(MatchError(ContainSubstring("CustomResourceDefinition " + added + " exists and was not installed by meshkeeper")))
	g.Expect(counter.Of("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+added)).To(BeZero(),
		"the upgrade wrote to another installation's CRD")
	live := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: added}, live)).To(Succeed())
	g.Expect(live.Labels).To(Equal(map[string]string{"installed-by": "someone-else"}))
	g.Expect(live.Spec.Versions).To(HaveLen(1))
	// The release stays at the revision deployed before: the upgrade failed before its record.
	g.Expect(statuses(baseHistory(g, env))).To(Equal(map[int]string{1: "deployed"}))
}

// TestAnUpgradeNeverLeavesTwoRevisionsDeployed: as Helm does, an upgrade marks the revision it replaces
// superseded before it marks its own deployed, so no reader of the records (Helm, Argo CD, meshkeeper
// after a restart) ever sees two deployed revisions. A manager that stops between the two writes leaves
// the new revision pending, and the next one recovers the release to exactly one deployed revision.
func TestAnUpgradeNeverLeavesTwoRevisionsDeployed(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	env := newCluster(t)

	deployed := func() []string {
		secrets := &corev1.SecretList{}
		g.Expect(env.Client.List(ctx, secrets, client.InNamespace(env.Namespace),
			client.MatchingLabels{"owner": "helm", "name": "istio-base", "status": "deployed"})).To(Succeed())
		var names []string
		for _, s := range secrets.Items {
			names = append(names, s.Name)
		}
		return names
	}
	// Every write of a record is followed by a read of the records: at no point may two be deployed.
	var seen []string
	refuse := &atomic.Value{}
	refuse.Store("")
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return testenv.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			record := strings.Contains(req.URL.Path, "/secrets")
			if record && req.Method == http.MethodPut && req.URL.Path == refuse.Load().(string) {
				refuse.Store("")
				return forbidden(req), nil
			}
			resp, err := next.RoundTrip(req)
			if record && (req.Method == http.MethodPut || req.Method == http.MethodPost) {
				if now := deployed(); len(now) > 1 {
					seen = append(seen, strings.Join(now, ","))
				}
			}
			return resp, err
		})
	})
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	g.Expect(err).NotTo(HaveOccurred())
	m := helm.NewChartManager(cfg, c, c)

	release := env.baseRelease(t, "uid-1")
	_, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	release.Values = env.values(map[string]any{"base": map[string]any{"enableIstioConfigCRDs": true}})
	result, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(statuses(baseHistory(g, env))).To(Equal(map[int]string{1: "superseded", 2: "deployed"}))
	g.Expect(seen).To(BeEmpty(), "two revisions were deployed at once")

	// The next upgrade stops between its two writes: revision 3 is never marked deployed.
	refuse.Store("/api/v1/namespaces/" + env.Namespace + "/secrets/sh.helm.release.v1.istio-base.v3")
	release.Values = env.values(map[string]any{})
	_, err = m.Ensure(ctx, release)
	g.Expect(err).To(MatchError(ContainSubstring("forbidden")))
	g.Expect(statuses(baseHistory(g, env))).To(Equal(map[int]string{1: "superseded", 2: "superseded", 3: "pending-upgrade"}))

	restarted := helm.NewChartManager(cfg, c, c)
	result, err = restarted.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionRecovered))
	history := statuses(baseHistory(g, env))
	g.Expect(deployed()).To(Equal([]string{"sh.helm.release.v1.istio-base.v" + strconv.Itoa(result.Revision)}), "history: %v", history)
	g.Expect(seen).To(BeEmpty(), "two revisions were deployed at once")
	result, err = restarted.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.State).To(Equal(helm.StateInSync))
}

// TestTheFirstKindsCRDsAreAppliedFirst: the CRDs of a release's FirstKinds are applied on their own,
// before any other CRD of the chart, so that the API server names and establishes them first (it does
// so one CRD after the other, in the order they were created).
func TestTheFirstKindsCRDsAreAppliedFirst(t *testing.T) {
	g := NewWithT(t)
	// Each CRD apply's start and end, on one clock of events.
	var (
		clock      atomic.Int64
		mu         sync.Mutex
		start, end = map[string]int64{}, map[string]int64{}
	)
	const crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
	m, env := setUpWrapped(t, func(next http.RoundTripper) http.RoundTripper {
		return testenv.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			name, isCRD := strings.CutPrefix(req.URL.Path, crdPath)
			if !isCRD || req.Method != http.MethodPatch {
				return next.RoundTrip(req)
			}
			mu.Lock()
			start[name] = clock.Add(1)
			mu.Unlock()
			resp, err := next.RoundTrip(req)
			mu.Lock()
			end[name] = clock.Add(1)
			mu.Unlock()
			return resp, err
		})
	})

	release := env.baseRelease(t, "uid-1")
	release.FirstKinds = []schema.GroupKind{{Group: "security.istio.io", Kind: "PeerAuthentication"},
		{Group: "networking.istio.io", Kind: "Sidecar"}}
	_, err := m.Ensure(context.Background(), release)
	g.Expect(err).NotTo(HaveOccurred())

	first := []string{"peerauthentications.security.istio.io", "sidecars.networking.istio.io"}
	mu.Lock()
	defer mu.Unlock()
	g.Expect(start).To(HaveLen(15), "the base chart's CRDs applied")
	for _, name := range first {
		g.Expect(end).To(HaveKey(name))
		for other, began := range start {
			if !slices.Contains(first, other) {
				g.Expect(began).To(BeNumerically(">", end[name]), "%s was applied before %s was", other, name)
			}
		}
	}
}

// TestAppliedIsToldBeforeTheRecordIsDeployed: a release's Applied hears of an install and of an
// upgrade once their objects are applied, while their records are still pending.
func TestAppliedIsToldBeforeTheRecordIsDeployed(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, _, env := setUp(t)

	release := env.baseRelease(t, "uid-1")
	var told []map[int]string
	release.Applied = func() {
		for _, name := range istioCRDs {
			g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: name}, &apiextensionsv1.CustomResourceDefinition{})).To(Succeed())
		}
		told = append(told, statuses(baseHistory(g, env)))
	}
	_, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	release.Values = env.values(map[string]any{"base": map[string]any{"enableIstioConfigCRDs": true}})
	_, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(told).To(Equal([]map[int]string{
		{1: "pending-install"},
		{1: "deployed", 2: "pending-upgrade"},
	}))
	g.Expect(statuses(baseHistory(g, env))).To(Equal(map[int]string{1: "superseded", 2: "deployed"}))

	// In sync: nothing is installed, and Applied is not told.
	_, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(told).To(HaveLen(2))
}
