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

package policy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The package's tests that need an API server share one kube-apiserver and etcd, started by the first
// test that asks for it and stopped by TestMain once every test has run. Its PodSecurity admission
// plugin is on, as in every kube-apiserver.
var apiServer struct {
	once   sync.Once
	env    *envtest.Environment
	client client.Client
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if apiServer.env != nil {
		if err := apiServer.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the API server: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// onAPIServer returns a client of the package's API server, started from the cluster binaries in
// KUBEBUILDER_ASSETS, or in the checkout's bin/ when that is unset.
func onAPIServer(t *testing.T) client.Client {
	t.Helper()
	apiServer.once.Do(func() {
		assets := os.Getenv("KUBEBUILDER_ASSETS")
		if assets == "" {
			assets = filepath.Join("..", "..", "bin")
		}
		scheme := runtime.NewScheme()
		if apiServer.err = clientgoscheme.AddToScheme(scheme); apiServer.err != nil {
			return
		}
		env := &envtest.Environment{BinaryAssetsDirectory: assets, ControlPlaneStartTimeout: time.Minute}
		env.ControlPlane.Etcd = &envtest.Etcd{}
		env.ControlPlane.Etcd.Configure().Set("unsafe-no-fsync", "true")
		config, err := env.Start()
		if err != nil {
			_ = env.Stop()
			apiServer.err = fmt.Errorf("starting the API server: %w", err)
			return
		}
		apiServer.env = env
		apiServer.client, apiServer.err = client.New(config, client.Options{Scheme: scheme})
	})
	if apiServer.err != nil {
		t.Fatal(apiServer.err)
	}
	return apiServer.client
}

// injectedContainer is a container of the shape Istio's injection template renders for the sidecar
// (istio-proxy) and its init container (istio-validation with the CNI agent, istio-init without): it
// drops every capability and adds add, runs as root when root, is privileged when privileged, and has
// the seccomp profile seccomp (none when empty).
func injectedContainer(name string, add []corev1.Capability, root, privileged bool, seccomp corev1.SeccompProfileType) corev1.Container {
	sc := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(privileged),
		Privileged:               ptr.To(privileged),
		Capabilities:             &corev1.Capabilities{Add: add, Drop: []corev1.Capability{"ALL"}},
		RunAsNonRoot:             ptr.To(!root),
		RunAsUser:                ptr.To[int64](1337),
		RunAsGroup:               ptr.To[int64](1337),
	}
	if root {
		sc.RunAsUser = ptr.To[int64](0)
	}
	if seccomp != "" {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: seccomp}
	}
	return corev1.Container{Name: name, Image: "registry.example/proxyv2:1", SecurityContext: sc}
}

// injectedPod is a pod whose own container meets the level restricted, with the containers injection
// adds under the spec.values of values, with the CNI agent unless cniOff, as Istio's injection template
// renders them.
func injectedPod(cniOff bool, values string) *corev1.Pod {
	seccomp := corev1.SeccompProfileType("")
	if !cniOff {
		seccomp = corev1.SeccompProfileTypeRuntimeDefault // what meshkeeper sets with the agent
	}
	if strings.Contains(values, "Unconfined") {
		seccomp = corev1.SeccompProfileTypeUnconfined
	}
	root := strings.Contains(values, "capNetBindService")
	var proxyAdd []corev1.Capability
	if root {
		proxyAdd = []corev1.Capability{"NET_BIND_SERVICE"}
	}
	init := injectedContainer("istio-validation", nil, false, false, seccomp)
	if cniOff {
		init = injectedContainer("istio-init", []corev1.Capability{"NET_ADMIN", "NET_RAW"}, true, false, seccomp)
	}
	app := corev1.Container{Name: "web", Image: "registry.example/web:1", SecurityContext: &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		RunAsNonRoot:             ptr.To(true),
		RunAsUser:                ptr.To[int64](1000),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{init},
			Containers:     []corev1.Container{app, injectedContainer("istio-proxy", proxyAdd, root, false, seccomp)},
		},
	}
}

// TestPodSecurityJudgementMatchesTheAPIServer creates, for every way a namespace's labels can set the
// level the API server enforces, a namespace so labelled and the pod injection would produce there
// (server-side dry run, so that no ServiceAccount is needed and nothing stays), and compares the API
// server's verdict with meshkeeper's.
func TestPodSecurityJudgementMatchesTheAPIServer(t *testing.T) {
	c := onAPIServer(t)
	ctx := context.Background()
	// A level or version the API server does not know cannot be set here: the PodSecurity admission
	// refuses such a label on a namespace. A namespace may still carry one from before the admission was
	// on; the API server enforces it as restricted (at latest), and the package's other tests judge those.
	labelSets := map[string]map[string]string{
		"no label":             {},
		"privileged":           {LabelPodSecurityEnforce: "privileged"},
		"baseline":             {LabelPodSecurityEnforce: "baseline"},
		"restricted":           {LabelPodSecurityEnforce: "restricted"},
		"restricted at v1.24":  {LabelPodSecurityEnforce: "restricted", LabelPodSecurityEnforceVersion: "v1.24"},
		"restricted at latest": {LabelPodSecurityEnforce: "restricted", LabelPodSecurityEnforceVersion: "latest"},
		"restricted at v1.99":  {LabelPodSecurityEnforce: "restricted", LabelPodSecurityEnforceVersion: "v1.99"},
		"restricted at v1.19":  {LabelPodSecurityEnforce: "restricted", LabelPodSecurityEnforceVersion: "v1.19"},
		"restricted at v1.18":  {LabelPodSecurityEnforce: "restricted", LabelPodSecurityEnforceVersion: "v1.18"},
		"restricted at v1.0":   {LabelPodSecurityEnforce: "restricted", LabelPodSecurityEnforceVersion: "v1.0"},
		"baseline at v1.18":    {LabelPodSecurityEnforce: "baseline", LabelPodSecurityEnforceVersion: "v1.18"},
		"baseline at v1.19":    {LabelPodSecurityEnforce: "baseline", LabelPodSecurityEnforceVersion: "v1.19"},
		"privileged at v1.18":  {LabelPodSecurityEnforce: "privileged", LabelPodSecurityEnforceVersion: "v1.18"},
		"a version alone":      {LabelPodSecurityEnforceVersion: "v1.18"},
		"warn and audit only":  {"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted"},
	}
	specs := map[string]struct {
		cniOff bool
		values string
	}{
		"CNI":                                {},
		"no CNI":                             {cniOff: true},
		"CNI, Unconfined":                    {values: `{"global": {"proxy": {"seccompProfile": {"type": "Unconfined"}}}}`},
		"CNI, capNetBindService":             {values: `{"global": {"proxy": {"capNetBindService": true}}}`},
		"no CNI, Unconfined":                 {cniOff: true, values: `{"global": {"proxy": {"seccompProfile": {"type": "Unconfined"}}}}`},
		"CNI, Unconfined, capNetBindService": {values: `{"global": {"proxy": {"capNetBindService": true, "seccompProfile": {"type": "Unconfined"}}}}`},
	}
	i := 0
	for labelsName, labels := range labelSets {
		i++
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("psa-%d", i), Labels: labels}}
		if err := c.Create(ctx, ns); err != nil {
			t.Fatalf("%s: %v", labelsName, err)
		}
		for specName, s := range specs {
			t.Run(labelsName+"/"+specName, func(t *testing.T) {
				pod := injectedPod(s.cniOff, s.values)
				pod.Namespace = ns.Name
				err := c.Create(ctx, pod, client.DryRunAll)
				admitted := err == nil
				if err != nil && !strings.Contains(err.Error(), "violates PodSecurity") {
					t.Fatal(err)
				}
				_, rejected, rejects := PrivilegeOf(meshSpecWith(t, s.cniOff, s.values)).RejectedBy(labels)
				switch {
				case rejects && !admitted:
					// What meshkeeper names is what the API server refuses.
					for what, refused := range map[string]string{"istio-init": "NET_ADMIN", "Unconfined": "seccompProfile", "runs as root": "runAsNonRoot"} {
						if strings.Contains(rejected.What, what) && !strings.Contains(err.Error(), refused) {
							t.Errorf("meshkeeper names %s, but the API server does not refuse %s: %v", rejected.What, refused, err)
						}
					}
				case !rejects && admitted:
				case admitted:
					t.Errorf("the API server admits the injected pod, but meshkeeper judges that the level rejects %s", rejected.What)
				default:
					t.Errorf("the API server rejects the injected pod (%v), but meshkeeper judges that the level admits it", err)
				}
			})
		}
	}
}
