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

package testenv

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ServerNamespaces are the namespaces the API server creates itself.
var ServerNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// DeleteNamespace deletes the namespace name and what it holds, as the namespace controller would (no
// test API server runs one: without it a deleted namespace stays Terminating, and its objects stay),
// and waits until it is gone, so that a namespace of that name can be created afresh. Finalizers on
// its objects are removed: nothing that would honour them runs.
func (e *Env) DeleteNamespace(ctx context.Context, name string) error {
	// Every resource is listed, the deprecated ones (v1 Endpoints) too: their warnings say nothing here.
	config := rest.CopyConfig(e.Config)
	config.WarningHandler = rest.NoWarnings{}
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	lists, err := disco.ServerPreferredNamespacedResources()
	if err != nil {
		return fmt.Errorf("discovering the namespaced resources: %w", err)
	}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return err
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			if err := emptyResource(ctx, dyn.Resource(gv.WithResource(r.Name)).Namespace(name)); err != nil {
				return fmt.Errorf("deleting the %s of namespace %s: %w", r.Name, name, err)
			}
		}
	}
	namespaces := clientset.CoreV1().Namespaces()
	if err := namespaces.Delete(ctx, name, metav1.DeleteOptions{}); client.IgnoreNotFound(err) != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		ns, err := namespaces.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		} else if err != nil {
			return false, err
		}
		if len(ns.Spec.Finalizers) > 0 {
			ns.Spec.Finalizers = nil
			if _, err := namespaces.Finalize(ctx, ns, metav1.UpdateOptions{}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
				return false, err
			}
		}
		return false, nil
	})
}

// emptyResource deletes every object of one resource of a namespace, taking their finalizers off, and
// waits until they are gone.
func emptyResource(ctx context.Context, resource dynamic.ResourceInterface) error {
	return wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := resource.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, item := range list.Items {
			if len(item.GetFinalizers()) > 0 {
				_, err := resource.Patch(ctx, item.GetName(), types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
				if client.IgnoreNotFound(err) != nil {
					return false, err
				}
			}
			if item.GetDeletionTimestamp() == nil {
				if err := resource.Delete(ctx, item.GetName(), metav1.DeleteOptions{}); client.IgnoreNotFound(err) != nil {
					return false, err
				}
			}
		}
		return len(list.Items) == 0, nil
	})
}
