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
	"regexp"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// ownerMemory is how long an owner of pods meshkeeper does not restart stays known after a pass last
// found it: its pods that come back within it (the next run of a CronJob, a Job's retried pod) are no
// news; after it, or after the restarts start over, they are reported again.
const ownerMemory = 24 * time.Hour

// ownersSeen holds, by owner key, when a pass last found pods of that owner that need a restart and
// that meshkeeper does not restart.
type ownersSeen map[string]time.Time

// seen records the owners a pass found at now, forgets those no pass found for ownerMemory, and says
// whether one of owners is news: not found by any pass of the last ownerMemory.
func (s *ownersSeen) seen(owners sets.Set[string], now time.Time) bool {
	if *s == nil {
		*s = ownersSeen{}
	}
	news := false
	for owner := range owners {
		if last, ok := (*s)[owner]; !ok || now.Sub(last) >= ownerMemory {
			news = true
		}
		(*s)[owner] = now
	}
	for owner, last := range *s {
		if now.Sub(last) >= ownerMemory {
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
