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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// The API server refuses an Event whose note is longer than 1024 bytes (events.k8s.io/v1), so a
// Warning about an egress-hosts annotation with many malformed entries, or a very long one, would
// never reach the namespace's owner: the note names as many entries as fit and counts the others.
func TestReportMalformedFitsAnEvent(t *testing.T) {
	long := strings.Repeat("x", 5000)
	tests := map[string]struct {
		entries   []string
		wantFirst string
		// wantAll: every entry fits, and the note names them all; wantMore: it counts those left out.
		wantAll, wantMore bool
	}{
		"many entries without a namespace": {
			entries: func() []string {
				var hosts []string
				for i := range 40 {
					hosts = append(hosts, fmt.Sprintf("service-%02d.payments.svc.cluster.local", i))
				}
				return hosts
			}(),
			wantFirst: "service-00.payments.svc.cluster.local", wantMore: true,
		},
		"one very long entry": {entries: []string{long, "payments-api"}, wantFirst: "xxxxxxxx"},
		"a few entries are all named": {
			entries:   []string{"payments-api", "ledger"},
			wantFirst: "payments-api", wantAll: true,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			annotation := strings.Join(tt.entries, ",")
			_, malformed := render.EgressHosts(annotation)
			if len(malformed) != len(tt.entries) {
				t.Fatalf("EgressHosts(%.80q) found %d malformed entries, want %d", annotation, len(malformed), len(tt.entries))
			}
			recorder := events.NewFakeRecorder(10)
			r := &Reconciler{Recorder: recorder}
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop",
				Annotations: map[string]string{render.EgressHostsAnnotation: annotation}}}
			r.reportMalformed(nil, ns, malformed)
			var event string
			select {
			case event = <-recorder.Events:
			default:
				t.Fatal("no Event")
			}
			// The fake recorder writes "<type> <reason> <note>".
			note := strings.SplitN(event, " ", 3)[2]
			if len(note) > 1024 {
				t.Errorf("the note is %d bytes long, more than the API server accepts (1024): %.200s…", len(note), note)
			}
			if !strings.Contains(note, tt.wantFirst) {
				t.Errorf("the note does not name the first malformed entry %.40q: %s", tt.wantFirst, note)
			}
			for _, entry := range tt.entries {
				if tt.wantAll && !strings.Contains(note, fmt.Sprintf("%q", entry)) {
					t.Errorf("the note leaves out %q although every entry fits: %s", entry, note)
				}
			}
			if tt.wantMore && !strings.Contains(note, "more;") {
				t.Errorf("the note does not say how many entries it leaves out: %s", note)
			}
		})
	}
}
