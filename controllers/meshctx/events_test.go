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

package meshctx

import (
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
)

// Every note the recorder passes on fits what the API server accepts, cut at a character; a note that
// fits is passed on as it is.
func TestBoundedRecorderCutsLongNotes(t *testing.T) {
	for name, tc := range map[string]struct {
		note string
		cut  bool
	}{
		"short":                      {note: "Deployment shop/web restarted", cut: false},
		"exactly the limit":          {note: strings.Repeat("a", NoteLimit), cut: false},
		"one byte over":              {note: strings.Repeat("a", NoteLimit+1), cut: true},
		"a list of many Services":    {note: "Ingress shop/web routes to " + strings.Repeat("Service payments-backend-v2, ", 60), cut: true},
		"multi-byte at the boundary": {note: strings.Repeat("ü", NoteLimit), cut: true},
	} {
		t.Run(name, func(t *testing.T) {
			fake := events.NewFakeRecorder(1)
			BoundedRecorder{EventRecorder: fake}.Eventf(&corev1.Namespace{}, nil, corev1.EventTypeWarning, "Reason", "Action", "%s", tc.note)
			got := strings.TrimPrefix(<-fake.Events, "Warning Reason ")
			if len(got) > NoteLimit {
				t.Errorf("note of %d bytes passed on, more than the API server accepts (%d)", len(got), NoteLimit)
			}
			if !utf8.ValidString(got) {
				t.Errorf("note cut inside a character: %q", got[len(got)-8:])
			}
			if !tc.cut && got != tc.note {
				t.Errorf("a note that fits was changed: %q", got)
			}
			if tc.cut && (!strings.HasSuffix(got, "…") || !strings.HasPrefix(tc.note, strings.TrimSuffix(got, "…"))) {
				t.Errorf("a long note is not its start with an ellipsis: %q…", got[:40])
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		list []string
		most int
		want string
	}{
		{nil, 3, ""},
		{[]string{"a", "b", "c"}, 3, "a, b, c"},
		{[]string{"c", "a", "b", "d", "e"}, 3, "c, a, b and 2 more"},
	} {
		if got := Names(tc.list, tc.most); got != tc.want {
			t.Errorf("Names(%q, %d) = %q, want %q", tc.list, tc.most, got, tc.want)
		}
	}
}
