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

package controllers

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"

	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/controllers/namespace"
	"github.com/meshkeeper/meshkeeper/controllers/servicemesh"
	internalpolicy "github.com/meshkeeper/meshkeeper/internal/policy"
)

// performanceDoc is docs/performance.md with its whitespace folded, so that a phrase broken across
// lines is found as one.
func performanceDoc(t *testing.T) string {
	t.Helper()
	page, err := os.ReadFile("../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(page)), " ")
}

// performanceNumbers are the number words docs/performance.md writes counts with.
var performanceNumbers = map[string]int{"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}

// TestPerformanceDocClientLimits: docs/performance.md tells the platform engineer the manager's
// client-side limits (200 requests per second in bursts of 400, per kind) and that --kube-api-qps=-1
// lifts them; a changed default or a -1 that no longer reaches client-go must change the page too.
func TestPerformanceDocClientLimits(t *testing.T) {
	limits := ClientLimits(&rest.Config{})
	doc := performanceDoc(t)
	phrase := "The default stays at " + strconv.Itoa(int(limits.QPS)) + " requests per second in bursts of " + strconv.Itoa(limits.Burst)
	if !strings.Contains(doc, phrase) {
		t.Errorf("docs/performance.md does not say %q: ClientLimits gives %g requests per second in bursts of %d", phrase, limits.QPS, limits.Burst)
	}
	lifted := withLimits(&rest.Config{}, -1, 0)
	if lifted.QPS >= 0 {
		t.Errorf("--kube-api-qps=-1 gives the client a QPS of %g; docs/performance.md says it lifts the limit", lifted.QPS)
	}
	if !strings.Contains(doc, "`--kube-api-qps=-1` (`extraArgs` in the Helm chart") {
		t.Error("docs/performance.md no longer says how to lift the limit (`--kube-api-qps=-1` through extraArgs)")
	}
}

// TestPerformanceDocIngressAnnotations: docs/performance.md lists the annotations the cache keeps of
// an Ingress; they must be policy.IngressAnnotationsRead, every one of them and no other.
func TestPerformanceDocIngressAnnotations(t *testing.T) {
	doc := performanceDoc(t)
	m := regexp.MustCompile(`of their annotations, only the (\w+) the Ingress decision reads \(` + "`policy.IngressAnnotationsRead`" + `: ([^)]*)\)`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("docs/performance.md no longer lists the Ingress annotations the cache keeps (`policy.IngressAnnotationsRead`: …)")
	}
	if performanceNumbers[m[1]] != len(internalpolicy.IngressAnnotationsRead) {
		t.Errorf("docs/performance.md says the cache keeps %s annotations of an Ingress; policy.IngressAnnotationsRead has %d",
			m[1], len(internalpolicy.IngressAnnotationsRead))
	}
	var listed []string
	for _, item := range strings.Split(m[2], ", ") {
		switch {
		case item == "the legacy class":
			listed = append(listed, internalpolicy.AnnotationIngressClass)
		case strings.HasPrefix(item, "`") && strings.HasSuffix(item, "`"):
			listed = append(listed, "nginx.ingress.kubernetes.io/"+strings.Trim(item, "`"))
		default:
			t.Errorf("docs/performance.md lists %q among the annotations, which names none", item)
		}
	}
	want := slices.Clone(internalpolicy.IngressAnnotationsRead)
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("docs/performance.md lists the annotations %v; the cache keeps policy.IngressAnnotationsRead, %v", listed, want)
	}
}

// TestPerformanceDocCacheExceptions: docs/performance.md says the manager's cache holds only
// meshkeeper's labelled objects of the chart kinds, Services excepted. A chart kind that comes to be
// cached whole in every namespace is memory a large cluster pays for, and the page must say so.
func TestPerformanceDocCacheExceptions(t *testing.T) {
	var cachedAll []string
	for _, kind := range servicemesh.ChartKinds {
		if kind.CacheAll {
			cachedAll = append(cachedAll, fmt.Sprintf("%T", kind.Object))
		}
	}
	if want := []string{fmt.Sprintf("%T", &corev1.Service{})}; !slices.Equal(cachedAll, want) {
		t.Errorf("the chart kinds cached in every namespace are %v; docs/performance.md names Services alone (%v)", cachedAll, want)
	}
	doc := performanceDoc(t)
	if !strings.Contains(doc, "never every ConfigMap of the cluster, with one exception: Services, which the Ingress decisions look up in every namespace, are all cached") {
		t.Error("docs/performance.md no longer says that Services are the one chart kind cached in every namespace")
	}
}

// TestPerformanceDocWorkers: docs/performance.md gives the namespace and Ingress controllers' worker
// counts, measured against the API server's floor; a change of either must change the page.
func TestPerformanceDocWorkers(t *testing.T) {
	doc := performanceDoc(t)
	phrase := "They now run " + strconv.Itoa(namespace.Workers) + " and " + strconv.Itoa(ingress.Workers) + " workers"
	if !strings.Contains(doc, phrase) {
		t.Errorf("docs/performance.md does not say %q: the namespace controller runs %d workers, the Ingress controller %d",
			phrase, namespace.Workers, ingress.Workers)
	}
	for _, phrase := range []string{
		"so the workers stay " + strconv.Itoa(ingress.Workers),
		"so they stay " + strconv.Itoa(namespace.Workers),
	} {
		if !strings.Contains(doc, phrase) {
			t.Errorf("docs/performance.md does not say %q", phrase)
		}
	}
}
