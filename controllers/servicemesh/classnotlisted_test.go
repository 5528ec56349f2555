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

package servicemesh

import (
	"strings"
	"testing"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Ingresses of a class the controller serves but spec.ingressNginx.ingressClassNames does not list are
// the mesh's to fix: IngressesConfigured's message says to list their classes.
func TestTheSkippedMessageSaysToListTheClassesNotListed(t *testing.T) {
	status := meshv1alpha1.IngressesStatus{Configured: 2, Skipped: 1,
		SkippedByReason: map[string]int32{meshv1alpha1.ReasonClassNotListed: 1}}
	message := skippedMessage(status, map[string][]string{meshv1alpha1.ReasonClassNotListed: {"shop/private"}})
	for _, want := range []string{"ClassNotListed: shop/private", "add their classes to spec.ingressNginx.ingressClassNames"} {
		if !strings.Contains(message, want) {
			t.Errorf("skippedMessage() = %q, want it to contain %q", message, want)
		}
	}
}
