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

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// upgradeVersion is the patch release the sample's mesh is upgraded to: the built-in charts serve
// every 1.31 patch release, with that release's images.
const upgradeVersion = "1.31.4"

// upgradeMovesCNIAfterTheControlPlane changes spec.version of the running mesh and checks the order
// Istio asks for, control plane first: istiod's release is upgraded, and only then does istio-cni's
// upgrade start, each in one Helm revision; the agent ends on the new version on every node, with
// CNIReady and Ready True. That the agent also waits for istiod's rollout is shown on envtest, where
// the test decides when istiod has rolled out.
func upgradeMovesCNIAfterTheControlPlane(ctx context.Context, t *testing.T, config *rest.Config, kubectl func(...string) string, nodes int) {
	t.Helper()
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	releases := driver.NewSecrets(clientset.CoreV1().Secrets("istio-system"))
	before := map[string]int{"istiod": newestRevision(ctx, t, clientset, "istiod"), "istio-cni": newestRevision(ctx, t, clientset, "istio-cni")}

	kubectl("patch", "servicemesh", "default", "--type", "merge", "-p", `{"spec":{"version":"`+upgradeVersion+`"}}`)
	start := time.Now()
	want := fmt.Sprintf("%s/True/True docker.io/istio/install-cni:%s %d/%d/%d/%d", upgradeVersion, upgradeVersion, nodes, nodes, nodes, nodes)
	for got := ""; got != want; {
		if time.Since(start) > 4*time.Minute {
			t.Fatalf("after the upgrade to %s: status.version/Ready/CNIReady, the agent's image and its desired/updated/ready/available nodes are %q, want %q\n%s",
				upgradeVersion, got, want, kubectl("get", "mesh", "default", "-o", "yaml"))
		}
		time.Sleep(time.Second)
		got = kubectl("get", "mesh", "default", "-o", `jsonpath={.status.version}/{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="CNIReady")].status}`) + " " +
			kubectl("get", "daemonset", "istio-cni-node", "-n", "istio-system", "-o",
				"jsonpath={.spec.template.spec.containers[0].image} {.status.desiredNumberScheduled}/{.status.updatedNumberScheduled}/{.status.numberReady}/{.status.numberAvailable}")
		if generations := kubectl("get", "mesh", "default", "-o", "jsonpath={.metadata.generation}/{.status.observedGeneration}"); !sameGeneration(generations) {
			got = "status of an earlier generation: " + generations
		}
	}
	t.Logf("Upgraded to %s, CNI agent included, %s after the change", upgradeVersion, time.Since(start).Round(100*time.Millisecond))
	if got := kubectl("get", "deployment", "istiod", "-n", "istio-system", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); got != "docker.io/istio/pilot:"+upgradeVersion {
		t.Errorf("istiod runs %s, want pilot:%s", got, upgradeVersion)
	}

	upgraded := map[string]*releasev1.Release{}
	for name, revision := range before {
		if got := newestRevision(ctx, t, clientset, name); got != revision+1 {
			t.Errorf("release %s went from revision %d to %d, want one upgrade", name, revision, got)
		}
		r, err := releases.Get(fmt.Sprintf("sh.helm.release.v1.%s.v%d", name, revision+1))
		if err != nil {
			t.Fatalf("reading the upgrade of release %s: %v", name, err)
		}
		upgraded[name] = r.(*releasev1.Release)
		if tag := upgraded[name].Config["global"].(map[string]any)["tag"]; tag != upgradeVersion || upgraded[name].Info.Status != "deployed" {
			t.Errorf("release %s revision %d: global.tag %v, status %s; want %s, deployed", name, revision+1, tag, upgraded[name].Info.Status, upgradeVersion)
		}
	}
	// meshkeeper records istiod's upgrade once Helm has finished it; the CNI release's upgrade must
	// start after that.
	istiodDone := upgradeEventTime(ctx, t, clientset, "Upgraded/istiod")
	cniStarted := upgraded["istio-cni"].Info.LastDeployed
	if !cniStarted.After(istiodDone) {
		t.Errorf("istio-cni's upgrade started at %s, before istiod's had finished (%s)",
			cniStarted.Format(time.RFC3339Nano), istiodDone.Format(time.RFC3339Nano))
	}
	if istiodStarted := upgraded["istiod"].Info.LastDeployed; !istiodStarted.Before(cniStarted) {
		t.Errorf("istiod's upgrade started at %s, not before istio-cni's (%s)",
			istiodStarted.Format(time.RFC3339Nano), cniStarted.Format(time.RFC3339Nano))
	}
}

// newestRevision is the newest revision of a release in istio-system, read from its Secrets' labels.
func newestRevision(ctx context.Context, t *testing.T, clientset kubernetes.Interface, release string) int {
	t.Helper()
	secrets, err := clientset.CoreV1().Secrets("istio-system").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + release})
	if err != nil {
		t.Fatal(err)
	}
	var revisions []int
	for _, s := range secrets.Items {
		v, err := strconv.Atoi(s.Labels["version"])
		if err != nil {
			t.Fatalf("release Secret %s: %v", s.Name, err)
		}
		revisions = append(revisions, v)
	}
	if len(revisions) == 0 {
		t.Fatalf("release %s has no revision", release)
	}
	return slices.Max(revisions)
}

// upgradeEventTime is when meshkeeper recorded the one Event with that action about the ServiceMesh.
func upgradeEventTime(ctx context.Context, t *testing.T, clientset kubernetes.Interface, action string) time.Time {
	t.Helper()
	events, err := clientset.EventsV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for _, e := range events.Items {
		if e.Regarding.Kind == "ServiceMesh" && e.Action == action {
			if e.Series != nil {
				t.Fatalf("Event %s recurred %d times, want once", action, e.Series.Count)
			}
			times = append(times, e.EventTime.Time)
		}
	}
	if len(times) != 1 {
		t.Fatalf("%d Events %s about the ServiceMesh, want 1", len(times), action)
	}
	return times[0]
}

// sameGeneration tells whether "generation/observedGeneration" names one generation.
func sameGeneration(generations string) bool {
	var generation, observed int64
	if _, err := fmt.Sscanf(generations, "%d/%d", &generation, &observed); err != nil {
		return false
	}
	return generation == observed
}
