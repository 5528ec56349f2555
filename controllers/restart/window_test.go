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

package restart

import (
	"testing"
	"time"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

func TestWindowOpen(t *testing.T) {
	weekend := &meshv1alpha1.RestartWindow{Days: []meshv1alpha1.Weekday{"Sat", "Sun"}, Start: "00:00", End: "04:00"}
	overnight := &meshv1alpha1.RestartWindow{Days: []meshv1alpha1.Weekday{"Fri"}, Start: "22:00", End: "02:00"}
	daily := &meshv1alpha1.RestartWindow{Start: "12:30", End: "13:00"}
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// 2026-11-28 is a Saturday.
	for _, tc := range []struct {
		name   string
		window *meshv1alpha1.RestartWindow
		now    string
		open   bool
		next   string
	}{
		{"no window", nil, "2026-11-25T10:00:00Z", true, ""},
		{"Saturday night inside", weekend, "2026-11-28T03:59:00Z", true, ""},
		{"Sunday inside", weekend, "2026-11-29T00:00:00Z", true, ""},
		{"Saturday after the end", weekend, "2026-11-28T04:00:00Z", false, "2026-11-29T00:00:00Z"},
		{"Monday waits for Saturday", weekend, "2026-11-30T01:00:00Z", false, "2026-12-05T00:00:00Z"},
		{"Friday before the start", overnight, "2026-11-27T21:59:00Z", false, "2026-11-27T22:00:00Z"},
		{"past midnight into Saturday", overnight, "2026-11-28T01:30:00Z", true, ""},
		{"Saturday after the overnight end", overnight, "2026-11-28T02:00:00Z", false, "2026-12-04T22:00:00Z"},
		{"every day, before", daily, "2026-11-25T12:29:59Z", false, "2026-11-25T12:30:00Z"},
		{"every day, after", daily, "2026-11-25T13:00:00Z", false, "2026-11-26T12:30:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open, next, err := WindowOpen(tc.window, at(tc.now))
			if err != nil {
				t.Fatal(err)
			}
			if open != tc.open {
				t.Errorf("open = %v, want %v", open, tc.open)
			}
			if tc.next != "" && !next.Equal(at(tc.next)) {
				t.Errorf("next = %s, want %s", next, tc.next)
			}
		})
	}
}
