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

package policy

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
)

// check is one rule of a decision: matched says the rule decides the input, and reason and message
// say why. A decision is a list of checks tried in order; the first that matches wins, so the order
// of the list is the precedence of the rules.
type check[In any] func(In) (reason, message string, matched bool)

// firstMatch runs checks in order and returns the verdict of the first one that matches.
func firstMatch[In any](in In, checks ...check[In]) (reason, message string, matched bool) {
	for _, c := range checks {
		if reason, message, matched := c(in); matched {
			return reason, message, true
		}
	}
	return "", "", false
}

// toOwn is the part of want meshkeeper should own. A key someone else already set to exactly the
// wanted value is left out: their value does the job, and taking the key over would make it
// meshkeeper's to remove later.
func toOwn(current, want map[string]string, owned sets.Set[string]) map[string]string {
	own := make(map[string]string, len(want))
	for key, value := range want {
		if have, ok := current[key]; ok && have == value && !owned.Has(key) {
			continue
		}
		own[key] = value
	}
	return own
}

// joinAnd renders items as "a, b and c" for messages.
func joinAnd(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// joinOr renders items as "a, b or c" for messages.
func joinOr(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
