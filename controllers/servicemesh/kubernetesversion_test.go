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

package servicemesh

import (
	"testing"

	"k8s.io/apimachinery/pkg/version"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// serverVersion is an API server that reports minor as its Kubernetes minor version, counting reads.
type serverVersion struct {
	minor string
	reads int
}

func (s *serverVersion) ServerVersion() (*version.Info, error) {
	s.reads++
	return &version.Info{Major: "1", Minor: s.minor}, nil
}

// The cluster is upgraded while the manager runs (a managed cluster's control plane, before the Istio
// upgrade it makes possible): the gate judges the Kubernetes version the cluster runs now, not the one
// read when the manager started; the version read is kept a while rather than read at every reconcile.
func TestUpgradeGateReadsTheKubernetesVersionAgain(t *testing.T) {
	mesh := revisionBasedMesh()
	api := &serverVersion{minor: "32"}
	r := &Reconciler{}
	r.revisionState.discovery = api
	r.revisionState.k8sVersion = "1.31" // read long ago, before the cluster's upgrade
	if err := r.upgradeGate(t.Context(), mesh, "1.31.0", nil, ""); err != nil {
		t.Errorf("upgradeGate on a cluster upgraded to Kubernetes 1.32 = %v, want Istio 1.31.0 allowed", err)
	}
	if api.reads != 1 {
		t.Errorf("the API server's version was read %d times, want once", api.reads)
	}
	for range 3 {
		if err := r.upgradeGate(t.Context(), mesh, "1.31.0", nil, ""); err != nil {
			t.Errorf("upgradeGate again = %v, want Istio 1.31.0 allowed", err)
		}
	}
	if api.reads != 1 {
		t.Errorf("the API server's version was read %d times in a row, want it read once and kept", api.reads)
	}
}

// A version refused for the cluster's Kubernetes version alone is looked at again (the cluster is
// upgraded without any change of the ServiceMesh, and the mesh then goes on by itself); one refused for
// what the spec asks (a jump too far) waits for a new spec, whatever the cluster runs.
func TestARefusalForTheKubernetesVersionIsLookedAtAgain(t *testing.T) {
	mesh := revisionBasedMesh()
	r := &Reconciler{}
	r.revisionState.discovery = &serverVersion{minor: "31"}
	err := r.upgradeGate(t.Context(), mesh, "1.31.0", nil, "")
	failure := meshctx.Classify(err)
	if failure == nil || !failure.Terminal || failure.Reason != meshv1alpha1.ReasonUpgradeNotSupported {
		t.Fatalf("upgradeGate on Kubernetes 1.31 = %v, want a terminal %s", err, meshv1alpha1.ReasonUpgradeNotSupported)
	}
	if result, rerr := meshctx.Result(t.Context(), err); rerr != nil || result.RequeueAfter != kubernetesVersionRecheck {
		t.Errorf("Result of a refusal for the Kubernetes version = %+v, %v; want it looked at again after %s", result, rerr, kubernetesVersionRecheck)
	}

	running := []revision.Installed{{Name: "1-28-0", Version: "1.28.0"}}
	err = r.upgradeGate(t.Context(), mesh, "1.31.0", running, "")
	if !meshctx.IsTerminal(err) {
		t.Fatalf("upgradeGate from 1.28.0 to 1.31.0 = %v, want refused", err)
	}
	if result, rerr := meshctx.Result(t.Context(), err); rerr != nil || result.RequeueAfter != 0 {
		t.Errorf("Result of a refusal for the spec = %+v, %v; want nothing retried before the spec changes", result, rerr)
	}
}
