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

package restart_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// TestNotRestartableNamesTheNewOwnerFirst: the NotRestartable Warning is cut at the API server's limit
// of a note (1 KiB), and a namespace owner chooses the names of their pods and of their owner
// references, whose kind and name the API server does not bound. Owners already reported, with names
// of a kilobyte and sorting first, must not crowd out of the Warning the new owner that raised it: it
// is named first, and an owner's kind and name are cut to the lengths of the names the API server
// validates.
func TestNotRestartableNamesTheNewOwnerFirst(t *testing.T) {
	f := newFixture(t, "crowd", ptr.To[int32](10))
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	pod := func(name, kind, owner string) {
		t.Helper()
		g.Expect(c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: kind, Name: owner,
				UID: types.UID(name + "-owner"), Controller: ptr.To(true)}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}}})).To(Succeed())
	}
	for i := range 4 {
		pod(fmt.Sprintf("aaa-%d", i), "Widget", strings.Repeat(fmt.Sprint(i), 1000))
	}

	r, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	r.Recorder = meshctx.BoundedRecorder{EventRecorder: recorder} // as the manager records: cut at 1 KiB
	at := time.Now().UTC().Truncate(time.Second)
	pass(at)
	first := withReason(drain(recorder), meshv1alpha1.ReasonNotRestartable)
	g.Expect(first).To(HaveLen(1))
	g.Expect(first[0]).To(ContainSubstring(ns+"/aaa-0 (Widget "+strings.Repeat("0", 253-len("…"))+"…)"),
		"an owner's name is cut to the length of a name the API server validates")

	pod("zzz-new", "Gadget", "g")
	pass(at.Add(time.Minute))
	second := withReason(drain(recorder), meshv1alpha1.ReasonNotRestartable)
	g.Expect(second).To(HaveLen(1), "a new owner is news")
	g.Expect(second[0]).To(ContainSubstring("5 belong to no Deployment, StatefulSet or DaemonSet"))
	g.Expect(second[0]).To(ContainSubstring(ns+"/zzz-new (Gadget g)"), "the Warning names the owner that raised it")
}
