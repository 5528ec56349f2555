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

package meshctx

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// Enrollment returns the enrollment decision of a ServiceMesh, with the one error rule every controller
// follows: without a live ServiceMesh there is none (nil: nothing is enrolled, and meshkeeper gives its
// labels back); a spec whose selector cannot be used is a terminal InvalidSpec failure, on which every
// controller leaves what it wrote as it is and the ServiceMesh reports it. The enrollment knows whether
// injected pods need the CNI agent rather than istio-init (InjectsForAgentNow), for the Pod Security check.
func Enrollment(mesh *meshv1alpha1.ServiceMesh) (*policy.Enrollment, error) {
	if !Live(mesh) {
		return nil, nil
	}
	return enrollmentOf(mesh, InjectionSpec(mesh))
}

// EnrollmentOnceInjecting is the Enrollment of a mesh once istiod is installed for its CNI agent:
// while status.cni.injectorPending (InjectorPending), the namespaces it enrolls and Enrollment does not
// wait for the agent to be ready and that install, the last steps, and are not rejected.
func EnrollmentOnceInjecting(mesh *meshv1alpha1.ServiceMesh) (*policy.Enrollment, error) {
	if !Live(mesh) {
		return nil, nil
	}
	return enrollmentOf(mesh, specInjectingForAgent(mesh, true))
}

// InjectorPending tells whether the mesh runs its CNI agent (status.cni.namespace) while istiod still
// injects istio-init (status.cni.injectorPending): istiod is installed for the agent once it is ready.
func InjectorPending(mesh *meshv1alpha1.ServiceMesh) bool {
	enabled, _ := mesh.CNIEnabled()
	return enabled && mesh.Status.CNI != nil && mesh.Status.CNI.Namespace != "" && mesh.Status.CNI.InjectorPending
}

func enrollmentOf(mesh *meshv1alpha1.ServiceMesh, spec meshv1alpha1.ServiceMeshSpec) (*policy.Enrollment, error) {
	enrollment, err := policy.NewEnrollment(&spec, "")
	if err != nil {
		return nil, Terminal(meshv1alpha1.ReasonInvalidSpec, err)
	}
	if mesh.Spec.UpdateStrategy.Canary != nil {
		enrollment = enrollment.WithCanary(mesh.Spec.UpdateStrategy.Canary.Namespaces, CanaryRevision(mesh))
	}
	return enrollment.WithPromotedCanary(PromotedCanary(mesh)), nil
}

// EnrollmentChanged passes the ServiceMesh changes that can change what its Enrollment decides: the
// spec, its deletion, and the status Enrollment reads (the canary revision and the promoted canary,
// whether istiod injects for the CNI agent). A namespace's enrollment can change with neither a spec
// change nor a label write of meshkeeper's (a canary namespace whose owner set istio.io/rev=<canary>
// itself), so every controller that acts on enrollment watches the ServiceMesh through it.
var EnrollmentChanged = predicate.Or[client.Object](SpecOrDeletionChanged, CanaryChanged, CNIInjectsChanged)

// CNIInjects tells whether istiod is installed to inject the mesh's pods for the CNI agent, with no
// privileged init container: the mesh runs the agent (ServiceMesh.CNIEnabled), and its agent is
// installed (status.cni.namespace) or no control plane was installed yet (the first istiod injects for
// the agent from the start; status.version names none, and status.cni.injectorPending is not set, which
// a running mesh whose status was lost whole while it turned CNI on gets back for its wait). istiod's values are rendered from it (ValuesSpec). A running mesh that
// turns CNI on keeps injecting istio-init until its agent is in (the control-plane phase may fail, or
// wait, before) and ready on every node that should run it (AgentReady: an installed release says
// nothing of its pods, which a missing PriorityClass, a quota or an admission policy keeps from
// starting, and a pod injected for an agent that does not run fails in istio-validation), and then until
// istiod is installed again for it (status.cni.injectorPending). CNI turned on again while the agent
// still runs (its removal waiting or failed: status.cni.enabled still false) goes the same way: istiod
// injected istio-init meanwhile, and the agent, being removed or changed no more, may not run on every
// node. Once istiod injects for the agent, a node whose agent is not ready (one joining, a rollout) does
// not turn that back.
func CNIInjects(mesh *meshv1alpha1.ServiceMesh) bool {
	if enabled, _ := mesh.CNIEnabled(); !enabled {
		return false
	}
	cni := mesh.Status.CNI
	if mesh.Status.Version == "" && (cni == nil || !cni.InjectorPending) {
		return true
	}
	return cni != nil && cni.Enabled && cni.Namespace != "" && (!cni.InjectorPending || AgentReady(mesh))
}

// AgentReady tells whether the last status reports the CNI agent's DaemonSet running its current
// template ready and available on every node that should run it, of which there is at least one:
// CNIReady True with reason Available (True/CNIDisabled is a mesh without the agent).
func AgentReady(mesh *meshv1alpha1.ServiceMesh) bool {
	c := meta.FindStatusCondition(mesh.Status.Conditions, meshv1alpha1.ConditionCNIReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.Reason == meshv1alpha1.ReasonAvailable
}

// InjectsForAgentNow tells whether the pods istiod injects now carry no privileged init container:
// CNIInjects, once istiod was installed for the agent (status.cni.injectorPending is false). The
// agent's install is recorded in the pass that installs it, whose istiod was rendered before it, for
// istio-init; namespaces whose Pod Security level rejects istio-init are enrolled only after the next
// pass has installed istiod for the agent, or their new pods would be rejected meanwhile.
func InjectsForAgentNow(mesh *meshv1alpha1.ServiceMesh) bool {
	return CNIInjects(mesh) && (mesh.Status.CNI == nil || !mesh.Status.CNI.InjectorPending)
}

// CNIInjectsChanged passes a ServiceMesh update that changes CNIInjects or InjectsForAgentNow, or the
// namespaces the agent may still leave alone (status.cni.excludeNamespaces): a status change that
// istiod's values, or the enrollment, follow.
var CNIInjectsChanged = predicate.Or[client.Object](changedBy(CNIInjects), changedBy(InjectsForAgentNow), changedBy(reportedExclusionsKey))

// reportedExclusionsKey is the mesh's status.cni.excludeNamespaces joined into one string, so that
// changedBy can compare it between two versions of the mesh; it reads the status, and decides nothing.
func reportedExclusionsKey(mesh *meshv1alpha1.ServiceMesh) string {
	if mesh.Status.CNI == nil {
		return ""
	}
	return strings.Join(mesh.Status.CNI.ExcludeNamespaces, ",")
}

// ValuesSpec is the mesh's spec with spec.cni.enabled saying whether istiod is installed to inject for
// the CNI agent (CNIInjects): istiod's values are rendered from it, so that istiod injects for the
// agent only once it is installed.
func ValuesSpec(mesh *meshv1alpha1.ServiceMesh) meshv1alpha1.ServiceMeshSpec {
	return specInjectingForAgent(mesh, CNIInjects(mesh))
}

// InjectionSpec is the mesh's spec with spec.cni.enabled saying whether the pods istiod injects now are
// injected for the CNI agent (InjectsForAgentNow): enrollment, restarts and the ingress-nginx controller
// judge the pods istiod injects from it.
// spec.cni.excludeNamespaces are those the agent may still leave alone on some node
// (status.cni.excludeNamespaces too): a namespace taken out of it is judged excluded until the agent's
// pods that read it as they started are replaced on every node.
func InjectionSpec(mesh *meshv1alpha1.ServiceMesh) meshv1alpha1.ServiceMeshSpec {
	spec := specInjectingForAgent(mesh, InjectsForAgentNow(mesh))
	if cni := mesh.Status.CNI; cni != nil && len(cni.ExcludeNamespaces) > 0 {
		excluded := append(slices.Clone(spec.CNI.ExcludeNamespaces), cni.ExcludeNamespaces...)
		slices.Sort(excluded)
		spec.CNI.ExcludeNamespaces = slices.Compact(excluded)
	}
	return spec
}

// specInjectingForAgent is the mesh's spec with spec.cni.enabled set to cni.
func specInjectingForAgent(mesh *meshv1alpha1.ServiceMesh, cni bool) meshv1alpha1.ServiceMeshSpec {
	spec := mesh.Spec
	spec.CNI.Enabled = &cni
	return spec
}

// CNIExcludes tells whether the CNI plugin skips namespace while it redirects the traffic of the pods
// istiod injects for the mesh now (policy.Enrollment.CNIExcludes), for a caller that needs no
// Enrollment.
func CNIExcludes(mesh *meshv1alpha1.ServiceMesh, namespace string) bool {
	spec := InjectionSpec(mesh)
	return policy.CNIExcludes(&spec, namespace)
}

// InjectsForCNI tells whether istiod injects the mesh's pods for a CNI agent now (policy.InjectsForCNI of
// the spec as injection reads it, InjectionSpec).
func InjectsForCNI(mesh *meshv1alpha1.ServiceMesh) bool {
	spec := InjectionSpec(mesh)
	return policy.InjectsForCNI(&spec)
}

// Privilege is why the pods istiod injects for the mesh now need what the Pod Security levels baseline
// and restricted reject (policy.PrivilegeOf): the Privilege of the mesh's Enrollment, for a caller that
// needs no Enrollment.
func Privilege(mesh *meshv1alpha1.ServiceMesh) policy.Privilege {
	spec := InjectionSpec(mesh)
	return policy.PrivilegeOf(&spec)
}
