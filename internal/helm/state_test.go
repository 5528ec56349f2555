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
	"testing"

	rcommon "helm.sh/helm/v4/pkg/release/common"
)

func TestDetermineState(t *testing.T) {
	const want = "digest-b"
	head := func(version int, status rcommon.Status, digest string) Head {
		return Head{Version: version, Status: status, Digest: digest}
	}
	tests := map[string]struct {
		revisions []Head
		state     State
		last      int
	}{
		"no release":                             {nil, StateAbsent, 0},
		"deployed from the desired input":        {[]Head{head(1, rcommon.StatusDeployed, want)}, StateInSync, 1},
		"deployed from other input":              {[]Head{head(1, rcommon.StatusDeployed, "digest-a")}, StateOutOfSync, 1},
		"deployed without meshkeeper's digest":   {[]Head{head(1, rcommon.StatusDeployed, "")}, StateOutOfSync, 1},
		"the newest revision decides, not order": {[]Head{head(3, rcommon.StatusDeployed, want), head(2, rcommon.StatusSuperseded, "digest-a")}, StateInSync, 3},
		"a failed upgrade after a good install":  {[]Head{head(1, rcommon.StatusSuperseded, "digest-a"), head(2, rcommon.StatusFailed, want)}, StateFailed, 2},
		"a failed first install":                 {[]Head{head(1, rcommon.StatusFailed, want)}, StateFailedInstall, 1},
		"an install a dead manager left":         {[]Head{head(1, rcommon.StatusPendingInstall, want)}, StateLocked, 1},
		"an upgrade a dead manager left":         {[]Head{head(1, rcommon.StatusDeployed, "digest-a"), head(2, rcommon.StatusPendingUpgrade, want)}, StateLocked, 2},
		"a rollback a dead manager left":         {[]Head{head(4, rcommon.StatusPendingRollback, want)}, StateLocked, 4},
		"uninstalled with history kept":          {[]Head{head(1, rcommon.StatusUninstalled, want)}, StateAbsent, 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			state, last := DetermineState(tc.revisions, want)
			if state != tc.state {
				t.Errorf("state = %s, want %s", state, tc.state)
			}
			switch {
			case tc.last == 0 && last != nil:
				t.Errorf("last = revision %d, want none", last.Version)
			case tc.last != 0 && (last == nil || last.Version != tc.last):
				t.Errorf("last = %v, want revision %d", last, tc.last)
			}
		})
	}
}

func TestReleaseDigest(t *testing.T) {
	base := Release{Name: "istiod", Namespace: "istio-system", ChartDigest: "c1",
		Values: map[string]any{"a": map[string]any{"b": 1}}, Owner: Owner{UID: "u1"}}
	digest := func(r Release) string {
		t.Helper()
		d, err := r.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	same := base
	same.Values = map[string]any{"a": map[string]any{"b": 1}}
	if digest(base) != digest(same) {
		t.Error("equal input gave different digests")
	}
	if len(digest(base)) > 63 {
		t.Errorf("digest %q does not fit a label value", digest(base))
	}
	for name, change := range map[string]func(*Release){
		"values":    func(r *Release) { r.Values = map[string]any{"a": map[string]any{"b": 2}} },
		"chart":     func(r *Release) { r.ChartDigest = "c2" },
		"owner":     func(r *Release) { r.Owner.UID = "u2" },
		"namespace": func(r *Release) { r.Namespace = "mesh-system" },
	} {
		changed := base
		change(&changed)
		if digest(changed) == digest(base) {
			t.Errorf("a change of %s kept the digest", name)
		}
	}
}
