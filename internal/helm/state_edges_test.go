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

// TestDetermineStateOfEdgeHistories: a revision deployed and not yet superseded (the one a failed
// upgrade left in place) counts as deployed before, so the failed upgrade is not taken for a failed
// install; and the desired digest on a newest revision that is not deployed (superseded, as a
// rollback elsewhere leaves it) is not in sync: only a deployed revision is.
func TestDetermineStateOfEdgeHistories(t *testing.T) {
	const want = "digest-b"
	head := func(version int, status rcommon.Status, digest string) Head {
		return Head{Version: version, Status: status, Digest: digest}
	}
	for name, tc := range map[string]struct {
		revisions []Head
		state     State
	}{
		"a failed upgrade after a deployed revision": {[]Head{head(1, rcommon.StatusDeployed, "digest-a"), head(2, rcommon.StatusFailed, want)}, StateFailed},
		"the desired digest, superseded":             {[]Head{head(1, rcommon.StatusDeployed, "digest-a"), head(2, rcommon.StatusSuperseded, want)}, StateOutOfSync},
		"the desired digest, status unknown":         {[]Head{head(1, rcommon.StatusUnknown, want)}, StateOutOfSync},
	} {
		if state, _ := DetermineState(tc.revisions, want); state != tc.state {
			t.Errorf("%s: state = %s, want %s", name, state, tc.state)
		}
	}
}
