//go:build cluster

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

package fault

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// releaseWatch follows the release Secrets of the control-plane namespace through a watch, so a
// scenario sees every status a revision passes through (pending-install, pending-upgrade), however
// short, and can act the moment it appears. It records every status it saw, in order.
type releaseWatch struct {
	events chan *corev1.Secret
	mu     sync.Mutex
	seen   []string // "<release>.v<revision>=<status>"
}

// watchReleases starts watching the release Secrets of release (all releases when empty) before
// anything happens that a scenario waits for.
func (e *env) watchReleases(release string) *releaseWatch {
	e.t.Helper()
	clientset, err := kubernetes.NewForConfig(sim.RESTConfig())
	if err != nil {
		e.t.Fatal(err)
	}
	selector := "owner=helm"
	if release != "" {
		selector += ",name=" + release
	}
	ctx, cancel := context.WithCancel(e.ctx)
	e.t.Cleanup(cancel)
	list, err := clientset.CoreV1().Secrets(controlPlaneNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		e.t.Fatal(err)
	}
	w := &releaseWatch{events: make(chan *corev1.Secret, 1024)}
	rv := list.ResourceVersion
	go func() {
		for ctx.Err() == nil {
			watcher, err := clientset.CoreV1().Secrets(controlPlaneNamespace).Watch(ctx, metav1.ListOptions{
				LabelSelector: selector, ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				time.Sleep(poll) // the API server may be restarting
				continue
			}
			for event := range watcher.ResultChan() {
				s, ok := event.Object.(*corev1.Secret)
				if !ok {
					continue
				}
				rv = s.ResourceVersion
				if event.Type == watch.Added || event.Type == watch.Modified {
					w.mu.Lock()
					w.seen = append(w.seen, fmt.Sprintf("%s.v%s=%s", s.Labels["name"], s.Labels["version"], s.Labels["status"]))
					w.mu.Unlock()
					select {
					case w.events <- s:
					default:
					}
				}
			}
		}
	}()
	return w
}

// until waits for a release Secret that match accepts and returns it; it fails the test after
// timeout.
func (w *releaseWatch) until(e *env, what string, timeout time.Duration, match func(*corev1.Secret) bool) *corev1.Secret {
	e.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case s := <-w.events:
			if match(s) {
				return s
			}
		case <-deadline:
			e.fatalf("waiting %s for %s; release statuses seen: %v", timeout, what, w.statuses())
		}
	}
}

// statuses lists every status the watch saw, in order.
func (w *releaseWatch) statuses() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.seen...)
}

// status is a match for until: the release's Secret has the given status.
func status(release, want string) func(*corev1.Secret) bool {
	return func(s *corev1.Secret) bool { return s.Labels["name"] == release && s.Labels["status"] == want }
}

// overlaps lists the moments the watch saw a release with two revisions pending at once: two Helm
// actions on one release. A pending revision stops counting once it is marked anything else.
func (w *releaseWatch) overlaps() []string {
	var found []string
	pending := map[string]map[string]bool{} // release → pending revisions
	for _, seen := range w.statuses() {
		var release, revision, status string
		head, status, _ := strings.Cut(seen, "=")
		i := strings.LastIndex(head, ".v")
		release, revision = head[:i], head[i+2:]
		if pending[release] == nil {
			pending[release] = map[string]bool{}
		}
		if strings.HasPrefix(status, "pending") {
			pending[release][revision] = true
		} else {
			delete(pending[release], revision)
		}
		if len(pending[release]) > 1 {
			found = append(found, fmt.Sprintf("%s: revisions %v pending at once", release, slices.Sorted(maps.Keys(pending[release]))))
		}
	}
	return found
}

// enrollWatch counts, through a watch on Namespaces, how many of a set of namespaces match (carry an
// injection label, or the label that selects them), so a scenario can act the moment the n-th one does.
type enrollWatch struct {
	counts chan int
}

// watchNamespaces starts watching the namespaces names before they change.
func (e *env) watchNamespaces(names []string, match func(*corev1.Namespace) bool) *enrollWatch {
	e.t.Helper()
	clientset, err := kubernetes.NewForConfig(sim.RESTConfig())
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	e.t.Cleanup(cancel)
	list, err := clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	watched := map[string]bool{}
	for _, name := range names {
		watched[name] = true
	}
	enrolled := map[string]bool{}
	for _, ns := range list.Items {
		if watched[ns.Name] && match(&ns) {
			enrolled[ns.Name] = true
		}
	}
	w := &enrollWatch{counts: make(chan int, 1024)}
	rv := list.ResourceVersion
	go func() {
		for ctx.Err() == nil {
			watcher, err := clientset.CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
			if err != nil {
				time.Sleep(poll)
				continue
			}
			for event := range watcher.ResultChan() {
				ns, ok := event.Object.(*corev1.Namespace)
				if !ok || !watched[ns.Name] {
					continue
				}
				rv = ns.ResourceVersion
				if match(ns) && event.Type != watch.Deleted {
					enrolled[ns.Name] = true
				} else {
					delete(enrolled, ns.Name)
				}
				select {
				case w.counts <- len(enrolled):
				default:
				}
			}
		}
	}()
	return w
}

// until waits until at least n of the namespaces are enrolled and returns how many are.
func (w *enrollWatch) until(e *env, n int, timeout time.Duration) int {
	e.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case count := <-w.counts:
			if count >= n {
				return count
			}
		case <-deadline:
			e.fatalf("waiting %s for %d namespaces enrolled", timeout, n)
		}
	}
}

func injected(ns *corev1.Namespace) bool {
	return ns.Labels["istio-injection"] == "enabled" || ns.Labels["istio.io/rev"] != ""
}
