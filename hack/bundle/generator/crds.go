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
	"encoding/json"
	"fmt"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// selectDescriptor is the console's drop-down for one allowed value of a field.
const selectDescriptor = "urn:alm:descriptor:com.tectonic.ui:select:"

// ownedCRDs completes the owned CRDs of the base CSV from the CRDs themselves: one entry per served
// version, with the kind, the schema's description of the resource, each descriptor's description
// from the schema's description of its field, so the console shows what `kubectl explain` shows, and
// the resources its objects own, by CRD name. A descriptor whose path the schema does not have is an
// error.
func ownedCRDs(base []operatorsv1alpha1.CRDDescription, crds []crdFile,
	resources map[string][]operatorsv1alpha1.APIResourceReference) ([]operatorsv1alpha1.CRDDescription, error) {
	byName := map[string]operatorsv1alpha1.CRDDescription{}
	for _, b := range base {
		byName[b.Name] = b
	}
	var owned []operatorsv1alpha1.CRDDescription
	for _, f := range crds {
		crd := f.crd
		b, ok := byName[crd.Name]
		if !ok {
			return nil, fmt.Errorf("base.clusterserviceversion.yaml does not describe the CRD %s", crd.Name)
		}
		delete(byName, crd.Name)
		if len(b.Resources) > 0 {
			return nil, fmt.Errorf("base.clusterserviceversion.yaml lists resources of %s, which are generated", crd.Name)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				return nil, fmt.Errorf("CRD %s version %s has no schema", crd.Name, v.Name)
			}
			schema := v.Schema.OpenAPIV3Schema
			d := operatorsv1alpha1.CRDDescription{
				Name:        crd.Name,
				Version:     v.Name,
				Kind:        crd.Spec.Names.Kind,
				DisplayName: b.DisplayName,
				Description: oneLine(schema.Description),
				Resources:   resources[crd.Name],
			}
			var err error
			if d.SpecDescriptors, err = describe(b.SpecDescriptors, schema, "spec", true); err != nil {
				return nil, fmt.Errorf("CRD %s version %s: %w", crd.Name, v.Name, err)
			}
			statusBase := make([]operatorsv1alpha1.SpecDescriptor, len(b.StatusDescriptors))
			for i, s := range b.StatusDescriptors {
				statusBase[i] = operatorsv1alpha1.SpecDescriptor(s)
			}
			status, err := describe(statusBase, schema, "status", false)
			if err != nil {
				return nil, fmt.Errorf("CRD %s version %s: %w", crd.Name, v.Name, err)
			}
			for _, s := range status {
				d.StatusDescriptors = append(d.StatusDescriptors, operatorsv1alpha1.StatusDescriptor(s))
			}
			owned = append(owned, d)
		}
	}
	for name := range byName {
		return nil, fmt.Errorf("base.clusterserviceversion.yaml describes the CRD %s, which config/crd/bases does not have", name)
	}
	return owned, nil
}

// describe completes the descriptors of base, of the fields below root ("spec" or "status"), from schema.
// Status descriptors go through it as spec descriptors, which have the same fields.
func describe(base []operatorsv1alpha1.SpecDescriptor, schema *apiextensionsv1.JSONSchemaProps, root string, selects bool) ([]operatorsv1alpha1.SpecDescriptor, error) {
	var out []operatorsv1alpha1.SpecDescriptor
	for _, b := range base {
		field, err := fieldAt(schema, root+"."+b.Path)
		if err != nil {
			return nil, fmt.Errorf("%s descriptor: %w", root, err)
		}
		if b.Description != "" {
			return nil, fmt.Errorf("%s descriptor %s: the description comes from the CRD schema, not the base CSV", root, b.Path)
		}
		d := b
		d.Description = oneLine(field.Description)
		d.XDescriptors = append([]string(nil), b.XDescriptors...)
		if selects && len(d.XDescriptors) == 0 {
			for _, e := range field.Enum {
				var value string
				if err := json.Unmarshal(e.Raw, &value); err != nil {
					return nil, fmt.Errorf("%s descriptor %s: enum value %s is not a string", root, b.Path, e.Raw)
				}
				d.XDescriptors = append(d.XDescriptors, selectDescriptor+value)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// fieldAt is the schema of the field at the dotted path below schema: "spec.mtls.mode". An array's
// items are addressed like its elements: "spec.injection.namespaces" is the list itself.
func fieldAt(schema *apiextensionsv1.JSONSchemaProps, path string) (*apiextensionsv1.JSONSchemaProps, error) {
	current := schema
	for _, name := range strings.Split(path, ".") {
		if current.Items != nil && current.Items.Schema != nil {
			current = current.Items.Schema
		}
		next, ok := current.Properties[name]
		if !ok {
			return nil, fmt.Errorf("the schema has no field %s", path)
		}
		current = &next
	}
	return current, nil
}

// oneLine joins the lines of a schema description, which keep the line breaks of the Go comment they
// were generated from.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
