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

// Package revision decides the revision-based upgrade of the control plane: the name of a version's
// revision, whether a version change is one Istio supports, and the role of every installed revision
// (which one the default tag points at, which serve canary namespaces, which may be removed). Pure
// functions of what was observed; the servicemesh controller carries them out.
package revision

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Serves tells whether a canary revision serves its canary namespaces: once its istiod is ready, and
// from then on while pods run its proxies, so a rollout of the canary istiod or a replica it loses does
// not send the canary namespaces back to the active revision (and, with automatic restarts, their
// workloads back and forth). A canary that serves no pod yet still follows its istiod's readiness.
func Serves(ready bool, proxies int32) bool { return ready || proxies > 0 }

// Legacy is the name of the revision of an istiod installed without a revision (the InPlace strategy).
const Legacy = "default"

// Name is the revision of an Istio version: the version with dots as dashes (1.31.1 is 1-31-1).
func Name(version string) string {
	return strings.ReplaceAll(version, ".", "-")
}

// Version is a parsed MAJOR.MINOR.PATCH; a pre-release suffix is kept as text.
type Version struct {
	Major, Minor, Patch int
	Pre                 string
}

// Parse reads MAJOR.MINOR.PATCH[-pre]; ok is false when the version has another form.
func Parse(version string) (v Version, ok bool) {
	core, pre, _ := strings.Cut(version, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return Version{}, false
	}
	nums := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return Version{}, false
		}
		nums[i] = n
	}
	return Version{Major: nums[0], Minor: nums[1], Patch: nums[2], Pre: pre}, true
}

// Compare orders versions; a version with a pre-release sorts before the release.
func Compare(a, b Version) int {
	if c := cmp.Or(cmp.Compare(a.Major, b.Major), cmp.Compare(a.Minor, b.Minor), cmp.Compare(a.Patch, b.Patch)); c != 0 {
		return c
	}
	switch {
	case a.Pre == b.Pre:
		return 0
	case a.Pre == "":
		return 1
	case b.Pre == "":
		return -1
	}
	return comparePre(a.Pre, b.Pre)
}

// comparePre orders two pre-releases as semantic versions do, identifier by identifier: numeric ones
// by value (rc.10 comes after rc.9, which the text alone would put first), a numeric one before a
// textual one, text by its bytes, and a pre-release that is the start of another before it.
func comparePre(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range min(len(as), len(bs)) {
		x, errX := strconv.ParseUint(as[i], 10, 64)
		y, errY := strconv.ParseUint(bs[i], 10, 64)
		var c int
		switch {
		case errX == nil && errY == nil:
			c = cmp.Compare(x, y)
		case errX == nil:
			c = -1
		case errY == nil:
			c = 1
		default:
			c = strings.Compare(as[i], bs[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}

// CompareStrings orders two version strings; one that does not parse sorts first.
func CompareStrings(a, b string) int {
	va, okA := Parse(a)
	vb, okB := Parse(b)
	switch {
	case !okA && !okB:
		return strings.Compare(a, b)
	case !okA:
		return -1
	case !okB:
		return 1
	}
	return Compare(va, vb)
}

func (v Version) minorString() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// minorDistance is how many minor versions lie from a to b (negative: b is older). Different majors
// count as far apart.
func minorDistance(a, b Version) int {
	if a.Major != b.Major {
		return 1000 * (b.Major - a.Major)
	}
	return b.Minor - a.Minor
}

// Window is how many minor versions Istio supports crossing in one step: in place one at a time, with
// revisions (canary) up to two.
func Window(strategy meshv1alpha1.UpdateStrategyType) int {
	if strategy == meshv1alpha1.UpdateRevisionBased {
		return 2
	}
	return 1
}

// kubernetesRange is the range of Kubernetes minor versions each Istio minor version supports, from
// Istio's support matrix. A version missing here is not checked.
var kubernetesRange = map[string][2]int{
	"1.30": {32, 36},
	"1.31": {32, 36},
}

// GateInput is what the upgrade gate looks at.
type GateInput struct {
	Strategy meshv1alpha1.UpdateStrategyType
	// Target is the version the spec asks for.
	Target string
	// Running are the versions of the control planes running now (empty on a first install).
	Running []string
	// CRDs is the newest version whose CRDs were installed ("" when unknown): CRDs only move forward.
	CRDs string
	// Kubernetes is the API server's version as MAJOR.MINOR ("" when unknown).
	Kubernetes string
	// CNIAgent is the Istio version the CNI agent runs ("" when none runs, or the mesh turns it off).
	// One agent serves every revision on a node and is upgraded in place: Istio supports it at most one
	// minor version from each control plane, whatever the strategy.
	CNIAgent string
	// Revisions are the revisions Running was read from, when the control plane runs as revisions, with
	// what keeps each; Tagged is the one the default tag points at. A refusal because of a revision that
	// runs only because pods, namespaces or holds (Installed.Holds) still keep it names the revision and
	// what keeps it.
	Revisions []Installed
	Tagged    string
}

// kept finds the revision of a running version that runs only because something still keeps it: not
// the one the default tag points at, but one whose proxies run, that a namespace's label names, or that
// something meshkeeper does not watch holds.
func (in GateInput) kept(version string) (Installed, bool) {
	for _, r := range in.Revisions {
		if r.Version == version && r.Name != in.Tagged && (r.Proxies > 0 || r.Labelled || len(r.Holds) > 0) {
			return r, true
		}
	}
	return Installed{}, false
}

// keptBy says what keeps a revision running and what releases it: the pods that run its proxy, which
// a restart moves to the revision of their namespace, the namespaces labelled for it, which a new
// label moves, and its holds, in the words of the RevisionPruneBlocked Event. Once nothing uses it, it
// is removed after the grace period.
func keptBy(r Installed) string {
	var uses, releases, remedies []string
	if r.Proxies > 0 {
		uses = append(uses, fmt.Sprintf("%d pod(s) run its proxy", r.Proxies))
		releases = append(releases, "restarting those pods")
	}
	if r.Labelled {
		labelled := "a namespace is"
		if len(r.Namespaces) > 0 {
			labelled = "namespace(s) " + strings.Join(r.Namespaces, ", ") + " are"
		}
		uses = append(uses, labelled+" labelled istio.io/rev="+r.Name)
		releases = append(releases, "labelling those namespaces for the default tag (istio.io/rev=default or istio-injection=enabled)")
	}
	for _, h := range r.Holds {
		uses = append(uses, h.Use)
		remedies = append(remedies, h.Remedy)
	}
	var then []string
	if len(releases) > 0 {
		released := " releases it, and it is removed once unused for the grace period"
		if len(remedies) > 0 {
			released = " releases it from them"
		}
		then = append(then, strings.Join(releases, " and ")+released)
	}
	if len(remedies) > 0 {
		then = append(then, "meshkeeper keeps the revision until "+strings.Join(remedies, ", and "))
	}
	return fmt.Sprintf("revision %s (Istio %s) still runs because %s; %s",
		r.Name, r.Version, strings.Join(uses, " and "), strings.Join(then, ", and "))
}

// Gate returns "" when Istio supports going to in.Target from what runs, or a message that says why
// not and which path works. It is checked before anything changes.
func Gate(in GateInput) string {
	target, ok := Parse(in.Target)
	if !ok {
		return ""
	}
	window := Window(in.Strategy)
	for _, running := range in.Running {
		from, ok := Parse(running)
		if !ok {
			continue
		}
		d := minorDistance(from, target)
		if r, kept := in.kept(running); d > window && kept {
			// A way through the versions between would start from the active revision, which may run one
			// of them already: what holds the target back is what keeps the old revision.
			return fmt.Sprintf("Istio %s cannot be reached from the running revision %s (Istio %s) in one step: %s upgrades cross at most %d "+
				"minor version(s) from every running control plane; %s", in.Target, r.Name, r.Version, strategyName(in.Strategy), window, keptBy(r))
		}
		if d > window {
			via := make([]string, 0, 2)
			for m := from.Minor + window; m < target.Minor; m += window {
				via = append(via, fmt.Sprintf("%d.%d", target.Major, m))
			}
			path := "upgrade through " + strings.Join(via, ", then ") + " first"
			if in.Strategy != meshv1alpha1.UpdateRevisionBased && d <= 2 && in.CNIAgent == "" {
				path += ", or set spec.updateStrategy.type to RevisionBased, which crosses two minor versions in one canary upgrade"
			}
			return fmt.Sprintf("Istio %s cannot be reached from the running %s in one step: %s upgrades cross at most %d minor version(s); %s",
				in.Target, running, strategyName(in.Strategy), window, path)
		}
		if d < -window {
			return fmt.Sprintf("Istio %s is more than %d minor version(s) older than the running %s, which %s upgrades cannot roll back; "+
				"set spec.version to %s or newer", in.Target, window, running, strategyName(in.Strategy),
				fmt.Sprintf("%d.%d.0", from.Major, from.Minor-window))
		}
	}
	if crds, ok := Parse(in.CRDs); ok && minorDistance(crds, target) < -2 {
		return fmt.Sprintf("Istio %s is older than the installed Istio CRDs (%s) support: CRDs are never downgraded, and they serve control planes "+
			"at most two minor versions older; set spec.version to %d.%d.0 or newer", in.Target, in.CRDs, crds.Major, crds.Minor-2)
	}
	if agent, ok := Parse(in.CNIAgent); ok {
		if d := minorDistance(agent, target); d > 1 || d < -1 {
			var via []string
			for m := agent.Minor + 1; m < target.Minor; m++ {
				via = append(via, fmt.Sprintf("%d.%d", target.Major, m))
			}
			path := fmt.Sprintf("set spec.version to %d.%d.0 or newer", agent.Major, agent.Minor-1)
			if d > 1 {
				path = "upgrade through " + strings.Join(via, ", then ") + " first"
			}
			return fmt.Sprintf("Istio %s is more than one minor version from the CNI agent's %s: the agent (spec.cni) serves every "+
				"revision on its node, is upgraded in place, and Istio supports it at most one minor version from each control plane; %s",
				in.Target, in.CNIAgent, path)
		}
	}
	if _, ok := Parse(in.CNIAgent); ok {
		// The agent follows the default tag, to the target once it takes the tag, while every other
		// running control plane keeps serving its pods: each must be within one minor version of it.
		for _, running := range in.Running {
			from, ok := Parse(running)
			if !ok {
				continue
			}
			if d := minorDistance(from, target); d <= 1 && d >= -1 {
				continue
			}
			const why = "the CNI agent (spec.cni) follows the default tag to it and serves every revision on its node, and Istio " +
				"supports it at most one minor version from each control plane"
			if r, ok := in.kept(running); ok {
				return fmt.Sprintf("Istio %s is more than one minor version from the running revision %s (Istio %s): %s; %s",
					in.Target, r.Name, r.Version, why, keptBy(r))
			}
			return fmt.Sprintf("Istio %s is more than one minor version from the running %s: %s", in.Target, running, why)
		}
	}
	if r, known := kubernetesRange[target.minorString()]; known && in.Kubernetes != "" {
		major, minorPart, _ := strings.Cut(in.Kubernetes, ".")
		minor, err := strconv.Atoi(strings.TrimRight(minorPart, "+"))
		if major == "1" && err == nil && (minor < r[0] || minor > r[1]) {
			return fmt.Sprintf("Istio %s supports Kubernetes 1.%d to 1.%d, and this cluster runs Kubernetes %s; "+
				"choose an Istio version that supports Kubernetes %s, or upgrade the cluster first", in.Target, r[0], r[1], in.Kubernetes, in.Kubernetes)
		}
	}
	return ""
}

func strategyName(s meshv1alpha1.UpdateStrategyType) string {
	if s == meshv1alpha1.UpdateRevisionBased {
		return "revision-based (canary)"
	}
	return "in-place"
}

// Installed is one revision found in the cluster.
type Installed struct {
	Name, Version string
	// Ready: its istiod is rolled out and available.
	Ready bool
	// Proxies counts the pods (not finished) whose proxy depends on it: those whose sidecar it injected,
	// and the gateways it deployed for Gateway API Gateways (policy.ProxyRevision).
	Proxies int32
	// Labelled: a namespace labelled istio.io/rev=<name> selects it (its owner, or meshkeeper on a canary
	// namespace it has not moved yet).
	Labelled bool
	// Namespaces are the namespaces whose label selects it, sorted (for the messages).
	Namespaces []string
	// Holds are what keeps it past its grace period though no pod or namespace uses it, as the pruning
	// found them: a webhook configuration that is not meshkeeper's sending requests to its istiod, the
	// pod templates of workloads that name it. Such a revision is not removed, so a version change is
	// judged from it as from one in use.
	Holds []Hold
	// NeverDeployed: its release has no deployed record, only those of an install that failed or was
	// cut short. Once the spec moved away from it, nothing retries that install; unused, it is removed.
	NeverDeployed bool
	// Elsewhere maps each istiod of another installation that has the same revision name (its Service,
	// <name>.<namespace>) to the namespaces, sorted, of the pods (not finished) whose proxy names the
	// revision but gets its configuration from that istiod: that installation's injector selects the
	// same istio.io/rev label as this one's. Those pods are not counted in Proxies. Nil when none.
	Elsewhere map[string][]string
}

// Hold is one thing meshkeeper does not watch that keeps an unused revision past its grace period,
// as the RevisionPruneBlocked Event says it.
type Hold struct {
	// Use says what holds the revision ("the pod template of 1 workload (CronJob jobs/nightly) has ...").
	Use string
	// Remedy says what lets it go, after "until" ("you move their istio.io/rev label to a current revision
	// or remove it").
	Remedy string
}

// PlanInput is what the plan looks at.
type PlanInput struct {
	// Target is the revision of spec.version, TargetVersion its version.
	Target, TargetVersion string
	// Tagged is the revision the default tag points at now ("" when there is no tag yet).
	Tagged string
	// Canary: spec.updateStrategy.canary lists namespaces.
	Canary bool
	// Serving is the revision that served the canary namespaces when the revisions were last planned
	// ("" when none did): a canary of an earlier spec.version, which keeps them until the target serves.
	Serving string
	// Installed are the revisions found, the target among them once its release exists.
	Installed []Installed
	// UnusedSince says since when each revision is known to be unused (zero: not known so).
	UnusedSince map[string]time.Time
	Now         time.Time
	Grace       time.Duration
}

// Plan is what the controller makes of the revisions.
type Plan struct {
	// Active is the revision the default tag should point at.
	Active string
	// Canary is the revision canary namespaces are labelled with ("" when none).
	Canary string
	// Revisions is the status of every revision, newest first.
	Revisions []meshv1alpha1.RevisionStatus
	// Unused are the revisions unused now (for UnusedSince); Prune those unused for the grace period.
	Unused, Prune []string
	// RequeueAfter is when the next revision's grace period ends (zero: none pending).
	RequeueAfter time.Duration
}

// Decide makes the plan: the tag moves to the target once it is ready and no canary holds it back;
// until then it stays on the revision it points at. The canary namespaces move to the target once it
// serves (Serves); until then a canary of an earlier spec.version that still serves keeps them, so a
// new canary started during one does not send them back to the active revision, and their workloads
// back and forth. A revision is kept while it is active, the target, the canary, named by a namespace
// label, or used by a pod; otherwise it is removed once unused for the grace period.
func Decide(in PlanInput) Plan {
	byName := map[string]Installed{}
	for _, r := range in.Installed {
		byName[r.Name] = r
	}
	target, targetFound := byName[in.Target]
	_, taggedFound := byName[in.Tagged]
	plan := Plan{Active: in.Target}
	switch {
	case !taggedFound || in.Tagged == in.Target:
		// First install, or the tag's revision is gone: the target is the only candidate.
	case !targetFound || !target.Ready || in.Canary:
		plan.Active = in.Tagged
	}
	if plan.Active != in.Target && in.Canary {
		if targetFound && Serves(target.Ready, target.Proxies) {
			plan.Canary = in.Target
		} else if serving, ok := byName[in.Serving]; ok && in.Serving != plan.Active && Serves(serving.Ready, serving.Proxies) {
			plan.Canary = in.Serving
		}
	}

	list := slices.Clone(in.Installed)
	if !targetFound {
		list = append(list, Installed{Name: in.Target, Version: in.TargetVersion})
	}
	slices.SortFunc(list, func(a, b Installed) int {
		return cmp.Or(-CompareStrings(a.Version, b.Version), strings.Compare(a.Name, b.Name))
	})
	for _, r := range list {
		state := meshv1alpha1.RevisionDraining
		switch r.Name {
		case plan.Active:
			state = meshv1alpha1.RevisionActive
		case in.Target, plan.Canary:
			state = meshv1alpha1.RevisionCanary
		}
		plan.Revisions = append(plan.Revisions, meshv1alpha1.RevisionStatus{
			Name: r.Name, Version: r.Version, State: state, Ready: r.Ready, Proxies: r.Proxies})
		if state != meshv1alpha1.RevisionDraining || r.Proxies > 0 || r.Labelled {
			continue
		}
		plan.Unused = append(plan.Unused, r.Name)
		since, known := in.UnusedSince[r.Name]
		if !known || since.IsZero() {
			since = in.Now.Truncate(time.Second) // as the status keeps it
		}
		plan.Revisions[len(plan.Revisions)-1].UnusedSince = &metav1.Time{Time: since}
		left := in.Grace - in.Now.Sub(since)
		if left <= 0 {
			plan.Prune = append(plan.Prune, r.Name)
			continue
		}
		if plan.RequeueAfter == 0 || left < plan.RequeueAfter {
			plan.RequeueAfter = left
		}
	}
	return plan
}
