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
	"strings"
	"testing"
	"time"

	"github.com/meshkeeper/meshkeeper/test/cluster"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestCanaryUpgrade is a full canary upgrade on a cluster whose Deployments really roll out, in the
// commits a GitOps user makes: 1.31.0 running with a namespace whose Deployment runs sidecars of
// 1-31-0; then 1.31.1 with that namespace as canary (the new istiod rolls out, the namespace moves to
// it, the workload is restarted onto it); then the canary removed (the tag moves) until the old revision,
// no longer used, is removed and one revision is left.
func TestCanaryUpgrade(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	s := startSession(ctx, t, cluster.Options{})
	apply, eventually, want, jsonpath := s.apply, s.eventually, s.want, s.get

	mesh := func(version, canary string) string {
		return `apiVersion: mesh.meshkeeper.io/v1alpha1
kind: ServiceMesh
metadata: {name: default}
spec:
  version: ` + version + `
  updateStrategy:
    type: RevisionBased
    inactiveRevisionDeletionGracePeriod: 5s` + canary + `
  injection: {namespaces: [shop]}
`
	}
	// The pods carry what the injector of their revision would have written; this tier's API server
	// calls no webhook.
	shop := func(revision string) string {
		return `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations:
        sidecar.istio.io/status: '{"initContainers":["istio-init"],"containers":["istio-proxy"],"revision":"` + revision + `"}'
    spec:
      containers:
      - {name: web, image: registry.example/web:1}
      - {name: istio-proxy, image: docker.io/istio/proxyv2:` + strings.ReplaceAll(revision, "-", ".") + `}
`
	}

	t.Log("commit 0: Istio 1.31.0 as a revision, and a workload injected by it")
	apply(mesh("1.31.0", ""))
	apply(shop("1-31-0"))
	s.waitReady(5 * time.Minute)
	eventually("the mesh on 1.31.0", time.Minute, want("status.revisions", "1-31-0=Active/2 ", "mesh", "default", "-o",
		`jsonpath={range .status.revisions[*]}{.name}={.state}/{.proxies} {end}`))

	t.Log("commit 1: Istio 1.31.1 with shop as canary")
	apply(mesh("1.31.1", "\n    canary: {namespaces: [shop]}"))
	eventually("istiod-1-31-1 rolled out and shop moved to it", 5*time.Minute,
		want("shop's revision label", "1-31-1", "namespace", "shop", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`))
	if got := jsonpath("deployment", "istiod-1-31-1", "-n", "istio-system", "-o", "jsonpath={.status.availableReplicas}"); got != "2" {
		t.Errorf("shop moved to 1-31-1 while istiod-1-31-1 has %q available replicas, want 2", got)
	}
	if got := jsonpath("mutatingwebhookconfiguration", "istio-revision-tag-default", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`); got != "1-31-0" {
		t.Errorf("the default tag points at %q during the canary, want 1-31-0", got)
	}
	eventually("the canary's outdated pods counted", time.Minute, want("status.proxies.outdated", "2", "mesh", "default", "-o", "jsonpath={.status.proxies.outdated}"))
	// The owner restarts the canary workload; the new pods come from the new revision's injector.
	apply(shop("1-31-1"))
	eventually("the canary running on 1-31-1", 3*time.Minute, want("status.revisions", "1-31-1=Canary/2 1-31-0=Active/0 ", "mesh", "default",
		"-o", `jsonpath={range .status.revisions[*]}{.name}={.state}/{.proxies} {end}`))
	if got := jsonpath("deployment", "istiod-1-31-0", "-n", "istio-system", "-o", "name"); got == "" {
		t.Error("the active revision was removed")
	}

	t.Log("commit 2: the canary removed")
	apply(mesh("1.31.1", ""))
	eventually("the tag on 1-31-1", time.Minute, want("the default tag", "1-31-1", "mutatingwebhookconfiguration", "istio-revision-tag-default",
		"-o", `jsonpath={.metadata.labels.istio\.io/rev}`))
	eventually("one revision left", 3*time.Minute, want("status.revisions", "1-31-1=Active/2 ", "mesh", "default",
		"-o", `jsonpath={range .status.revisions[*]}{.name}={.state}/{.proxies} {end}`))
	if out, err := testenv.Kubectl(s.kubeconfig, "", "get", "deployment", "istiod-1-31-0", "-n", "istio-system"); err == nil {
		t.Errorf("istiod-1-31-0 is still there:\n%s", out)
	}
	if got := jsonpath("namespace", "shop", "-o", `jsonpath={.metadata.labels.istio-injection}`); got != "enabled" {
		t.Errorf("shop's injection label is %q, want istio-injection=enabled again", got)
	}
	if got := jsonpath("mesh", "default", "-o", "jsonpath={.status.proxies.outdated}"); got != "0" {
		t.Errorf("status.proxies.outdated = %s, want 0", got)
	}
	t.Log(s.get("mesh", "-o", "wide"))
}
