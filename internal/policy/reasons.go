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

import meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"

// Reasons of the decisions in this package, under the names the decisions read best with. Their values
// are defined, and documented as API, in api/v1alpha1: the controllers put them in conditions and in
// status counts (status.ingresses.skippedByReason), and alerts match on them.
const (
	Listed                    = meshv1alpha1.ReasonListed
	SelectorMatched           = meshv1alpha1.ReasonSelectorMatched
	NotSelected               = meshv1alpha1.ReasonNotSelected
	SystemNamespace           = meshv1alpha1.ReasonSystemNamespace
	ControlPlaneNamespace     = meshv1alpha1.ReasonControlPlaneNamespace
	InjectionLabelConflict    = meshv1alpha1.ReasonInjectionLabelConflict
	Terminating               = meshv1alpha1.ReasonTerminating
	PodSecurityRejectsSidecar = meshv1alpha1.ReasonPodSecurityRejectsSidecar
	CNIExcludesNamespace      = meshv1alpha1.ReasonCNIExcludesNamespace

	Configured                 = meshv1alpha1.ReasonConfigured
	IngressNginxDisabled       = meshv1alpha1.ReasonIngressNginxDisabled
	ControllerNotFound         = meshv1alpha1.ReasonControllerNotFound
	HostNetwork                = meshv1alpha1.ReasonHostNetwork
	AnnotationConflict         = meshv1alpha1.ReasonAnnotationConflict
	NamespaceInjectionDisabled = meshv1alpha1.ReasonNamespaceInjectionDisabled
	NamespaceNeverInjected     = meshv1alpha1.ReasonNamespaceNeverInjected
	CustomAnnotationsPrefix    = meshv1alpha1.ReasonCustomAnnotationsPrefix

	ClassNotServed           = meshv1alpha1.ReasonClassNotServed
	ClassNotListed           = meshv1alpha1.ReasonClassNotListed
	NamespaceNotEnrolled     = meshv1alpha1.ReasonNamespaceNotEnrolled
	ControllerWithoutSidecar = meshv1alpha1.ReasonControllerWithoutSidecar
	CanaryIngress            = meshv1alpha1.ReasonCanaryIngress
	NoBackend                = meshv1alpha1.ReasonNoBackend
	ResourceBackend          = meshv1alpha1.ReasonResourceBackend
	MultipleBackendServices  = meshv1alpha1.ReasonMultipleBackendServices
	ServiceMissing           = meshv1alpha1.ReasonServiceMissing
	ServiceExternalName      = meshv1alpha1.ReasonServiceExternalName
	ServiceHeadless          = meshv1alpha1.ReasonServiceHeadless
	ServiceNotCaptured       = meshv1alpha1.ReasonServiceNotCaptured
	ServiceNotExported       = meshv1alpha1.ReasonServiceNotExported
	SharedUpstream           = meshv1alpha1.ReasonSharedUpstream
)
