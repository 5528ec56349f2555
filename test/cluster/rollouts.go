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

package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// RolloutTracker follows every Deployment and StatefulSet of the cluster through a watch and records
// the most of them rolling out at once, cluster-wide and in any one namespace, counting only those
// whose pod template carries a given annotation (the one whose change started their rollout). A
// workload rolls out from the moment its spec changes until its controller reports every desired
// replica updated and available. Each change the watch delivers is counted, so no rollout between two
// samples goes unseen.
type RolloutTracker struct {
	annotation string
	stop       chan struct{}
	done       sync.WaitGroup

	mu      sync.Mutex
	rolling map[string]string // key: namespace
	most    int
	mostIn  map[string]int
}

// TrackRollouts starts a tracker of the workloads carrying annotation in their pod template; it has
// seen every workload when it returns. Stop it with Stop.
func TrackRollouts(ctx context.Context, client kubernetes.Interface, annotation string) (*RolloutTracker, error) {
	t := &RolloutTracker{annotation: annotation, stop: make(chan struct{}), rolling: map[string]string{}, mostIn: map[string]int{}}
	factory := informers.NewSharedInformerFactory(client, 0)
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    t.observe,
		UpdateFunc: func(_, obj any) { t.observe(obj) },
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			t.forget(obj)
		},
	}
	for _, informer := range []cache.SharedIndexInformer{factory.Apps().V1().Deployments().Informer(), factory.Apps().V1().StatefulSets().Informer()} {
		if _, err := informer.AddEventHandler(handler); err != nil {
			return nil, fmt.Errorf("following workloads: %w", err)
		}
	}
	factory.Start(t.stop)
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		factory.Shutdown()
	}()
	syncCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for typ, synced := range factory.WaitForCacheSync(syncCtx.Done()) {
		if !synced {
			t.Stop()
			return nil, fmt.Errorf("the watch of %v did not sync", typ)
		}
	}
	return t, nil
}

// Stop stops the watches.
func (t *RolloutTracker) Stop() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	t.done.Wait()
}

// Most returns the most workloads rolling out at once, cluster-wide and in any one namespace, so far.
func (t *RolloutTracker) Most() (total, inANamespace int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range t.mostIn {
		inANamespace = max(inANamespace, n)
	}
	return t.most, inANamespace
}

// Rolling is how many workloads roll out now.
func (t *RolloutTracker) Rolling() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.rolling)
}

func (t *RolloutTracker) observe(obj any) {
	var key, namespace string
	var rolling bool
	switch o := obj.(type) {
	case *appsv1.Deployment:
		key, namespace = "Deployment "+o.Namespace+"/"+o.Name, o.Namespace
		_, annotated := o.Spec.Template.Annotations[t.annotation]
		desired, s := replicas(o.Spec.Replicas), o.Status
		rolling = annotated && (s.ObservedGeneration < o.Generation || s.UpdatedReplicas != desired ||
			s.Replicas != desired || s.AvailableReplicas != desired)
	case *appsv1.StatefulSet:
		key, namespace = "StatefulSet "+o.Namespace+"/"+o.Name, o.Namespace
		_, annotated := o.Spec.Template.Annotations[t.annotation]
		desired, s := replicas(o.Spec.Replicas), o.Status
		rolling = annotated && (s.ObservedGeneration < o.Generation || s.UpdatedReplicas != desired ||
			s.AvailableReplicas != desired)
	default:
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !rolling {
		delete(t.rolling, key)
		return
	}
	t.rolling[key] = namespace
	in := 0
	for _, ns := range t.rolling {
		if ns == namespace {
			in++
		}
	}
	t.most = max(t.most, len(t.rolling))
	t.mostIn[namespace] = max(t.mostIn[namespace], in)
}

func (t *RolloutTracker) forget(obj any) {
	var key string
	switch o := obj.(type) {
	case *appsv1.Deployment:
		key = "Deployment " + o.Namespace + "/" + o.Name
	case *appsv1.StatefulSet:
		key = "StatefulSet " + o.Namespace + "/" + o.Name
	default:
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.rolling, key)
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
