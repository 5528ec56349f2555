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

package servicemesh

import (
	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
)

// setRevisions sets status.activeRevision and status.revisions from what the revision phase decided;
// with the InPlace strategy (ri nil) there are none.
func setRevisions(status *meshv1alpha1.ServiceMeshStatus, ri *revisionInstallation) {
	if ri == nil {
		status.ActiveRevision, status.Revisions = "", nil
		return
	}
	status.ActiveRevision = ri.active
	status.Revisions = ri.revisions
}

// setRevisionMetrics exports status.revisions.
func setRevisionMetrics(status *meshv1alpha1.ServiceMeshStatus) {
	revisions := make([]metrics.Revision, 0, len(status.Revisions))
	for _, r := range status.Revisions {
		revisions = append(revisions, metrics.Revision{Name: r.Name, Version: r.Version, State: string(r.State), Ready: r.Ready, Proxies: r.Proxies})
	}
	metrics.SetRevisions(revisions)
}
