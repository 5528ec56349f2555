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
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// ownerMemory is how long an owner of pods meshkeeper does not restart stays known after a pass last
// found it: its pods that come back within it (the next run of a CronJob, a Job's retried pod) are no
// news; after it, or after the restarts start over, they are reported again.
const ownerMemory = 24 * time.Hour

// maxOwnersGone is how many owners that the last pass did not find (whose pods finished or were
// deleted) ownersSeen keeps within ownerMemory. Past it, the ones a pass found longest ago are forgotten
// first, down to seven eighths of it, so that a pass sorts them only once in maxOwnersGone/8 owners
// gone.
const maxOwnersGone = 4096

// ownersSeen holds, by owner key (memoryKey), when a pass last found pods of that owner that need a
// restart and that meshkeeper does not restart. Its keys are made of names anyone who may create a pod
// chooses, so it is bounded: the owners the last pass found (the pods that run now), and at most
// maxOwnersGone others, each key at most maxOwnerKey bytes.
type ownersSeen map[string]time.Time

// maxOwnerKey is the longest owner key ownersSeen keeps as it is; a longer one is kept by its digest. A
// key of names Kubernetes validates ("StatefulSet <namespace>/<name>") is shorter, but a pod's owner
// reference may name a kind and a name of any length.
const maxOwnerKey = 512

// memoryKey is the key ownersSeen keeps for owner: owner itself, or its digest when longer than
// maxOwnerKey.
func memoryKey(owner string) string {
	if len(owner) <= maxOwnerKey {
		return owner
	}
	sum := sha256.Sum256([]byte(owner))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// seen records the owners a pass found at now, forgets those no pass found for ownerMemory, and the
// ones found longest ago beyond maxOwnersGone not found now, and returns those of owners that are news:
// not found by any pass of the last ownerMemory (or forgotten for the bound since).
func (s *ownersSeen) seen(owners sets.Set[string], now time.Time) sets.Set[string] {
	if *s == nil {
		*s = ownersSeen{}
	}
	news := sets.New[string]()
	found := make(sets.Set[string], len(owners))
	for owner := range owners {
		key := memoryKey(owner)
		found.Insert(key)
		if last, ok := (*s)[key]; !ok || now.Sub(last) >= ownerMemory {
			news.Insert(owner)
		}
		(*s)[key] = now
	}
	var gone []string
	for owner, last := range *s {
		switch {
		case now.Sub(last) >= ownerMemory:
			delete(*s, owner)
		case !found.Has(owner):
			gone = append(gone, owner)
		}
	}
	if len(gone) > maxOwnersGone {
		slices.SortFunc(gone, func(a, b string) int { return cmp.Or((*s)[a].Compare((*s)[b]), strings.Compare(a, b)) })
		for _, owner := range gone[:len(gone)-maxOwnersGone*7/8] {
			delete(*s, owner)
		}
	}
	return news
}

// cronJobRun matches the name the CronJob controller gives each Job it creates: the CronJob's name and
// the scheduled time in minutes since the Unix epoch, eight digits from 1989 to 2160.
var cronJobRun = regexp.MustCompile(`^(.+)-[0-9]{8}$`)

// ownerlessKey is the key of what controls a pod that belongs to no workload meshkeeper restarts:
// "Job <ns>/<name>", "Pod <ns>/<name>" for a bare pod, and "CronJob <ns>/<name>" for the Jobs of one
// CronJob, each run of which is a Job of a new name: its runs are one owner.
func ownerlessKey(pod *policy.ProxyPod) string {
	switch pod.Controller.Kind {
	case "":
		return "Pod " + pod.Namespace + "/" + pod.Name
	case "Job":
		if m := cronJobRun.FindStringSubmatch(pod.Controller.Name); m != nil {
			return "CronJob " + pod.Namespace + "/" + m[1]
		}
	}
	return pod.Controller.Kind + " " + pod.Namespace + "/" + pod.Controller.Name
}
