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
	"fmt"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// NoteLimit is the longest note the API server accepts in an Event (events.k8s.io/v1). It refuses a
// longer Event whole, and the recorder only logs that: a Warning with a long list (of Services, of an
// annotation's entries, of rival policies) would never be seen.
const NoteLimit = 1024

// BoundedRecorder records every Event of recorder with its note cut to NoteLimit bytes (at a
// character, marked with an ellipsis), so that no Event is lost for its length. The messages that
// name lists say what matters first.
type BoundedRecorder struct {
	events.EventRecorder
}

// Eventf records the Event with its note formatted, and cut when too long.
func (r BoundedRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.EventRecorder.Eventf(regarding, related, eventtype, reason, action, "%s", BoundNote(fmt.Sprintf(note, args...)))
}

// BoundNote returns note, cut to NoteLimit bytes at a character and ended with an ellipsis when longer.
func BoundNote(note string) string {
	return Bound(note, NoteLimit)
}

// ConditionMessageLimit is the most bytes the API server takes in a condition's message (the CRD's
// maxLength of metav1.Condition's message): a status with a longer one is refused whole.
const ConditionMessageLimit = 32768

// Bound returns s, cut to limit bytes at a character and ended with an ellipsis when longer.
func Bound(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const ellipsis = "…"
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// Names lists the first most of list, in its order, for a message, and counts the others ("a, b and 3
// more"): a message names what to look at without growing with the cluster.
func Names(list []string, most int) string {
	if len(list) <= most {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:most], ", "), len(list)-most)
}
