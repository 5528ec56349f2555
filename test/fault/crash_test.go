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

package fault

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// meshManifest is a ServiceMesh on version that enrolls the namespaces labelled selector=true.
func meshManifest(version, selector string) string {
	return `apiVersion: mesh.meshkeeper.io/v1alpha1
kind: ServiceMesh
metadata: {name: default}
spec:
  version: "` + version + `"
  injection:
    namespaceSelector: {matchLabels: {` + selector + `: "true"}}
  sidecarScoping: {enabled: true}
`
}

// TestCrash kills the manager (SIGKILL) at four points, each picked by watching the API, and starts a
// new one each time: while istiod's release is pending-install, while its upgrade is pending, part-way
// through the enrollment of 50 namespaces, and right after the ServiceMesh got its deletionTimestamp.
// After each restart the mesh must converge and the invariants hold.
func TestCrash(t *testing.T) {
	e := newEnv(t, 12*time.Minute)
	const enrolledNamespaces = 50
	names := e.namespaces("crash", enrolledNamespaces, nil)

	t.Log("install: kill while istiod's first release is pending")
	releases := e.watchReleases("")
	e.apply(meshManifest("1.31.0", "fault-crash"))
	m := e.start("install")
	releases.until(e, "istiod's release pending-install", 2*time.Minute, status("istiod", "pending-install"))
	m.Kill()
	t.Logf("killed with istiod.v1 %q", e.releaseStatus("istiod", 1))
	e.start("after-install")
	e.waitFor("the mesh Ready on 1.31.0", 4*time.Minute, e.ready("1.31.0"))
	e.checkInvariants(meshReady)

	t.Log("upgrade: kill while istiod's upgrade is pending")
	e.logs[len(e.logs)-1].Kill()
	e.apply(meshManifest("1.31.1", "fault-crash"))
	m = e.start("upgrade")
	pending := releases.until(e, "an upgrade of istiod pending", 2*time.Minute, status("istiod", "pending-upgrade"))
	m.Kill()
	t.Logf("killed with %s %q", pending.Name, e.releaseStatus("istiod", revision(pending)))
	e.start("after-upgrade")
	e.waitFor("the mesh Ready on 1.31.1", 4*time.Minute, e.ready("1.31.1"))
	e.checkInvariants(meshReady)

	t.Log("enrollment: kill part-way through labelling 50 namespaces")
	m = e.logs[len(e.logs)-1]
	// The user labels the namespaces one by one; meshkeeper enrolls each as fast as it sees it, so the
	// kill comes when the user has labelled a few, while the labels keep coming.
	selected := e.watchNamespaces(names, func(ns *corev1.Namespace) bool { return ns.Labels["fault-crash"] == "true" })
	labelled := make(chan error, 1)
	go func() {
		for _, name := range names {
			if _, err := testenv.Kubectl(sim.Kubeconfig(), "", "label", "namespace", name, "fault-crash=true"); err != nil {
				labelled <- err
				return
			}
		}
		labelled <- nil
	}()
	killedAt := selected.until(e, 10, 2*time.Minute)
	m.Kill()
	enrolledAtKill := e.enrolled(names)
	if err := <-labelled; err != nil {
		e.fatalf("labelling the namespaces: %v", err)
	}
	t.Logf("killed when %d namespaces were labelled, %d of them enrolled; after the kill %d of %d labelled and %d enrolled",
		killedAt, enrolledAtKill, enrolledNamespaces, enrolledNamespaces, e.enrolled(names))
	if enrolledAtKill == enrolledNamespaces {
		t.Errorf("the manager was killed after it had enrolled every namespace, not part-way")
	}
	e.start("after-enrollment")
	e.waitFor("every namespace enrolled", 3*time.Minute, func() string {
		if n := e.enrolled(names); n != enrolledNamespaces {
			return fmt.Sprintf("%d of %d enrolled", n, enrolledNamespaces)
		}
		return ""
	})
	e.waitFor("the mesh Ready", 2*time.Minute, e.ready("1.31.1"))
	e.checkInvariants(meshReady)

	t.Log("uninstall: kill right after the deletionTimestamp")
	m = e.logs[len(e.logs)-1]
	e.deleteMesh()
	e.waitFor("the deletionTimestamp", time.Minute, func() string {
		if mesh := e.mesh(); mesh == nil || mesh.DeletionTimestamp == nil {
			return "no deletionTimestamp"
		}
		return ""
	})
	m.Kill()
	unenrolled := enrolledNamespaces - e.enrolled(names)
	t.Logf("killed with %d of %d namespaces unenrolled", unenrolled, enrolledNamespaces)
	e.start("after-uninstall")
	e.waitFor("the ServiceMesh gone", 4*time.Minute, e.gone)
	e.checkInvariants(uninstalled)
	if overlaps := releases.overlaps(); len(overlaps) > 0 {
		t.Errorf("Helm actions overlapped: %v\nrelease statuses seen: %v", overlaps, releases.statuses())
	}
}

// revision is the revision number of a release Secret.
func revision(s *corev1.Secret) int {
	n, _ := strconv.Atoi(s.Labels["version"])
	return n
}
