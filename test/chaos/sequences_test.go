//go:build cluster

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

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// A faults operation faults burstFaultRate of the manager's requests for burstDuration.
const (
	burstFaultRate = 0.2
	burstDuration  = 10 * time.Second
)

// operation is one thing a user, or a crash, does to the system. do changes the model and the cluster
// and says what it did; it is only drawn when ok holds, with its weight, or weightUninstalled (when
// not 0) while the mesh is uninstalled.
type operation struct {
	name              string
	weight            int
	weightUninstalled int
	ok                func(m *model) bool
	do                func(e *env, m *model, rng *rand.Rand, step int) string
}

func always(*model) bool { return true }

// pick returns a random element of the namespaces for which keep holds, or "" when none does.
func pick(rng *rand.Rand, namespaces []string, keep func(string) bool) string {
	var from []string
	for _, ns := range namespaces {
		if keep(ns) {
			from = append(from, ns)
		}
	}
	if len(from) == 0 {
		return ""
	}
	return from[rng.IntN(len(from))]
}

// applyMeshIfInstalled applies the model's spec when the mesh exists; otherwise the next install
// carries it.
func (e *env) applyMeshIfInstalled(m *model) {
	if m.installed {
		e.applyMesh(m)
	}
}

// changeSpec changes one setting of the spec at random: the mesh-wide mTLS mode (a policy), the
// proxies' hold setting (istiod's mesh config, a Helm upgrade) or the Sidecars' outbound policy.
func changeSpec(m *model, rng *rand.Rand) string {
	switch rng.IntN(3) {
	case 0:
		m.mtls = map[string]string{"PERMISSIVE": "STRICT", "STRICT": "PERMISSIVE"}[m.mtls]
		return "mtls.mode=" + m.mtls
	case 1:
		m.hold = !m.hold
		return "proxy.holdApplicationUntilProxyStarts=" + strconv.FormatBool(m.hold)
	default:
		m.outbound = map[string]string{"ALLOW_ANY": "REGISTRY_ONLY", "REGISTRY_ONLY": "ALLOW_ANY"}[m.outbound]
		return "sidecarScoping.outboundTrafficPolicy=" + m.outbound
	}
}

// crashWithin kills the manager 0–3s after start and starts it again.
func (e *env) crashWithin(rng *rand.Rand) time.Duration {
	after := time.Duration(rng.IntN(3000)) * time.Millisecond
	time.Sleep(after)
	e.killManager()
	e.startManager()
	return after
}

// restartAPIServerWithin restarts kube-apiserver (the same port, certificates and etcd) 0–3 s after
// start, under the running manager, and says when and how long the restart took.
func (e *env) restartAPIServerWithin(rng *rand.Rand) string {
	e.t.Helper()
	after := time.Duration(rng.IntN(3000)) * time.Millisecond
	time.Sleep(after)
	began := time.Now()
	if err := e.cluster.RestartAPIServer(e.ctx); err != nil {
		e.fail("restarting kube-apiserver: %v", err)
	}
	return fmt.Sprintf("restart kube-apiserver %s after (down %s)", after, time.Since(began).Round(100*time.Millisecond))
}

// commitThen makes a commit a fault can land in, then the fault, and says what it did: it creates the
// ServiceMesh (an install) or deletes it (an uninstall) now and then, else it changes the spec.
func commitThen(e *env, m *model, rng *rand.Rand, fault func() string) string {
	switch {
	case !m.installed && rng.IntN(2) == 0:
		m.installed = true
		e.applyMesh(m)
		return "create the ServiceMesh, " + fault()
	case m.installed && rng.IntN(4) == 0:
		m.installed = false
		e.deleteMesh()
		return "delete the ServiceMesh, " + fault()
	default:
		what := changeSpec(m, rng)
		e.applyMeshIfInstalled(m)
		return what + ", " + fault()
	}
}

var operations = []operation{
	{name: "enroll", weight: 3, ok: func(m *model) bool { return len(m.listed) < len(m.pool) },
		do: func(e *env, m *model, rng *rand.Rand, _ int) string {
			ns := pick(rng, m.pool, func(ns string) bool { return !m.listed[ns] })
			m.listed[ns] = true
			e.applyMeshIfInstalled(m)
			return "spec.injection.namespaces += " + ns
		}},
	{name: "unenroll", weight: 2, ok: func(m *model) bool { return len(m.listed) > 0 },
		do: func(e *env, m *model, rng *rand.Rand, _ int) string {
			ns := pick(rng, m.pool, func(ns string) bool { return m.listed[ns] })
			delete(m.listed, ns)
			e.applyMeshIfInstalled(m)
			return "spec.injection.namespaces -= " + ns
		}},
	{name: "select", weight: 2, ok: always,
		do: func(e *env, m *model, rng *rand.Rand, _ int) string {
			ns, on := toggleLabel(e, m, rng, selectorLabel, "on")
			return fmt.Sprintf("the user's label %s=on on %s: %t", selectorLabel, ns, on)
		}},
	{name: "own-injection-label", weight: 1, ok: always,
		do: func(e *env, m *model, rng *rand.Rand, _ int) string {
			ns, on := toggleLabel(e, m, rng, injectionLabel, "enabled")
			return fmt.Sprintf("the user's own label %s=enabled (meshkeeper's value) on %s: %t", injectionLabel, ns, on)
		}},
	{name: "label", weight: 2, ok: always,
		do: func(e *env, m *model, rng *rand.Rand, step int) string {
			ns := m.pool[rng.IntN(len(m.pool))]
			key := fmt.Sprintf("user.example/l%d", rng.IntN(3))
			m.nsLabels[ns][key] = fmt.Sprintf("v%d", step)
			e.applyNamespace(m, ns)
			return fmt.Sprintf("the user labels %s %s=%s", ns, key, m.nsLabels[ns][key])
		}},
	{name: "annotate-ingress", weight: 2, ok: always,
		do: func(e *env, m *model, rng *rand.Rand, step int) string {
			ns := m.pool[rng.IntN(len(m.pool))]
			key := fmt.Sprintf("user.example/a%d", rng.IntN(3))
			m.ingAnnots[ns][key] = fmt.Sprintf("v%d", step)
			e.applyIngress(m, ns)
			return fmt.Sprintf("the user annotates ingress %s/web %s=%s", ns, key, m.ingAnnots[ns][key])
		}},
	{name: "restart-controller", weight: 1, ok: always,
		do: func(e *env, m *model, _ *rand.Rand, step int) string {
			m.podRev = strconv.Itoa(step + 2) // the first value is 1
			e.applyController(m)
			return "the user changes the controller's pod template annotation to " + m.podRev
		}},
	{name: "spec", weight: 3, ok: always,
		do: func(e *env, m *model, rng *rand.Rand, _ int) string {
			what := changeSpec(m, rng)
			e.applyMeshIfInstalled(m)
			return what
		}},
	{name: "kill", weight: 2, ok: always,
		do: func(e *env, m *model, rng *rand.Rand, _ int) string {
			if rng.IntN(3) == 0 {
				e.killManager()
				e.startManager()
				return "SIGKILL the manager, restart it"
			}
			return commitThen(e, m, rng, func() string {
				return fmt.Sprintf("SIGKILL the manager %s after, restart it", e.crashWithin(rng))
			})
		}},
	{name: "restart-apiserver", weight: 1, ok: always,
		do: func(e *env, m *model, rng *rand.Rand, _ int) string {
			return commitThen(e, m, rng, func() string { return e.restartAPIServerWithin(rng) })
		}},
	{name: "faults", weight: 2, ok: always,
		do: func(e *env, m *model, rng *rand.Rand, _ int) string {
			e.proxy.SetFaultRate(burstFaultRate)
			what := changeSpec(m, rng)
			e.applyMeshIfInstalled(m)
			time.Sleep(burstDuration)
			e.proxy.SetFaultRate(0)
			return fmt.Sprintf("%s with %.0f%% of the manager's requests faulted for %s", what, 100*burstFaultRate, burstDuration)
		}},
	{name: "reinstall", weight: 1, weightUninstalled: 6, ok: always,
		do: func(e *env, m *model, _ *rand.Rand, _ int) string {
			m.installed = !m.installed
			if m.installed {
				e.applyMesh(m)
				return "create the ServiceMesh again"
			}
			e.deleteMesh()
			return "delete the ServiceMesh"
		}},
}

// draw picks an operation the model allows, weighted.
func draw(rng *rand.Rand, m *model) operation {
	weight := func(op operation) int {
		if !m.installed && op.weightUninstalled != 0 {
			return op.weightUninstalled
		}
		return op.weight
	}
	var allowed []operation
	total := 0
	for _, op := range operations {
		if op.ok(m) {
			allowed = append(allowed, op)
			total += weight(op)
		}
	}
	n := rng.IntN(total)
	for _, op := range allowed {
		if n < weight(op) {
			return op
		}
		n -= weight(op)
	}
	panic("unreachable")
}

// TestRandomSequences runs CHAOS_SEQUENCES (default 1) seeded random sequences of CHAOS_STEPS
// (default 8) operations each, on a new cluster each, and checks after every step, once the system
// settled, that the mesh is Ready or fully uninstalled, that meshkeeper's label, Sidecars and
// Ingress annotations are exactly on the enrolled namespaces, that no label or annotation of the
// users was lost, that the invariants of the fault tier hold (faultkit.Violations: no Helm release
// left pending, no webhook without its Service, no orphaned object), and that steady state writes
// nothing.
// CHAOS_SEED (default: the clock) replays a failed run: sequence i uses seed CHAOS_SEED+i.
func TestRandomSequences(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("CHAOS_SEED=%q: want an unsigned integer", v)
		}
	}
	sequences, steps := envInt(t, "CHAOS_SEQUENCES", 1), envInt(t, "CHAOS_STEPS", 8)
	t.Logf("CHAOS_SEED=%d CHAOS_SEQUENCES=%d CHAOS_STEPS=%d", seed, sequences, steps)
	start := time.Now()
	for i := range uint64(sequences) {
		s := seed + i
		if !t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) { runSequence(t, s, steps) }) {
			t.Logf("replay: CHAOS_SEED=%d CHAOS_SEQUENCES=1 CHAOS_STEPS=%d", s, steps)
			break
		}
	}
	t.Logf("%d sequences of %d steps in %s", sequences, steps, time.Since(start).Round(time.Second))
}

func runSequence(t *testing.T, seed uint64, steps int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(steps)*6*time.Minute+5*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(seed, 0))
	e := startEnv(ctx, t, seed)
	m := newModel("ns-a", "ns-b", "ns-c", "ns-d")
	e.createUserObjects(m)
	m.installed, m.listed["ns-a"] = true, true
	e.applyMesh(m)
	t.Logf("install: settled in %s (%s)", e.settle(m).Round(time.Second), m)
	counts := map[string]int{}
	for step := range steps {
		op := draw(rng, m)
		counts[op.name]++
		what := op.do(e, m, rng, step)
		t.Logf("step %d/%d %s: %s", step+1, steps, op.name, what)
		t.Logf("step %d/%d settled in %s (%s)", step+1, steps, e.settle(m).Round(time.Second), m)
	}
	names := make([]string, 0, len(counts))
	for name := range counts {
		names = append(names, fmt.Sprintf("%s×%d", name, counts[name]))
	}
	slices.Sort(names)
	t.Logf("operations: %v; manager starts: %d", names, e.starts)
}

// toggleLabel sets the user's label key=value on a random namespace of the pool, or removes it when the
// namespace has it, applies the namespace, and returns the namespace and whether the label is now set.
func toggleLabel(e *env, m *model, rng *rand.Rand, key, value string) (string, bool) {
	ns := m.pool[rng.IntN(len(m.pool))]
	if m.nsLabels[ns][key] == value {
		delete(m.nsLabels[ns], key)
	} else {
		m.nsLabels[ns][key] = value
	}
	e.applyNamespace(m, ns)
	return ns, m.nsLabels[ns][key] == value
}
