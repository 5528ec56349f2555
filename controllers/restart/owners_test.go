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

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// The memory of owners found is bounded by what the last day's passes found: on a cluster where Jobs
// and bare pods come and go by the thousand, an owner no pass found for a day is forgotten, and its
// pods are news again.
func TestOwnersSeenForgetsWhatNoPassFoundForADay(t *testing.T) {
	var seen ownersSeen
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	if seen.seen(sets.New("Job shop/a", "Pod shop/b"), start).Len() == 0 {
		t.Fatal("the first owners found are not news")
	}
	if seen.seen(sets.New("Job shop/a"), start.Add(23*time.Hour)).Len() > 0 {
		t.Fatal("an owner found 23 hours ago is news")
	}
	if seen.seen(sets.New[string](), start.Add(24*time.Hour)).Len() > 0 {
		t.Fatal("no owner is news")
	}
	if _, ok := seen["Pod shop/b"]; ok || len(seen) != 1 {
		t.Fatalf("owners a day after any pass found them are kept: %v", seen)
	}
	if seen.seen(sets.New("Pod shop/b"), start.Add(25*time.Hour)).Len() == 0 {
		t.Fatal("an owner no pass found for a day is not news")
	}
}

// The runs of one CronJob are Jobs named after it and their scheduled time in minutes; they are one
// owner. A Job of another name is its own, and so is a bare pod.
func TestOwnerlessKeyTakesACronJobsRunsForOneOwner(t *testing.T) {
	pod := func(kind, owner, name string) *policy.ProxyPod {
		p := &policy.ProxyPod{}
		p.Namespace, p.Name = "shop", name
		p.Controller.Kind, p.Controller.Name = kind, owner
		return p
	}
	for _, c := range []struct {
		pod  *policy.ProxyPod
		want string
	}{
		{pod("Job", "backup-29412345", "backup-29412345-x7k2q"), "CronJob shop/backup"},
		{pod("Job", "backup-29412350", "backup-29412350-p9f4d"), "CronJob shop/backup"},
		{pod("Job", "backup-manual-1", "backup-manual-1-abcde"), "Job shop/backup-manual-1"},
		{pod("Job", "migrate-2941234", "migrate-2941234-abcde"), "Job shop/migrate-2941234"},
		{pod("ReplicaSet", "api-29412345", "api-29412345-abcde"), "ReplicaSet shop/api-29412345"},
		{pod("", "", "debug"), "Pod shop/debug"},
	} {
		if got := ownerlessKey(c.pod); got != c.want {
			t.Errorf("ownerlessKey(%s %s) = %q, want %q", c.pod.Controller.Kind, c.pod.Controller.Name, got, c.want)
		}
	}
}
