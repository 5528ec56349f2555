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
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// observeNamespaces sets NamespacesEnrolled and status.namespaces from the namespaces as the cluster has
// them: a namespace counts as enrolled once it carries the injection label. It returns the enrolled ones.
func (r *ServiceMeshReconciler) observeNamespaces(ctx context.Context, s *scope) (sets.Set[string], error) {
	enrolledSet := sets.New[string]()
	enrollment, err := policy.NewEnrollment(&s.mesh.Spec, "")
	if err != nil {
		s.terminal = true
		s.setCondition(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionFalse, meshv1alpha1.ReasonInvalidSpec, err.Error())
		return enrolledSet, nil
	}
	namespaces := &corev1.NamespaceList{}
	if err := r.List(ctx, namespaces); err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	key, value := policy.InjectionLabel("")
	var enrolled int32
	var pending, conflicts []string
	for i := range namespaces.Items {
		ns := &namespaces.Items[i]
		d := enrollment.Namespace(ns, apply.OwnedKeys(ns, "labels"))
		switch {
		case d.Enroll && ns.Labels[key] == value:
			enrolled++
			enrolledSet.Insert(ns.Name)
		case d.Enroll:
			pending = append(pending, ns.Name)
		case d.Reason == policy.InjectionLabelConflict:
			conflicts = append(conflicts, ns.Name)
		}
	}
	s.status.Namespaces = meshv1alpha1.NamespacesStatus{Enrolled: enrolled, Conflicts: int32(len(conflicts))}
	metrics.EnrolledNamespaces.Set(float64(enrolled))
	metrics.NamespaceConflicts.Set(float64(len(conflicts)))

	switch {
	case len(conflicts) > 0:
		s.setCondition(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionFalse, meshv1alpha1.ReasonInjectionLabelConflict,
			fmt.Sprintf("%d namespace(s) the spec selects keep their own injection label and are not enrolled: %s; "+
				"remove their label to enroll them, or take them out of spec.injection (their Events say which label)",
				len(conflicts), names(conflicts)))
	case len(pending) > 0:
		s.setCondition(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling,
			fmt.Sprintf("%d namespace(s) being enrolled: %s", len(pending), names(pending)))
	default:
		s.setCondition(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionTrue, meshv1alpha1.ReasonEnrolled,
			fmt.Sprintf("%d namespace(s) enrolled", enrolled))
	}
	return enrolledSet, nil
}

// unenrollAll takes meshkeeper's injection label back from every namespace, leaving the user's labels.
func (r *ServiceMeshReconciler) unenrollAll(ctx context.Context) error {
	namespaces := &corev1.NamespaceList{}
	if err := r.List(ctx, namespaces); err != nil {
		return fmt.Errorf("listing namespaces: %w", err)
	}
	for i := range namespaces.Items {
		ns := &namespaces.Items[i]
		owned := apply.OwnedKeys(ns, "labels")
		if !owned.HasAny(sets.List(injectionKeys)...) || !ns.DeletionTimestamp.IsZero() {
			continue
		}
		if err := apply.Metadata(ctx, r.Client, ns, withOtherOwnedLabels(ns, owned, map[string]string{}), nil); err != nil {
			return err
		}
	}
	return nil
}

// names lists up to five names, sorted, for a message.
func names(list []string) string {
	sort.Strings(list)
	if len(list) > 5 {
		return strings.Join(list[:5], ", ") + fmt.Sprintf(" and %d more", len(list)-5)
	}
	return strings.Join(list, ", ")
}
