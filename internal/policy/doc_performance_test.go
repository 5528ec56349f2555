// docs/performance.md gives the struct sizes of a 64-bit platform, which this test holds it to.
//go:build amd64 || arm64 || ppc64 || ppc64le || s390x || riscv64 || loong64 || mips64 || mips64le

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
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
)

// TestPerformanceDocSizesTheCachedPod: docs/performance.md gives what the cache holds a pod in, a
// ProxyPod, against a corev1.Pod before any field is set. Both are struct sizes, the same on every run
// on a 64-bit platform: a field added to ProxyPod, or a Kubernetes update that grows corev1.Pod, must
// change the page.
func TestPerformanceDocSizesTheCachedPod(t *testing.T) {
	page, err := os.ReadFile("../../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(page)), " ")
	m := regexp.MustCompile("where a `corev1.Pod` is ([\\d,]+) bytes before any field is set \\((\\d+) since").FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("docs/performance.md no longer gives the sizes of a ProxyPod and a corev1.Pod")
	}
	bytes := func(s string) uintptr { n, _ := strconv.Atoi(strings.ReplaceAll(s, ",", "")); return uintptr(n) }
	if size := unsafe.Sizeof(corev1.Pod{}); bytes(m[1]) != size {
		t.Errorf("docs/performance.md says a corev1.Pod is %s bytes; it is %d", m[1], size)
	}
	if size := unsafe.Sizeof(ProxyPod{}); bytes(m[2]) != size {
		t.Errorf("docs/performance.md says a ProxyPod is %s bytes; it is %d", m[2], size)
	}
}
