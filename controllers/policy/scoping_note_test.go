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

package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// With the reason after each entry, and the longer ending of the ingress-nginx controller's
// namespace, the note about malformed egress hosts still fits in an Event, and still names the first
// entry with its reason: the longest entry quoted and the longest reason fit beside the rest of the note.
func TestMalformedNoteWithReasonsFitsAnEvent(t *testing.T) {
	var many []string
	for i := range 60 {
		many = append(many, fmt.Sprintf("payments/service-%02d", i))
	}
	for name, entries := range map[string][]string{
		"one very long entry":    {"*/" + strings.Repeat("a.", 200) + "io", "payments/payments-api"},
		"many short names":       many,
		"one entry with a blank": {strings.Repeat("x", 3000) + " " + strings.Repeat("y", 3000)},
	} {
		for _, ingressNginx := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, ingress-nginx namespace %t", name, ingressNginx), func(t *testing.T) {
				_, malformed := render.EgressHosts(strings.Join(entries, ","))
				note := malformedNote("shop", malformed, ingressNginx)
				if len(note) > meshctx.NoteLimit {
					t.Errorf("the note is %d bytes long, more than the API server accepts (%d): %.200s…", len(note), meshctx.NoteLimit, note)
				}
				if problem := render.EgressHostProblem(entries[0]); !strings.Contains(note, problem) {
					t.Errorf("the note does not give the first entry's reason %q: %s", problem, note)
				}
			})
		}
	}
}
