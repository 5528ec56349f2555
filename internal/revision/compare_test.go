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

package revision

import "testing"

// Pre-releases are ordered as semantic versions order them: identifier by identifier, numeric ones by
// value (rc.10 comes after rc.9), a numeric one before a textual one, and a pre-release that is the
// start of another before it.
func TestComparePreReleases(t *testing.T) {
	for _, tc := range []struct{ older, newer string }{
		{"1.32.0-rc.9", "1.32.0-rc.10"},
		{"1.32.0-beta.2", "1.32.0-beta.10"},
		{"1.32.0-alpha", "1.32.0-alpha.1"},
		{"1.32.0-alpha.1", "1.32.0-alpha.beta"},
		{"1.32.0-alpha.beta", "1.32.0-beta"},
		{"1.32.0-beta.11", "1.32.0-rc.1"},
		{"1.32.0-1", "1.32.0-alpha"},
		{"1.32.0-rc.1", "1.32.0"},
		{"1.31.9", "1.32.0-alpha.0"},
	} {
		if got := CompareStrings(tc.older, tc.newer); got >= 0 {
			t.Errorf("CompareStrings(%s, %s) = %d, want %s older", tc.older, tc.newer, got, tc.older)
		}
		if got := CompareStrings(tc.newer, tc.older); got <= 0 {
			t.Errorf("CompareStrings(%s, %s) = %d, want %s newer", tc.newer, tc.older, got, tc.newer)
		}
	}
	if got := CompareStrings("1.32.0-rc.1", "1.32.0-rc.1"); got != 0 {
		t.Errorf("CompareStrings of equal versions = %d, want 0", got)
	}
}
