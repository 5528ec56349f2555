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
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestMemoryReturnsOnceABurstIsOver: the memory is returned once, a delay after the last of a burst of
// operations has ended, never while one runs, and again after a later one.
func TestMemoryReturnsOnceABurstIsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var returned atomic.Int32
		start := time.Now()
		var at time.Duration
		m := &memoryReturn{delay: time.Second, free: func() { returned.Add(1); at = time.Since(start) }}
		// Two releases side by side: istiod's ends long before the base chart's.
		m.begin()
		m.begin()
		time.Sleep(200 * time.Millisecond)
		m.end()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if n := returned.Load(); n != 0 {
			t.Fatalf("returned %d times while an operation ran, want none", n)
		}
		m.end()
		for range 3 { // more operations, 600 ms apart
			time.Sleep(600 * time.Millisecond)
			m.begin()
			m.end()
		}
		synctest.Wait()
		if n := returned.Load(); n != 0 {
			t.Fatalf("returned %d times during the burst, want none", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if want := 6 * time.Second; returned.Load() != 1 || at != want {
			t.Fatalf("returned %d times, the last at %s; want once, 1 s after the last operation (%s)", returned.Load(), at, want)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := returned.Load(); n != 1 {
			t.Fatalf("returned %d times while idle, want 1", n)
		}
		m.begin()
		m.end()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := returned.Load(); n != 2 {
			t.Fatalf("returned %d times after a later operation, want 2", n)
		}
	})
}

// TestMemoryReturnsWhenAsked: ReturnMemory returns at once what an ended operation left, never while
// one runs, and nothing when nothing ended since the last return.
func TestMemoryReturnsWhenAsked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var returned atomic.Int32
		cm := &ChartManager{memory: memoryReturn{delay: time.Hour, free: func() { returned.Add(1) }}}
		ask := func() int32 {
			cm.ReturnMemory()
			synctest.Wait()
			return returned.Load()
		}
		if n := ask(); n != 0 {
			t.Fatalf("returned %d times before any operation, want none", n)
		}
		cm.memory.begin()
		if n := ask(); n != 0 {
			t.Fatalf("returned %d times while an operation runs, want none", n)
		}
		cm.memory.end()
		if n := ask(); n != 1 {
			t.Fatalf("returned %d times once the operation ended, want 1", n)
		}
		if n := ask(); n != 1 {
			t.Fatalf("returned %d times when asked again with nothing new, want 1", n)
		}
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if n := returned.Load(); n != 1 {
			t.Fatalf("the delayed return came after ReturnMemory had returned it: %d returns, want 1", n)
		}
	})
}

// TestCollectorTargetIsLoweredWhileOperationsRun: the collector's target is halved from the first
// operation to begin until the last ends, of any chart manager of the process, and then set back to what
// it was, whatever that was (a user's GOGC); a collector turned off stays off.
func TestCollectorTargetIsLoweredWhileOperationsRun(t *testing.T) {
	for _, tc := range []struct {
		name        string
		gogc, while int
	}{
		{"Go's default", 100, 50},
		{"a user's GOGC", 300, 150},
		{"a small GOGC", 1, 1},
		{"collector off", -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			current := tc.gogc
			gc := &gcTarget{set: func(percent int) int {
				previous := current
				current = percent
				return previous
			}}
			expect := func(want int, when string) {
				t.Helper()
				if current != want {
					t.Fatalf("GOGC %d %s, want %d", current, when, want)
				}
			}
			// Two chart managers of one process (tests run several), their operations interleaved.
			a := &memoryReturn{delay: time.Hour, free: func() {}, gc: gc}
			b := &memoryReturn{delay: time.Hour, free: func() {}, gc: gc}
			a.begin()
			expect(tc.while, "while an operation runs")
			a.begin() // istiod's release beside the base chart's
			b.begin()
			a.end()
			a.end()
			expect(tc.while, "while another manager's operation still runs")
			b.end()
			expect(tc.gogc, "once no operation runs")
			b.begin()
			expect(tc.while, "while a later operation runs")
			b.end()
			expect(tc.gogc, "after the later operation")
		})
	}
}
