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
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
)

// Owner keys are made of names a namespace owner chooses: each pod they create in an enrolled
// namespace that needs a restart (one that carries the injector's status annotation of another
// revision, which the injector then leaves alone) adds its owner, and its owner reference may name
// any kind and any name. Owners that come and go within a day are kept at most maxOwnersGone at a
// time, the ones found longest ago forgotten first, so that a namespace owner who creates and deletes
// pods in a loop cannot grow the manager's memory for a day.
func TestOwnersSeenKeepsABoundedNumberOfOwnersGone(t *testing.T) {
	var seen ownersSeen
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	churn := maxOwnersGone * 2
	for i := range churn {
		if seen.seen(sets.New(fmt.Sprintf("Pod churn/debug-%d", i)), start.Add(time.Duration(i)*time.Second)).Len() == 0 {
			t.Fatalf("a bare pod of a new name (%d) is not news", i)
		}
	}
	if len(seen) > maxOwnersGone+1 {
		t.Fatalf("the memory holds %d owners after %d bare pods came and went within a day; want at most %d "+
			"(those gone, and the one the last pass found)", len(seen), churn, maxOwnersGone+1)
	}
	now := start.Add(time.Duration(churn) * time.Second)
	if seen.seen(sets.New(fmt.Sprintf("Pod churn/debug-%d", churn-2)), now).Len() > 0 {
		t.Fatal("an owner gone a moment ago is news")
	}
	if seen.seen(sets.New("Pod churn/debug-0"), now.Add(time.Second)).Len() == 0 {
		t.Fatal("the owner found longest ago is still known past maxOwnersGone others")
	}
}

// The owners the last pass found are never forgotten for the bound: they are the pods that run now,
// which the manager's cache holds anyway, and forgetting them would make each of the next passes news.
func TestOwnersSeenKeepsEveryOwnerTheLastPassFound(t *testing.T) {
	var seen ownersSeen
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	owners := sets.New[string]()
	for i := range maxOwnersGone + 100 {
		owners.Insert(fmt.Sprintf("Job batch/load-%d", i))
	}
	seen.seen(owners, start)
	if seen.seen(owners, start.Add(time.Minute)).Len() > 0 {
		t.Fatalf("%d owners found again a minute later are news", owners.Len())
	}
}

// An owner reference may name a kind and a name of any length (the API server checks only that they
// are not empty): the memory keeps a long key by its digest, so that a pod whose owner reference is a
// megabyte long costs it no more than any other, and two long keys that differ only at their end are
// still two owners.
func TestOwnersSeenKeepsALongKeyByItsDigest(t *testing.T) {
	var seen ownersSeen
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	long := "Job churn/" + strings.Repeat("x", 1<<20)
	if seen.seen(sets.New(long+"a"), start).Len() == 0 {
		t.Fatal("the first owner found is not news")
	}
	size := 0
	for key := range seen {
		size += len(key)
	}
	if size > 1024 {
		t.Fatalf("the memory holds %d bytes of keys for one owner", size)
	}
	if seen.seen(sets.New(long+"a"), start.Add(time.Minute)).Len() > 0 {
		t.Fatal("a long owner found again is news")
	}
	if news := seen.seen(sets.New(long+"a", long+"b"), start.Add(2*time.Minute)); !news.Equal(sets.New(long + "b")) {
		t.Fatalf("of two long owners, the one found before and one that differs from it only at its end, %d are news "+
			"(want the second, by its own name, which the Warning's order looks up)", news.Len())
	}
}
