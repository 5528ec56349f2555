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
	rbacv1 "k8s.io/api/rbac/v1"
)

// The ClusterServiceVersion types are the part of OLM's operators.coreos.com/v1alpha1 API
// (github.com/operator-framework/api, pkg/operators/v1alpha1) that a bundle of meshkeeper uses, with the
// same JSON names. The module is not a dependency of meshkeeper, which needs none of the rest of it.
// Decoding a CSV strictly into these types rejects a field OLM does not know by that name.

// ClusterServiceVersion tells OLM how to install an operator and how to present it.
type ClusterServiceVersion struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   CSVMetadata `json:"metadata"`
	Spec       CSVSpec     `json:"spec"`
}

// CSVMetadata is the metadata a CSV carries.
type CSVMetadata struct {
	Name        string            `json:"name,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// CSVSpec is ClusterServiceVersionSpec.
type CSVSpec struct {
	DisplayName               string                    `json:"displayName"`
	Description               string                    `json:"description,omitempty"`
	Icon                      []Icon                    `json:"icon,omitempty"`
	Version                   string                    `json:"version,omitempty"`
	Replaces                  string                    `json:"replaces,omitempty"`
	MinKubeVersion            string                    `json:"minKubeVersion,omitempty"`
	Maturity                  string                    `json:"maturity,omitempty"`
	Keywords                  []string                  `json:"keywords,omitempty"`
	Links                     []AppLink                 `json:"links,omitempty"`
	Maintainers               []Maintainer              `json:"maintainers,omitempty"`
	Provider                  AppLink                   `json:"provider,omitempty"`
	InstallModes              []InstallMode             `json:"installModes,omitempty"`
	InstallStrategy           NamedInstallStrategy      `json:"install"`
	CustomResourceDefinitions CustomResourceDefinitions `json:"customresourcedefinitions,omitempty"`
	RelatedImages             []RelatedImage            `json:"relatedImages,omitempty"`
}

// Icon is an image shown for the operator, base64-encoded.
type Icon struct {
	Data      string `json:"base64data"`
	MediaType string `json:"mediatype"`
}

// AppLink is a named URL.
type AppLink struct {
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
}

// Maintainer is who to contact about the operator.
type Maintainer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
}

// InstallMode says whether the operator can run for a kind of OperatorGroup.
type InstallMode struct {
	Type      string `json:"type"`
	Supported bool   `json:"supported"`
}

// The install mode types.
const (
	InstallModeOwnNamespace    = "OwnNamespace"
	InstallModeSingleNamespace = "SingleNamespace"
	InstallModeMultiNamespace  = "MultiNamespace"
	InstallModeAllNamespaces   = "AllNamespaces"
)

// NamedInstallStrategy is spec.install: OLM knows one strategy, "deployment".
type NamedInstallStrategy struct {
	StrategyName string                    `json:"strategy"`
	StrategySpec StrategyDetailsDeployment `json:"spec,omitempty"`
}

// StrategyDetailsDeployment is what OLM creates: the Deployments, and for each ServiceAccount they run
// as, the ServiceAccount with its namespaced and cluster-wide rules.
type StrategyDetailsDeployment struct {
	DeploymentSpecs    []StrategyDeploymentSpec        `json:"deployments"`
	Permissions        []StrategyDeploymentPermissions `json:"permissions,omitempty"`
	ClusterPermissions []StrategyDeploymentPermissions `json:"clusterPermissions,omitempty"`
}

// StrategyDeploymentSpec is one Deployment OLM creates in the operator's namespace. Spec is kept as the
// kustomize build has it, so the bundle holds exactly the Deployment of config/.
type StrategyDeploymentSpec struct {
	Name  string            `json:"name"`
	Spec  map[string]any    `json:"spec"`
	Label map[string]string `json:"label,omitempty"`
}

// StrategyDeploymentPermissions are the rules OLM grants a ServiceAccount, which it creates.
type StrategyDeploymentPermissions struct {
	ServiceAccountName string              `json:"serviceAccountName"`
	Rules              []rbacv1.PolicyRule `json:"rules"`
}

// CustomResourceDefinitions lists the CRDs the operator owns.
type CustomResourceDefinitions struct {
	Owned []CRDDescription `json:"owned,omitempty"`
}

// CRDDescription describes an owned CRD version to OLM and to consoles.
type CRDDescription struct {
	Name              string       `json:"name"`
	Version           string       `json:"version"`
	Kind              string       `json:"kind"`
	DisplayName       string       `json:"displayName,omitempty"`
	Description       string       `json:"description,omitempty"`
	SpecDescriptors   []Descriptor `json:"specDescriptors,omitempty"`
	StatusDescriptors []Descriptor `json:"statusDescriptors,omitempty"`
}

// Descriptor describes a field of the spec or status, by its path below spec or status.
type Descriptor struct {
	Path         string   `json:"path"`
	DisplayName  string   `json:"displayName,omitempty"`
	Description  string   `json:"description,omitempty"`
	XDescriptors []string `json:"x-descriptors,omitempty"`
}

// RelatedImage is an image the operator runs or deploys; mirroring tools copy every one of them.
type RelatedImage struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}
