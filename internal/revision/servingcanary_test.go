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
)

// TestDecideKeepsTheServingCanary covers a new spec.version set while a canary serves the canary
// namespaces: the canary that serves keeps them until the new target serves, and only then drains.
func TestDecideKeepsTheServingCanary(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		in             PlanInput
		canary, states string
		unused         []string
	}{
		"the serving canary keeps the namespaces while the new target is not ready": {
			in: PlanInput{Target: "1-31-2", TargetVersion: "1.31.2", Tagged: "1-31-0", Canary: true, Serving: "1-31-1",
				Grace: time.Hour, Now: now, Installed: []Installed{{Name: "1-31-0", Version: "1.31.0", Ready: true, Proxies: 3},
					{Name: "1-31-1", Version: "1.31.1", Ready: true, Proxies: 2}, {Name: "1-31-2", Version: "1.31.2"}}},
			canary: "1-31-1", states: "1-31-2=Canary,1-31-1=Canary,1-31-0=Active",
		},
		"the new target takes the namespaces once it is ready, and the earlier canary drains": {
			in: PlanInput{Target: "1-31-2", TargetVersion: "1.31.2", Tagged: "1-31-0", Canary: true, Serving: "1-31-1",
				Grace: time.Hour, Now: now, Installed: []Installed{{Name: "1-31-0", Version: "1.31.0", Ready: true, Proxies: 3},
					{Name: "1-31-1", Version: "1.31.1", Ready: true}, {Name: "1-31-2", Version: "1.31.2", Ready: true}}},
			canary: "1-31-2", states: "1-31-2=Canary,1-31-1=Draining,1-31-0=Active", unused: []string{"1-31-1"},
		},
		"an earlier canary that no longer serves does not keep them": {
			in: PlanInput{Target: "1-31-2", TargetVersion: "1.31.2", Tagged: "1-31-0", Canary: true, Serving: "1-31-1",
				Grace: time.Hour, Now: now, Installed: []Installed{{Name: "1-31-0", Version: "1.31.0", Ready: true, Proxies: 3},
					{Name: "1-31-1", Version: "1.31.1"}, {Name: "1-31-2", Version: "1.31.2"}}},
			states: "1-31-2=Canary,1-31-1=Draining,1-31-0=Active", unused: []string{"1-31-1"},
		},
		"a canary whose canary list was removed keeps nothing": {
			in: PlanInput{Target: "1-31-2", TargetVersion: "1.31.2", Tagged: "1-31-0", Serving: "1-31-1",
				Grace: time.Hour, Now: now, Installed: []Installed{{Name: "1-31-0", Version: "1.31.0", Ready: true, Proxies: 3},
					{Name: "1-31-1", Version: "1.31.1", Ready: true, Proxies: 2}, {Name: "1-31-2", Version: "1.31.2"}}},
			states: "1-31-2=Canary,1-31-1=Draining,1-31-0=Active",
		},
		"a rollback to the active version ends the canary": {
			in: PlanInput{Target: "1-31-0", TargetVersion: "1.31.0", Tagged: "1-31-0", Canary: true, Serving: "1-31-1",
				Grace: time.Hour, Now: now, Installed: []Installed{{Name: "1-31-0", Version: "1.31.0", Ready: true, Proxies: 3},
					{Name: "1-31-1", Version: "1.31.1", Ready: true, Proxies: 2}}},
			states: "1-31-1=Draining,1-31-0=Active",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			plan := Decide(tt.in)
			var states []string
			for _, r := range plan.Revisions {
				states = append(states, r.Name+"="+string(r.State))
			}
			if plan.Active != "1-31-0" || plan.Canary != tt.canary || strings.Join(states, ",") != tt.states ||
				strings.Join(plan.Unused, ",") != strings.Join(tt.unused, ",") {
				t.Errorf("Decide() = active %q canary %q states %s unused %v; want active 1-31-0 canary %q states %s unused %v",
					plan.Active, plan.Canary, strings.Join(states, ","), plan.Unused, tt.canary, tt.states, tt.unused)
			}
		})
	}
}
