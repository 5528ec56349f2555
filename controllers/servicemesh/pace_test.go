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

package servicemesh

import (
	"testing"
	"time"
)

// TestStatusPace: a lone change wakes the status pass at once; a burst wakes it at its start and then
// once per batchDelay, never two passes closer than batchDelay.
func TestStatusPace(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	p := &statusPace{}
	steps := []struct {
		ms   int
		want time.Duration // the wake-up's delay
	}{
		{0, 0},                          // a lone change: at once
		{100, 1900 * time.Millisecond},  // a burst: at the end of the batchDelay since the first pass
		{1500, 500 * time.Millisecond},  // the same pass
		{2100, 1900 * time.Millisecond}, // after the pass at 2 s: the one at 4 s
		{3999, time.Millisecond},
		{10_000, 0}, // quiet since the pass at 4 s: at once again
		{10_001, 1999 * time.Millisecond},
		{12_000, 2 * time.Second}, // the pass at 12 s has started: the next is at 14 s
	}
	var passes []time.Time
	for _, s := range steps {
		got := p.delay(at(s.ms))
		if got != s.want {
			t.Fatalf("a change at %d ms wakes the pass after %s, want %s", s.ms, got, s.want)
		}
		passes = append(passes, at(s.ms).Add(got))
	}
	// The distinct passes are batchDelay apart at least.
	last := time.Time{}
	for _, pass := range passes {
		if pass.Equal(last) {
			continue
		}
		if !last.IsZero() && pass.Sub(last) < batchDelay {
			t.Fatalf("passes at %s and %s are closer than %s", last.Sub(t0), pass.Sub(t0), batchDelay)
		}
		last = pass
	}
}
