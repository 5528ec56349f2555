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
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestStatusPace: after a quiet spell, each of statusBurst changes in a row wakes the status pass at
// once (a new mesh's namespace label and then its policies, one after the other); beyond the burst,
// changes wake one pass per batchDelay, and every change joins a pass that starts at most batchDelay
// after it.
func TestStatusPace(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	p := &statusPace{}
	type step struct {
		ms   int
		want time.Duration // the wake-up's delay
	}
	var steps []step
	for i := range statusBurst {
		steps = append(steps, step{i, 0}) // the burst: each at once
	}
	steps = append(steps,
		step{10, 1990 * time.Millisecond},   // beyond it: at 2 s
		step{1500, 500 * time.Millisecond},  // the same pass
		step{2100, 1900 * time.Millisecond}, // after the pass at 2 s: the one at 4 s
		step{3999, time.Millisecond},
		// 6 s after the pass at 4 s, three wake-ups have come back.
		step{10_000, 0}, step{10_001, 0}, step{10_002, 0},
		step{10_003, 1997 * time.Millisecond},
		step{12_000, 2 * time.Second}, // the pass at 12 s has started: the next is at 14 s
	)
	for _, s := range steps {
		if got := p.delay(at(s.ms)); got != s.want {
			t.Fatalf("a change at %d ms wakes the pass after %s, want %s", s.ms, got, s.want)
		}
	}
	// Quiet long enough, the whole burst is back.
	for i := range statusBurst {
		if got := p.delay(at(100_000 + i)); got != 0 {
			t.Fatalf("change %d after a quiet minute wakes the pass after %s, want at once", i+1, got)
		}
	}
}

// TestStatusPaceBounds: under any sequence of changes, each change's pass starts within batchDelay of
// it, and no window of time holds more passes than the burst and one per batchDelay.
func TestStatusPaceBounds(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		p := &statusPace{}
		now := t0
		passes := map[time.Time]bool{}
		for range 300 {
			// Storms, trickles and quiet spells.
			switch rng.IntN(4) {
			case 0:
				now = now.Add(time.Duration(rng.IntN(5)) * time.Millisecond)
			case 1:
				now = now.Add(time.Duration(rng.IntN(500)) * time.Millisecond)
			case 2:
				now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
			default:
				now = now.Add(time.Duration(rng.IntN(30_000)) * time.Millisecond)
			}
			d := p.delay(now)
			if d < 0 || d > batchDelay {
				t.Fatalf("trial %d: a change at %s wakes its pass after %s", trial, now.Sub(t0), d)
			}
			passes[now.Add(d)] = true
		}
		sorted := slices.SortedFunc(maps.Keys(passes), time.Time.Compare)
		const window = 10 * time.Second
		limit := statusBurst + int(window/batchDelay)
		for i, first := range sorted {
			n := 0
			for _, pass := range sorted[i:] {
				if pass.Sub(first) > window {
					break
				}
				n++
			}
			if n > limit {
				t.Fatalf("trial %d: %d passes in the %s from %s, want at most %d", trial, n, window, first.Sub(t0), limit)
			}
		}
	}
}
