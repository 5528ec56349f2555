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
	"testing"
	"time"
)

// TestAPIServerRestart restarts kube-apiserver under a running manager twice, while istiod's release
// is pending-install and part-way through the enrollment of 20 namespaces, and then uninstalls. The
// same manager process must converge each time, without being restarted.
func TestAPIServerRestart(t *testing.T) {
	e := newEnv(t, 10*time.Minute)
	const enrolledNamespaces = 20
	names := e.namespaces("restart", enrolledNamespaces, nil)

	releases := e.watchReleases("")
	e.apply(meshManifest("1.31.0", "fault-restart"))
	m := e.start("manager")
	releases.until(e, "istiod's release pending-install", 2*time.Minute, status("istiod", "pending-install"))
	began := time.Now()
	if err := sim.RestartAPIServer(e.ctx); err != nil {
		e.fatalf("restarting the API server: %v", err)
	}
	t.Logf("restarted kube-apiserver during istiod's install in %s; istiod.v1 is now %q", time.Since(began).Round(time.Millisecond), e.releaseStatus("istiod", 1))
	e.waitFor("the mesh Ready", 4*time.Minute, e.ready("1.31.0"))
	e.checkInvariants(meshReady)

	enrollment := e.watchNamespaces(names, injected)
	e.kubectl(append(append([]string{"label", "namespace"}, names...), "fault-restart=true")...)
	killedAt := enrollment.until(e, 3, 2*time.Minute)
	if err := sim.RestartAPIServer(e.ctx); err != nil {
		e.fatalf("restarting the API server: %v", err)
	}
	t.Logf("restarted kube-apiserver with %d of %d namespaces enrolled", killedAt, enrolledNamespaces)
	e.waitFor("every namespace enrolled", 3*time.Minute, func() string {
		if n := e.enrolled(names); n != enrolledNamespaces {
			return fmt.Sprintf("%d of %d enrolled", n, enrolledNamespaces)
		}
		return ""
	})
	e.waitFor("the mesh Ready", 2*time.Minute, e.ready("1.31.0"))
	e.checkInvariants(meshReady)

	e.deleteMesh()
	e.waitFor("the ServiceMesh gone", 3*time.Minute, e.gone)
	e.checkInvariants(uninstalled)
	if !m.Running() {
		e.fatalf("the manager exited; it should have outlived the API server's restarts")
	}
	if overlaps := releases.overlaps(); len(overlaps) > 0 {
		t.Errorf("Helm actions overlapped: %v\nrelease statuses seen: %v", overlaps, releases.statuses())
	}
}
