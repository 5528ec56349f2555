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
	"runtime/debug"
	"sync"
	"time"
)

// memoryReturnDelay is how long the chart manager waits, once none of its installs, upgrades and
// uninstalls runs any more, before it gives the memory they left behind back to the operating system
// by itself. The ServiceMesh's reconciler asks for it sooner, once the mesh they changed is Ready
// (ReturnMemory): a return while the install still runs would stall it.
const memoryReturnDelay = 10 * time.Second

// memoryReturn gives the heap that installs, upgrades and uninstalls no longer use back to the
// operating system once they are over. Rendering the base chart allocates about 35 MB that is garbage
// as soon as the records are written; Go's scavenger returns such memory slowly, and until then it
// counts in the operator's resident memory although nothing holds it. An operator renders a handful of
// times in its life and is idle in between, so a forced collection after each burst costs little: 20–100
// ms of CPU at a small live heap, during which the process's allocations wait.
//
// While an operation runs, the heap may also grow less before a collection: Go lets it reach twice
// what was live after the last one (GOGC=100), and on a large cluster what is live is mostly the
// informers' caches, so a render's garbage could add as much again as the caches hold before a
// collection comes. From the first operation of the process to begin until the last ends, the
// collector's target is halved (gcTarget): a few more collections during an install, a lower peak.
type memoryReturn struct {
	mu sync.Mutex
	// running counts the operations under way; no return happens while one runs.
	running int
	// pending: an operation ended since the last return.
	pending bool
	timer   *time.Timer
	// delay and free are memoryReturnDelay and debug.FreeOSMemory, and gc the process's collectorTarget,
	// but for tests.
	delay time.Duration
	free  func()
	gc    *gcTarget
}

// runGCShare is the share, in percent, of the collector's target (GOGC, 100 unless set) kept while an
// operation runs: with 50 and Go's default, the heap grows by half what is live between collections
// instead of by all of it.
const runGCShare = 50

// collectorTarget is the process's: its chart managers (one in the manager; tests run several) share
// the garbage collector.
var collectorTarget = &gcTarget{set: debug.SetGCPercent}

// gcTarget lowers the garbage collector's target to runGCShare of what it was from the first operation
// to begin until the last ends, then sets back what it replaced. A collector turned off (GOGC=off)
// stays off.
type gcTarget struct {
	mu      sync.Mutex
	running int
	// replaced is the target before the first running operation lowered it.
	replaced int
	// set is debug.SetGCPercent, but for tests.
	set func(int) int
}

func (g *gcTarget) lower() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running++; g.running > 1 {
		return
	}
	// SetGCPercent answers with the target it replaced: set the share of the default, then correct it
	// when the target was not the default.
	g.replaced = g.set(100 * runGCShare / 100)
	switch {
	case g.replaced < 0:
		g.set(g.replaced)
	case g.replaced != 100:
		g.set(max(g.replaced*runGCShare/100, 1))
	}
}

func (g *gcTarget) restore() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running--; g.running == 0 {
		g.set(g.replaced)
	}
}

func (m *memoryReturn) collector() *gcTarget {
	if m.gc != nil {
		return m.gc
	}
	return collectorTarget
}

// begin marks an operation under way.
func (m *memoryReturn) begin() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running++
	m.collector().lower()
	if m.timer != nil {
		m.timer.Stop()
	}
}

// end marks an operation done; after the last to end, the memory is returned after the delay unless
// now is called first.
func (m *memoryReturn) end() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = true
	m.collector().restore()
	if m.running--; m.running > 0 {
		return
	}
	if m.timer != nil {
		m.timer.Reset(m.delay)
		return
	}
	if m.delay == 0 {
		m.delay = memoryReturnDelay
	}
	m.timer = time.AfterFunc(m.delay, m.now)
}

// now returns the memory at once, in a goroutine of its own, when an operation ended since the last
// return and none runs.
func (m *memoryReturn) now() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.pending || m.running > 0 {
		return
	}
	m.pending = false
	if m.timer != nil {
		m.timer.Stop()
	}
	free := m.free
	if free == nil {
		free = debug.FreeOSMemory
	}
	go free()
}
