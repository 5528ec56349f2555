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

package helm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// DigestLabel is the release label that records the digest of the chart and values a release was
// installed from; comparing it with the desired digest tells whether an upgrade is needed.
const DigestLabel = "mesh.meshkeeper.io/digest"

// InstalledAsLabel is the release label, "install", of a revision after the first that was rendered
// as an install: the recovery of a first install that failed or was interrupted, which templates that
// differ for an install (Istio's validating webhook fails open until istiod serves) render as one. A
// drift check renders the deployed revision again as it was rendered, which the revision alone does not
// tell.
const InstalledAsLabel = "mesh.meshkeeper.io/rendered-as"

// Release is the desired state of one Helm release.
type Release struct {
	Name        string
	Namespace   string
	Chart       *chartv2.Chart
	ChartDigest string
	Values      map[string]any
	Owner       Owner
	// PodPriority, when set, is applied to the rendered manifest (see PostRender).
	PodPriority *PodPriority
	// FirstKinds are kinds the caller waits for the API server to serve: the chart's CRDs of these
	// kinds are applied on their own, before its other CRDs. The API server names and establishes new
	// CRDs one after the other, in the order they were created, so these are served first. The order of
	// the apply is not part of the release: it is left out of the digest.
	FirstKinds []schema.GroupKind
	// Applied, when set, is called once an install or upgrade has applied the release's objects (and
	// deleted those it no longer has), before its record is marked deployed: what waits for the
	// objects need not wait for the record. It is not part of the release.
	Applied func()
}

// Digest identifies everything that goes into the release: chart content, values, owner and what the
// post-renderer sets. It fits a label value.
func (r Release) Digest() (string, error) {
	values, err := json.Marshal(r.Values)
	if err != nil {
		return "", fmt.Errorf("encoding values of release %s: %w", r.Name, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", r.ChartDigest, r.Owner.UID, r.Namespace)
	h.Write(values)
	if p := r.PodPriority; p != nil {
		// Only when set, so the digests of releases without it stay what they were.
		fmt.Fprintf(h, "\x00priority\x00%s\x00%s", p.DaemonSet, p.ClassName)
	}
	return hex.EncodeToString(h.Sum(nil))[:40], nil
}

// State classifies a live release against the desired one.
type State string

const (
	// StateAbsent means no release of that name exists.
	StateAbsent State = "Absent"
	// StateInSync means the last release is deployed from the desired chart and values.
	StateInSync State = "InSync"
	// StateOutOfSync means the last release is deployed, but from another chart or other values.
	StateOutOfSync State = "OutOfSync"
	// StateFailed means the last install or upgrade failed.
	StateFailed State = "Failed"
	// StateFailedInstall means the release was never deployed successfully.
	StateFailedInstall State = "FailedInstall"
	// StateLocked means the last operation is pending. meshkeeper runs every Helm operation to completion
	// inside one reconcile and one leader, so a pending release means a manager died mid-operation.
	StateLocked State = "Locked"
)

// Head is what the release's storage labels say of one revision, without decoding the release.
type Head struct {
	Version int
	Status  rcommon.Status
	Digest  string
	// AsInstall tells that the revision was rendered as an install (InstalledAsLabel).
	AsInstall bool
}

// renderedAsUpgrade tells whether the revision was rendered as an upgrade: any after the first, but
// for the recovery of a first install (InstalledAsLabel).
func (h Head) renderedAsUpgrade() bool { return h.Version > 1 && !h.AsInstall }

// DetermineState classifies a release's revisions (in any order; none when there is no release) against
// the desired digest. It returns the state and the newest revision.
func DetermineState(revisions []Head, desiredDigest string) (State, *Head) {
	var last *Head
	deployedBefore := false
	for i := range revisions {
		h := &revisions[i]
		if h.Status == rcommon.StatusDeployed || h.Status == rcommon.StatusSuperseded {
			deployedBefore = true
		}
		if last == nil || h.Version > last.Version {
			last = h
		}
	}
	if last == nil || last.Status == rcommon.StatusUninstalled {
		return StateAbsent, last
	}
	switch {
	case last.Status.IsPending():
		return StateLocked, last
	case last.Status == rcommon.StatusFailed && !deployedBefore:
		return StateFailedInstall, last
	case last.Status == rcommon.StatusFailed:
		return StateFailed, last
	case last.Status == rcommon.StatusDeployed && last.Digest == desiredDigest:
		return StateInSync, last
	default:
		return StateOutOfSync, last
	}
}
