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

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"

	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// A restart that rolled out and whose own pods still need one is not made again while what they are
// judged against holds; anything that may change what a restart brings makes the workload a candidate
// again.
func TestAFutileRestartIsHeldUntilWhatItWasForChanges(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	want := target{revision: "default", version: "1.31.1"}
	// reconciler has applied the restart for want, and seen it roll out, unless told otherwise.
	reconciler := func(applied, rolledOut bool) *Reconciler {
		r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
		if applied {
			r.rememberTarget(&candidate{workload: cachedDeployment("uid-1", restarted), target: want})
		}
		if rolledOut {
			r.track(&pass{now: restarted.Add(time.Minute)}, cachedDeployment("uid-1", restarted), shop)
		}
		return r
	}
	candidateOf := func(uid types.UID, oldest time.Time, judged target) *candidate {
		return &candidate{workload: cachedDeployment(uid, restarted), oldest: oldest, newest: oldest, target: judged}
	}
	// recordedFor is a candidate whose workload's restarted-for annotation holds the digest of recorded,
	// as meshkeeper's restart writes it.
	recordedFor := func(recorded, judged target) *candidate {
		c := candidateOf("uid-1", restarted.Add(10*time.Second), judged)
		c.restartedFor = recorded.digest()
		return c
	}
	ownPods := restarted.Add(10 * time.Second)
	changed := func(change func(*target)) target {
		t := want
		change(&t)
		return t
	}
	for name, tc := range map[string]struct {
		r      *Reconciler
		c      *candidate
		futile bool
	}{
		"its own pods still need one":                            {reconciler(true, true), candidateOf("uid-1", ownPods, want), true},
		"a restarted manager, the restart recorded for the same": {reconciler(false, true), recordedFor(want, want), true},
		"a restarted manager, the restart recorded for another": {reconciler(false, true),
			recordedFor(want, changed(func(t *target) { t.version = "1.31.2" })), false},
		"a restarted manager, the restart not rolled out":      {reconciler(false, false), recordedFor(want, want), false},
		"a restarted manager, a restart that recorded nothing": {reconciler(false, true), candidateOf("uid-1", ownPods, want), false},
		"in memory for another, recorded for the same": {reconciler(true, true),
			func() *candidate { c := recordedFor(want, want); c.target.version = "1.31.2"; return c }(), false},
		"not rolled out yet":  {reconciler(true, false), candidateOf("uid-1", ownPods, want), false},
		"a pod from before":   {reconciler(true, true), candidateOf("uid-1", restarted.Add(-time.Hour), want), false},
		"a workload replaced": {reconciler(true, true), candidateOf("uid-2", ownPods, want), false},
		"a new version": {reconciler(true, true),
			candidateOf("uid-1", ownPods, changed(func(t *target) { t.version = "1.31.2" })), false},
		"a new revision": {reconciler(true, true),
			candidateOf("uid-1", ownPods, changed(func(t *target) { t.revision = "1-31-2" })), false},
		"a new proxy tag": {reconciler(true, true),
			candidateOf("uid-1", ownPods, changed(func(t *target) { t.proxyTag = "1.31.1-fips" })), false},
		"a new data-plane mode": {reconciler(true, true),
			candidateOf("uid-1", ownPods, changed(func(t *target) { t.cni = true })), false},
		"a new mesh config": {reconciler(true, true),
			candidateOf("uid-1", ownPods, changed(func(t *target) { t.meshConfigSince = restarted.Add(time.Hour) })), false},
		"enrolled again": {reconciler(true, true),
			candidateOf("uid-1", ownPods, changed(func(t *target) { t.namespaceSince = restarted.Add(time.Hour) })), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tc.r.futile(tc.c); got != tc.futile {
				t.Errorf("futile = %t, want %t", got, tc.futile)
			}
		})
	}

	// Each part of the target is part of its digest.
	for name, change := range map[string]func(*target){
		"revision": func(t *target) { t.revision = "1-31-2" }, "version": func(t *target) { t.version = "1.31.2" },
		"proxy tag": func(t *target) { t.proxyTag = "1.31.1-fips" }, "data-plane mode": func(t *target) { t.cni = true },
		"mesh config": func(t *target) { t.meshConfigSince = restarted }, "enrollment": func(t *target) { t.namespaceSince = restarted },
	} {
		if changed(change).digest() == want.digest() {
			t.Errorf("a target of another %s has the same digest", name)
		}
	}
	if a, b := changed(func(t *target) { t.meshConfigSince = restarted }), changed(func(t *target) { t.namespaceSince = restarted }); a.digest() == b.digest() {
		t.Error("the mesh config's time and the enrollment's have the same digest")
	}

	// Once the annotation is gone, so is the record.
	r := reconciler(true, true)
	r.forgetCompleted(nil)
	if len(r.targets) != 0 || len(r.completed) != 0 {
		t.Errorf("records %v, %v of a workload no longer annotated", r.targets, r.completed)
	}
}

// The Event says what keeps the new pods from the current sidecar.
func TestAFutileRestartSaysWhy(t *testing.T) {
	want := target{revision: "default", version: "1.31.1"}
	for pod, why := range map[*policy.ProxyPod]string{
		{HasProxy: true, Injected: true, InjectedRevision: "default", ProxyImage: "docker.io/istio/proxyv2:1.30.0"}: "its new pods run docker.io/istio/proxyv2:1.30.0, not the tag 1.31.1",
		{HasProxy: true, Injected: true, InjectedRevision: "1-30-0", ProxyImage: "docker.io/istio/proxyv2:1.30.0"}:  "its new pods are injected by revision 1-30-0, not default",
		{}: "its new pods have no sidecar",
		{HasProxy: true, Injected: true, InjectedRevision: "default", ProxyImage: "docker.io/istio/proxyv2:1.31.1", InjectedForCNI: true}: "its new pods carry istio-validation, injected for a CNI agent the mesh no longer runs",
		{HasProxy: true, Injected: true, InjectedRevision: "default", ProxyImage: "docker.io/istio/proxyv2:1.31.1"}:                       "its new pods still need a restart",
	} {
		c := &candidate{workload: cachedDeployment("uid-1", time.Time{}), sample: pod, target: want}
		if got := c.stuck(); got != why {
			t.Errorf("stuck() = %q, want %q", got, why)
		}
	}
}
