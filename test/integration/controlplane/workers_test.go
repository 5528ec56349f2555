//go:build envtest

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

package controlplane

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/controllers/namespace"
)

var _ = Describe("The controllers that write to every namespace and Ingress", func() {
	// One worker per controller waits for each write's answer in turn: on a cluster of 1,000
	// namespaces and 5,000 Ingresses that, not the client's rate limit, set the pace of enrollment.
	It("reconcile several objects at once", func() {
		Expect(namespace.Workers).To(BeNumerically(">", 1))
		Expect(ingress.Workers).To(BeNumerically(">", 4))
		Eventually(func() ([]string, error) {
			return missingMetrics(
				fmt.Sprintf(`controller_runtime_max_concurrent_reconciles{controller="namespace"} %d`, namespace.Workers),
				fmt.Sprintf(`controller_runtime_max_concurrent_reconciles{controller="ingress"} %d`, ingress.Workers),
			)
		}, installTimeout, poll).Should(BeEmpty())
	})
})
