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

package testutil

import "testing"

func TestFirstDifference(t *testing.T) {
	cases := map[string]struct {
		want, got string
		say       string
	}{
		"equal texts": {
			want: "a\nb\n", got: "a\nb\n",
			say: "no line differs",
		},
		"a changed line is named by its number": {
			want: "a\nb\nc", got: "a\nB\nc",
			say: "line 2:\n  want \"b\"\n  got  \"B\"",
		},
		"a missing last line": {
			want: "a\nb", got: "a",
			say: "line 2:\n  want \"b\"\n  got  \"\"",
		},
		"an extra line": {
			want: "a", got: "a\nz",
			say: "line 2:\n  want \"\"\n  got  \"z\"",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := FirstDifference([]byte(tc.want), []byte(tc.got)); got != tc.say {
				t.Errorf("FirstDifference = %q, want %q", got, tc.say)
			}
		})
	}
}
