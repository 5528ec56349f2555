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

package generator

import (
	"fmt"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// The CSV is OLM's own type (github.com/operator-framework/api, pkg/operators/v1alpha1), so the
// generator cannot write a field OLM does not know, and the validators of the same module read it.

// readBaseCSV decodes base.clusterserviceversion.yaml strictly: a field the CSV type does not have
// is a typo OLM would drop.
func readBaseCSV() (*operatorsv1alpha1.ClusterServiceVersion, error) {
	csv := &operatorsv1alpha1.ClusterServiceVersion{}
	if err := yaml.UnmarshalStrict(baseCSV, csv); err != nil {
		return nil, fmt.Errorf("base.clusterserviceversion.yaml: %w", err)
	}
	if csv.Kind != operatorsv1alpha1.ClusterServiceVersionKind || csv.APIVersion != operatorsv1alpha1.SchemeGroupVersion.String() {
		return nil, fmt.Errorf("base.clusterserviceversion.yaml is a %s %s, not a %s %s", csv.APIVersion, csv.Kind,
			operatorsv1alpha1.SchemeGroupVersion, operatorsv1alpha1.ClusterServiceVersionKind)
	}
	return csv, nil
}

// marshalCSV encodes csv without its status, which OLM writes and a bundle leaves out.
func marshalCSV(csv *operatorsv1alpha1.ClusterServiceVersion) ([]byte, error) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(csv)
	if err != nil {
		return nil, fmt.Errorf("encoding the CSV: %w", err)
	}
	delete(obj, "status")
	return marshal(obj)
}
