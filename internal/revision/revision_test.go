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

package revision

import (
	"strings"
	"testing"
	"time"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

func TestName(t *testing.T) {
	for version, want := range map[string]string{"1.31.1": "1-31-1", "1.30.0": "1-30-0", "1.31.0-beta.1": "1-31-0-beta-1"} {
		if got := Name(version); got != want {
			t.Errorf("Name(%q) = %q, want %q", version, got, want)
		}
	}
}

func TestGate(t *testing.T) {
	inPlace, revisions := meshv1alpha1.UpdateInPlace, meshv1alpha1.UpdateRevisionBased
	tests := map[string]struct {
		in GateInput
		// want is a part of the message; "" means allowed.
		want string
	}{
		"first install":             {GateInput{Strategy: inPlace, Target: "1.31.1", Kubernetes: "1.36"}, ""},
		"patch in place":            {GateInput{Strategy: inPlace, Target: "1.31.1", Running: []string{"1.31.0"}}, ""},
		"one minor in place":        {GateInput{Strategy: inPlace, Target: "1.31.1", Running: []string{"1.30.2"}}, ""},
		"two minors in place":       {GateInput{Strategy: inPlace, Target: "1.31.1", Running: []string{"1.29.0"}}, "upgrade through 1.30 first, or set spec.updateStrategy.type to RevisionBased"},
		"two minors with revisions": {GateInput{Strategy: revisions, Target: "1.31.1", Running: []string{"1.29.0"}}, ""},
		// The CNI agent serves every revision and moves in place: one minor at a time, whatever the strategy.
		"two minors with revisions and the CNI agent": {GateInput{Strategy: revisions, Target: "1.31.1", Running: []string{"1.29.0"}, CNIAgent: "1.29.0"},
			"more than one minor version from the CNI agent's 1.29.0"},
		"one minor with revisions and the CNI agent": {GateInput{Strategy: revisions, Target: "1.30.1", Running: []string{"1.29.0"}, CNIAgent: "1.29.0"}, ""},
		"a CNI agent left behind":                    {GateInput{Strategy: inPlace, Target: "1.31.1", Running: []string{"1.30.2"}, CNIAgent: "1.29.3"}, "upgrade through 1.30 first"},
		"a rollback two minors below the CNI agent":  {GateInput{Strategy: revisions, Target: "1.29.0", Running: []string{"1.31.1"}, CNIAgent: "1.31.1"}, "set spec.version to 1.30.0 or newer"},
		"a CNI agent of an unknown version":          {GateInput{Strategy: revisions, Target: "1.31.1", Running: []string{"1.29.0"}, CNIAgent: "master"}, ""},
		"three minors with revisions":                {GateInput{Strategy: revisions, Target: "1.34.0", Running: []string{"1.31.1"}}, "upgrade through 1.33 first"},
		"four minors in place":                       {GateInput{Strategy: inPlace, Target: "1.31.0", Running: []string{"1.27.0"}}, "upgrade through 1.28, then 1.29, then 1.30 first"},
		"every running revision counts":              {GateInput{Strategy: revisions, Target: "1.32.0", Running: []string{"1.31.0", "1.29.0"}}, "from the running 1.29.0"},
		"rollback one minor in place":                {GateInput{Strategy: inPlace, Target: "1.30.0", Running: []string{"1.31.1"}}, ""},
		"rollback two minors in place":               {GateInput{Strategy: inPlace, Target: "1.29.0", Running: []string{"1.31.1"}}, "set spec.version to 1.30.0 or newer"},
		"below the CRDs":                             {GateInput{Strategy: revisions, Target: "1.28.0", Running: []string{"1.30.0"}, CRDs: "1.31.1"}, "older than the installed Istio CRDs (1.31.1)"},
		"kubernetes too new":                         {GateInput{Strategy: revisions, Target: "1.30.0", Kubernetes: "1.37"}, "supports Kubernetes 1.32 to 1.36"},
		"kubernetes too old":                         {GateInput{Strategy: revisions, Target: "1.31.0", Kubernetes: "1.31"}, "supports Kubernetes 1.32 to 1.36"},
		"kubernetes of an unknown version":           {GateInput{Strategy: revisions, Target: "1.40.0", Kubernetes: "1.31"}, ""},
		// The ends of the supported range are supported.
		"kubernetes at the lowest supported":  {GateInput{Strategy: revisions, Target: "1.30.0", Kubernetes: "1.32"}, ""},
		"kubernetes at the highest supported": {GateInput{Strategy: inPlace, Target: "1.31.0", Kubernetes: "1.36"}, ""},
		"kubernetes of a provider's build":    {GateInput{Strategy: inPlace, Target: "1.31.0", Kubernetes: "1.32+"}, ""},
		"kubernetes of a provider's old build": {GateInput{Strategy: inPlace, Target: "1.31.0", Kubernetes: "1.31+"},
			"supports Kubernetes 1.32 to 1.36"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := Gate(tt.in)
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("Gate() = %q, want it to say %q", got, tt.want)
			}
		})
	}
}

// With the CNI agent, RevisionBased crosses no more minor versions than InPlace: the refusal of a jump
// of two in place does not send the user there.
func TestGateSuggestsNoCanaryThatTheCNIAgentRefuses(t *testing.T) {
	in := GateInput{Strategy: meshv1alpha1.UpdateInPlace, Target: "1.31.1", Running: []string{"1.29.0"}}
	if got := Gate(in); !strings.Contains(got, "RevisionBased") {
		t.Fatalf("Gate() without the agent = %q, want it to suggest RevisionBased", got)
	}
	in.CNIAgent = "1.29.0"
	if got := Gate(in); strings.Contains(got, "RevisionBased") || !strings.Contains(got, "upgrade through 1.30 first") {
		t.Errorf("Gate() with the agent = %q, want the way through 1.30 and no RevisionBased", got)
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ready := func(name, version string, proxies int32) Installed {
		return Installed{Name: name, Version: version, Ready: true, Proxies: proxies}
	}
	tests := map[string]struct {
		in             PlanInput
		active, canary string
		states         string
		prune          []string
		requeue        time.Duration
	}{
		"first install": {
			in:     PlanInput{Target: "1-31-1", TargetVersion: "1.31.1"},
			active: "1-31-1", states: "1-31-1=Active",
		},
		"new revision not ready keeps the tag": {
			in: PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Tagged: "1-31-0",
				Installed: []Installed{ready("1-31-0", "1.31.0", 3), {Name: "1-31-1", Version: "1.31.1"}}},
			active: "1-31-0", states: "1-31-1=Canary,1-31-0=Active",
		},
		"new revision ready takes the tag; the old drains while used": {
			in: PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Tagged: "1-31-0", Grace: time.Minute, Now: now,
				Installed: []Installed{ready("1-31-0", "1.31.0", 3), ready("1-31-1", "1.31.1", 0)}},
			active: "1-31-1", states: "1-31-1=Active,1-31-0=Draining",
		},
		"canary holds the tag back": {
			in: PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Tagged: "1-31-0", Canary: true,
				Installed: []Installed{ready("1-31-0", "1.31.0", 3), ready("1-31-1", "1.31.1", 0)}},
			active: "1-31-0", canary: "1-31-1", states: "1-31-1=Canary,1-31-0=Active",
		},
		"canary waits for the revision to be ready": {
			in: PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Tagged: "1-31-0", Canary: true,
				Installed: []Installed{ready("1-31-0", "1.31.0", 3), {Name: "1-31-1", Version: "1.31.1"}}},
			active: "1-31-0", states: "1-31-1=Canary,1-31-0=Active",
		},
		"canary that serves pods keeps serving while its istiod rolls out": {
			in: PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Tagged: "1-31-0", Canary: true,
				Installed: []Installed{ready("1-31-0", "1.31.0", 3), {Name: "1-31-1", Version: "1.31.1", Proxies: 2}}},
			active: "1-31-0", canary: "1-31-1", states: "1-31-1=Canary,1-31-0=Active",
		},
		"rollback to a revision that exists": {
			in: PlanInput{Target: "1-31-0", TargetVersion: "1.31.0", Tagged: "1-31-1", Grace: time.Minute, Now: now,
				Installed: []Installed{ready("1-31-0", "1.31.0", 3), ready("1-31-1", "1.31.1", 2)}},
			active: "1-31-0", states: "1-31-1=Draining,1-31-0=Active",
		},
		"unused revision waits for the grace period": {
			in: PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Tagged: "1-31-1", Grace: time.Minute, Now: now,
				UnusedSince: map[string]time.Time{"1-31-0": now.Add(-20 * time.Second)},
				Installed:   []Installed{ready("1-31-0", "1.31.0", 0), ready("1-31-1", "1.31.1", 5)}},
			active: "1-31-1", states: "1-31-1=Active,1-31-0=Draining", requeue: 40 * time.Second,
		},
		"unused revision past the grace period is pruned": {
			in: PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Tagged: "1-31-1", Grace: time.Minute, Now: now,
				UnusedSince: map[string]time.Time{"1-31-0": now.Add(-time.Minute)},
				Installed:   []Installed{ready("1-31-0", "1.31.0", 0), ready("1-31-1", "1.31.1", 5)}},
			active: "1-31-1", states: "1-31-1=Active,1-31-0=Draining", prune: []string{"1-31-0"},
		},
		"two unused revisions: the next pass comes when the first grace period ends": {
			in: PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Tagged: "1-31-1", Grace: time.Minute, Now: now,
				UnusedSince: map[string]time.Time{"1-30-2": now.Add(-10 * time.Second), "1-31-0": now.Add(-45 * time.Second)},
				Installed:   []Installed{ready("1-30-2", "1.30.2", 0), ready("1-31-0", "1.31.0", 0), ready("1-31-1", "1.31.1", 5)}},
			active: "1-31-1", states: "1-31-1=Active,1-31-0=Draining,1-30-2=Draining", requeue: 15 * time.Second,
		},
		"a namespace label keeps a revision": {
			in: PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Tagged: "1-31-1", Grace: 0, Now: now,
				Installed: []Installed{{Name: "1-31-0", Version: "1.31.0", Ready: true, Labelled: true}, ready("1-31-1", "1.31.1", 0)}},
			active: "1-31-1", states: "1-31-1=Active,1-31-0=Draining",
		},
		"the active revision is never pruned, even unused": {
			in: PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Tagged: "1-31-0", Grace: 0, Now: now,
				Installed: []Installed{ready("1-31-0", "1.31.0", 0), {Name: "1-31-1", Version: "1.31.1"}}},
			active: "1-31-0", states: "1-31-1=Canary,1-31-0=Active",
		},
		"the revision installed without a name drains like any other": {
			in: PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Grace: time.Minute, Now: now,
				Installed: []Installed{ready(Legacy, "1.31.0", 4), ready("1-31-1", "1.31.1", 0)}},
			active: "1-31-1", states: "1-31-1=Active,default=Draining",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			plan := Decide(tt.in)
			var states []string
			for _, r := range plan.Revisions {
				states = append(states, r.Name+"="+string(r.State))
			}
			if plan.Active != tt.active || plan.Canary != tt.canary || strings.Join(states, ",") != tt.states ||
				strings.Join(plan.Prune, ",") != strings.Join(tt.prune, ",") || plan.RequeueAfter != tt.requeue {
				t.Errorf("Decide() = active %q canary %q states %s prune %v requeue %v; want active %q canary %q states %s prune %v requeue %v",
					plan.Active, plan.Canary, strings.Join(states, ","), plan.Prune, plan.RequeueAfter,
					tt.active, tt.canary, tt.states, tt.prune, tt.requeue)
			}
		})
	}
}

func TestDecideReportsUnusedSince(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 500_000_000, time.UTC)
	installed := []Installed{{Name: "1-31-0", Version: "1.31.0", Ready: true}, {Name: "1-30-2", Version: "1.30.2", Ready: true},
		{Name: "1-31-1", Version: "1.31.1", Ready: true, Proxies: 5}}
	plan := Decide(PlanInput{Target: "1-31-1", TargetVersion: "1.31.1", Tagged: "1-31-1", Grace: time.Minute, Now: now,
		UnusedSince: map[string]time.Time{"1-31-0": now.Add(-20 * time.Second)}, Installed: installed})
	got := map[string]string{}
	for _, r := range plan.Revisions {
		if r.UnusedSince != nil {
			got[r.Name] = r.UnusedSince.UTC().Format(time.RFC3339Nano)
		}
	}
	want := map[string]string{
		"1-31-0": "2026-11-30T11:59:40.5Z", // as remembered
		"1-30-2": "2026-11-30T12:00:00Z",   // unused from now on, in the status's precision
	}
	if len(got) != len(want) || got["1-31-0"] != want["1-31-0"] || got["1-30-2"] != want["1-30-2"] {
		t.Errorf("UnusedSince = %v, want %v (the active revision has none)", got, want)
	}
}

// TestGateKeepsTheCNIAgentWithinOneMinorOfEveryRevision: the CNI agent follows the default tag, to the
// target once it takes the tag, while a revision that pods or a namespace's label keep goes on serving
// its pods on the same nodes. Judged against the agent's version alone, 1.31 passed with 1.30 active and
// 1.29 still in use, and the agent then ran two minor versions from istiod 1.29.
func TestGateKeepsTheCNIAgentWithinOneMinorOfEveryRevision(t *testing.T) {
	revisions := meshv1alpha1.UpdateRevisionBased
	active := Installed{Name: "1-30-2", Version: "1.30.2", Ready: true, Proxies: 12}
	tests := map[string]struct {
		in GateInput
		// want are parts of the message; none means allowed.
		want []string
	}{
		"a revision its pods keep": {
			in: GateInput{Strategy: revisions, Target: "1.31.0", Running: []string{"1.30.2", "1.29.0"}, CNIAgent: "1.30.2", Tagged: "1-30-2",
				Revisions: []Installed{active, {Name: "1-29-0", Version: "1.29.0", Ready: true, Proxies: 4}}},
			want: []string{"more than one minor version from the running revision 1-29-0 (Istio 1.29.0)", "CNI agent",
				"4 pod(s) run its proxy", "restarting those pods releases it"},
		},
		"a revision a namespace's label keeps": {
			in: GateInput{Strategy: revisions, Target: "1.31.0", Running: []string{"1.30.2", "1.29.0"}, CNIAgent: "1.30.2", Tagged: "1-30-2",
				Revisions: []Installed{active, {Name: "1-29-0", Version: "1.29.0", Ready: true, Labelled: true, Namespaces: []string{"legacy", "shop"}}}},
			want: []string{"revision 1-29-0", "namespace(s) legacy, shop are labelled istio.io/rev=1-29-0", "labelling those namespaces"},
		},
		"a rollback below a newer revision its pods keep": {
			in: GateInput{Strategy: revisions, Target: "1.29.0", Running: []string{"1.30.2", "1.31.1"}, CNIAgent: "1.30.2", Tagged: "1-30-2",
				Revisions: []Installed{active, {Name: "1-31-1", Version: "1.31.1", Ready: true, Proxies: 2}}},
			want: []string{"running revision 1-31-1 (Istio 1.31.1)", "2 pod(s) run its proxy"},
		},
		"without the CNI agent a canary crosses two minor versions": {
			in: GateInput{Strategy: revisions, Target: "1.31.0", Running: []string{"1.30.2", "1.29.0"}, Tagged: "1-30-2",
				Revisions: []Installed{active, {Name: "1-29-0", Version: "1.29.0", Ready: true, Proxies: 4}}},
		},
		"every revision within one minor version": {
			in: GateInput{Strategy: revisions, Target: "1.31.0", Running: []string{"1.30.2", "1.30.0"}, CNIAgent: "1.30.2", Tagged: "1-30-2",
				Revisions: []Installed{active, {Name: "1-30-0", Version: "1.30.0", Ready: true, Proxies: 4}}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := Gate(tt.in)
			if len(tt.want) == 0 && got != "" {
				t.Errorf("Gate() = %q, want it allowed", got)
			}
			for _, want := range tt.want {
				if !strings.Contains(got, want) {
					t.Errorf("Gate() = %q, want it to say %q", got, want)
				}
			}
		})
	}
}

// templateHold and webhookHold are holds as the pruning words them.
var (
	templateHold = Hold{Use: "the pod template of 1 workload (CronJob jobs/nightly) has istio.io/rev=1-29-0, whose next pods would start " +
		"without a sidecar once it is gone", Remedy: "you move their istio.io/rev label to a current revision or remove it"}
	webhookHold = Hold{Use: "webhook configuration MutatingWebhookConfiguration istio-revision-tag-prod (not meshkeeper's) sends requests " +
		"to its istiod", Remedy: "you delete it or point it at another revision"}
)

// TestGateNamesTheOldRevisionThatHoldsAnUpgradeBack: with 1.31 active and 1.29 kept by its pods, a
// namespace's label, or what the pruning holds it for, 1.32 is three minor versions from 1.29. The message said "upgrade through 1.31
// first", which already runs: it must name the revision that holds the upgrade back and what releases it.
func TestGateNamesTheOldRevisionThatHoldsAnUpgradeBack(t *testing.T) {
	active := Installed{Name: "1-31-1", Version: "1.31.1", Ready: true, Proxies: 20}
	tests := map[string]struct {
		old  Installed
		want []string
	}{
		"kept by its pods": {
			old: Installed{Name: "1-29-0", Version: "1.29.0", Ready: true, Proxies: 3},
			want: []string{"cannot be reached from the running revision 1-29-0 (Istio 1.29.0) in one step",
				"revision 1-29-0 (Istio 1.29.0) still runs because 3 pod(s) run its proxy", "restarting those pods releases it"},
		},
		"kept by a namespace's label": {
			old: Installed{Name: "1-29-0", Version: "1.29.0", Ready: true, Labelled: true, Namespaces: []string{"legacy"}},
			want: []string{"revision 1-29-0", "namespace(s) legacy are labelled istio.io/rev=1-29-0",
				"labelling those namespaces for the default tag (istio.io/rev=default or istio-injection=enabled) releases it"},
		},
		// Held by what the pruning holds it for: it says what holds it, and what lets it go, as the
		// RevisionPruneBlocked Event does.
		"held by a workload's pod template": {
			old: Installed{Name: "1-29-0", Version: "1.29.0", Ready: true, Holds: []Hold{templateHold}},
			want: []string{"cannot be reached from the running revision 1-29-0 (Istio 1.29.0) in one step",
				"revision 1-29-0 (Istio 1.29.0) still runs because " + templateHold.Use + "; meshkeeper keeps the revision until " + templateHold.Remedy},
		},
		"kept by its pods and held by a webhook": {
			old: Installed{Name: "1-29-0", Version: "1.29.0", Ready: true, Proxies: 3, Holds: []Hold{webhookHold}},
			want: []string{"still runs because 3 pod(s) run its proxy and " + webhookHold.Use,
				"restarting those pods releases it from them, and meshkeeper keeps the revision until " + webhookHold.Remedy},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := Gate(GateInput{Strategy: meshv1alpha1.UpdateRevisionBased, Target: "1.32.0", Running: []string{"1.31.1", "1.29.0"},
				Revisions: []Installed{active, tt.old}, Tagged: active.Name})
			for _, want := range tt.want {
				if !strings.Contains(got, want) {
					t.Errorf("Gate() = %q, want it to say %q", got, want)
				}
			}
			if strings.Contains(got, "upgrade through 1.31") {
				t.Errorf("Gate() = %q suggests a version that already runs", got)
			}
		})
	}
	// The active revision itself too far: the way through the versions between is the path.
	got := Gate(GateInput{Strategy: meshv1alpha1.UpdateRevisionBased, Target: "1.34.0", Running: []string{"1.31.1"},
		Revisions: []Installed{active}, Tagged: active.Name})
	if !strings.Contains(got, "upgrade through 1.33 first") {
		t.Errorf("Gate() = %q, want the way through 1.33", got)
	}
}
