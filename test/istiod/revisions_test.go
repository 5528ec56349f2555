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
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
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
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/test/istiod"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestRevisionInjection runs a canary upgrade on its own API server and manager, with the real istiod of
// each revision: 1.31.0 is active, 1.31.1 serves the canary namespace. An AdmissionReview goes to the
// istiod of the one injector webhook the API server would call for each namespace: the canary
// namespace's pod is injected by 1-31-1, the other enrolled namespace's by the tag's revision, 1-31-0:
// the proxy image of that version, the revision in sidecar.istio.io/status, and that revision's istiod
// as the proxy's discovery address.
func TestRevisionInjection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dir := t.TempDir()
	env := testenv.Start(t)
	c := env.Client
	kubeconfig, err := env.WriteKubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The package's shared manager serves the package's own API server; this one runs meshkeeper's
	// binary as a process of its own.
	startManagerProcess(ctx, t, dir, kubeconfig)
	const ns = "rev-system"
	for _, name := range []string{"canary", "stable"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	mesh := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`
apiVersion: mesh.meshkeeper.io/v1alpha1
kind: ServiceMesh
metadata: {name: default}
spec:
  namespace: `+ns+`
  version: 1.31.0
  updateStrategy: {type: RevisionBased}
  injection: {namespaces: [canary, stable]}
`), &mesh.Object); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, mesh); err != nil {
		t.Fatal(err)
	}
	markAvailable(ctx, t, c, ns, "istiod-1-31-0")
	if err := c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"version":"1.31.1","updateStrategy":{"canary":{"namespaces":["canary"]}}}}`))); err != nil {
		t.Fatal(err)
	}
	markAvailable(ctx, t, c, ns, "istiod-1-31-1")
	if err := waitFor(ctx, 2*time.Minute, func() error {
		n := &corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: "canary"}, n); err != nil {
			return err
		}
		if n.Labels["istio.io/rev"] != "1-31-1" {
			return fmt.Errorf("namespace canary has labels %v", n.Labels)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	pilots := map[string]*istiod.Istiod{}
	for _, rev := range []string{"1-31-0", "1-31-1"} {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istiod-" + rev}, d); err != nil {
			t.Fatal(err)
		}
		env, args, err := istiod.DeploymentSettings(d)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(env, "REVISION="+rev) {
			t.Fatalf("istiod-%s has environment %v, want REVISION=%s", rev, env, rev)
		}
		if err := os.MkdirAll(filepath.Join(dir, rev), 0o755); err != nil {
			t.Fatal(err)
		}
		pilot, err := istiod.Start(ctx, istiod.Options{Kubeconfig: kubeconfig, Namespace: ns, Env: env, Args: args,
			Dir: filepath.Join(dir, rev)})
		if err != nil {
			t.Fatalf("starting the istiod of %s: %v", rev, err)
		}
		t.Cleanup(func() { _ = pilot.Stop() })
		pilots["istiod-"+rev] = pilot
	}

	for namespace, want := range map[string]string{"canary": "1-31-1", "stable": "1-31-0"} {
		t.Run(namespace, func(t *testing.T) {
			service := injectorService(ctx, t, c, namespace)
			pilot := pilots[service]
			if pilot == nil {
				t.Fatalf("the injector of namespace %s is Service %s, which no revision runs", namespace, service)
			}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: namespace, Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example/web:1"}}},
			}
			injection, err := istiod.Inject(ctx, pilot.InjectURL(), namespace, pod)
			if err != nil {
				t.Fatal(err)
			}
			if !injection.Injected() {
				t.Fatalf("istiod %s did not inject the pod: %+v", service, injection.Response)
			}
			got := injection.Pod
			proxy := find(got.Spec.InitContainers, "istio-proxy")
			if proxy == nil {
				proxy = find(got.Spec.Containers, "istio-proxy")
			}
			version := map[string]string{"1-31-0": "1.31.0", "1-31-1": "1.31.1"}[want]
			if proxy == nil || proxy.Image != "docker.io/istio/proxyv2:"+version {
				t.Errorf("the pod in %s got proxy %+v, want image docker.io/istio/proxyv2:%s", namespace, proxy, version)
			}
			// The proxy talks to its own revision's istiod.
			if proxy != nil {
				config := ""
				for _, e := range proxy.Env {
					if e.Name == "PROXY_CONFIG" {
						config = e.Value
					}
				}
				if wantAddr := "istiod-" + want + "." + ns + ".svc:15012"; !strings.Contains(config, wantAddr) {
					t.Errorf("the proxy of the pod in %s has PROXY_CONFIG %s, want discovery address %s", namespace, config, wantAddr)
				}
			}
			var status struct {
				Revision string `json:"revision"`
			}
			if err := json.Unmarshal([]byte(got.Annotations["sidecar.istio.io/status"]), &status); err != nil || status.Revision != want {
				t.Errorf("the pod in %s has sidecar.istio.io/status %q, want revision %s", namespace, got.Annotations["sidecar.istio.io/status"], want)
			}
		})
	}
}

// startManagerProcess builds meshkeeper's binary and runs it against the API server of kubeconfig until
// the test ends.
func startManagerProcess(ctx context.Context, t *testing.T, dir, kubeconfig string) {
	t.Helper()
	binary, err := testenv.BuildImageBinary(dir)
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "manager.log"))
	if err != nil {
		t.Fatal(err)
	}
	// The binary allows a control plane only in istio-system unless told otherwise; this test's mesh
	// lives in rev-system.
	cmd := exec.CommandContext(ctx, binary, "--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--control-plane-namespaces=rev-system")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logFile.Close()
		if t.Failed() {
			if log, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("the end of the manager's log:\n%s", tail(string(log), 4000))
			}
		}
	})
}

// markAvailable waits for a Deployment and writes the status the Deployment controller would.
func markAvailable(ctx context.Context, t *testing.T, c client.Client, namespace, name string) {
	t.Helper()
	if err := waitFor(ctx, 3*time.Minute, func() error {
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
			return err
		}
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas,
			UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas}
		return c.Status().Update(ctx, d)
	}); err != nil {
		t.Fatalf("marking Deployment %s/%s available: %v", namespace, name, err)
	}
}

// injectorService is the Service of the one injector webhook the API server would call for a new pod
// (labelled app=web) in namespace: it matches the webhooks' namespace and object selectors as the API
// server does. More than one is a double injection, none an uninjected pod.
func injectorService(ctx context.Context, t *testing.T, c client.Client, namespace string) string {
	t.Helper()
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		t.Fatal(err)
	}
	list := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	if err := c.List(ctx, list); err != nil {
		t.Fatal(err)
	}
	var matched []string
	for _, config := range list.Items {
		for _, w := range config.Webhooks {
			nsSelector, err := metav1.LabelSelectorAsSelector(w.NamespaceSelector)
			if err != nil {
				t.Fatal(err)
			}
			objSelector, err := metav1.LabelSelectorAsSelector(w.ObjectSelector)
			if err != nil {
				t.Fatal(err)
			}
			if nsSelector.Matches(labels.Set(ns.Labels)) && objSelector.Matches(labels.Set{"app": "web"}) && w.ClientConfig.Service != nil {
				matched = append(matched, config.Name+"/"+w.Name+" -> "+w.ClientConfig.Service.Name)
			}
		}
	}
	if len(matched) != 1 {
		t.Fatalf("namespace %s (labels %v) matches %d injector webhooks, want 1: %v", namespace, ns.Labels, len(matched), matched)
	}
	return serviceOf(matched[0])
}

// serviceOf reads the Service name from an "<configuration>/<webhook> -> <service>" entry.
func serviceOf(entry string) string {
	for i := len(entry) - 1; i >= 0; i-- {
		if entry[i] == ' ' {
			return entry[i+1:]
		}
	}
	return entry
}
