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

package monitoring

import (
	"strings"
	"time"
)

// init adds the cases of the alerts on what the conditions cannot show: a meshkeeper that no longer
// reports the ServiceMesh, whose other alerts go silent with it, and a drift repair that never ends,
// which leaves every condition True.
func init() {
	alertCases["MeshkeeperNotReporting"] = map[string]alertCase{
		"fires when no replica reports the ServiceMesh for 10 minutes": {
			// The only meshkeeper pod crash-loops from 11m on: nothing is scraped from it any more.
			load: strings.TrimPrefix(present(meshkeeper, "1x10 stale"), "\n"),
			firing: map[time.Duration][][]string{
				10 * time.Minute: nil,
				20 * time.Minute: nil,
				22 * time.Minute: {{"job=meshkeeper-metrics", "namespace=meshkeeper-system", "instance=", "pod=", "severity=warning"}},
				60 * time.Minute: {{"job=meshkeeper-metrics"}},
			},
			description: "job meshkeeper-metrics in meshkeeper-system",
		},
		"keeps firing for as long as meshkeeper is down": {
			// The other alerts carry the last conditions over for 10 minutes only; this one must not
			// end on its own while nothing watches the mesh.
			load:        strings.TrimPrefix(present(meshkeeper, "1x10 stale"), "\n"),
			firing:      map[time.Duration][][]string{12 * time.Hour: {{"job=meshkeeper-metrics"}}},
			description: "job meshkeeper-metrics in meshkeeper-system",
		},
		"stops when a replica reports again": {
			load:        strings.TrimPrefix(present(oldPod, "1x10 stale")+present(newPod, "_x31 1x10"), "\n"),
			firing:      map[time.Duration][][]string{22 * time.Minute: {{"job=meshkeeper-metrics"}}, 31 * time.Minute: nil, 40 * time.Minute: nil},
			description: "job meshkeeper-metrics in meshkeeper-system",
		},
		"stays silent across a replaced meshkeeper pod": {
			// An upgrade, a drain or a leader failover: the new pod reports after its first reconcile.
			load:   strings.TrimPrefix(present(oldPod, "1x7 stale")+present(newPod, "_x11 1x30"), "\n"),
			firing: map[time.Duration][][]string{8 * time.Minute: nil, 10 * time.Minute: nil, 20 * time.Minute: nil, 40 * time.Minute: nil},
		},
		"stays silent once the ServiceMesh is gone and meshkeeper is removed": {
			// The uninstall of docs/uninstall.md: the ServiceMesh first (21m), then the operator (23m).
			load:   strings.TrimPrefix(present(meshkeeper, "1x20 0x1 stale"), "\n"),
			firing: map[time.Duration][][]string{30 * time.Minute: nil, 60 * time.Minute: nil, 5 * time.Hour: nil},
		},
		"stays silent once the ServiceMesh is gone and meshkeeper is removed after a replaced pod": {
			// The pod replaced at 8m last reported the ServiceMesh present; its successor saw it deleted.
			load:   strings.TrimPrefix(present(oldPod, "1x7 stale")+present(newPod, "_x9 1x10 0x2 stale"), "\n"),
			firing: map[time.Duration][][]string{30 * time.Minute: nil, 60 * time.Minute: nil, 5 * time.Hour: nil},
		},
		"stays silent without a ServiceMesh": {
			// A standby has no series of it, nor a meshkeeper that never reconciled (its leader, finding no
			// ServiceMesh, reports 0 once it runs).
			load:   `meshkeeper_build_info{version="0.2.0", goversion="go1.26.8", ` + meshkeeper + `} 1x40`,
			firing: map[time.Duration][][]string{30 * time.Minute: nil},
		},
	}
	alertCases["MeshkeeperDriftRepairLoop"] = map[string]alertCase{
		"fires when something undoes meshkeeper's repair every few minutes": {
			// Argo CD's self-heal (or an autoscaler that spec.controlPlane.autoscaling does not declare)
			// writes istiod's Deployment back every 3 minutes, and meshkeeper repairs it every time.
			load: `meshkeeper_helm_operations_total{release="istiod", action="repaired", result="success", ` + meshkeeper + `} 0+1x80`,
			step: 3 * time.Minute,
			firing: map[time.Duration][][]string{
				60 * time.Minute:  nil,
				75 * time.Minute:  {{"release=istiod", "action=repaired", "result=success", "instance=", "pod=", "severity=warning"}},
				180 * time.Minute: {{"release=istiod"}},
			},
			description: "istiod",
		},
		"ends once the repairs stop": {
			load: `meshkeeper_helm_operations_total{release="istiod", action="repaired", result="success", ` + meshkeeper + `} 0+1x90 90x60`,
			firing: map[time.Duration][][]string{
				80 * time.Minute:  {{"release=istiod"}},
				125 * time.Minute: nil,
				140 * time.Minute: nil,
			},
			description: "istiod",
		},
		"keeps its hour across a replaced meshkeeper pod": {
			load: `meshkeeper_helm_operations_total{release="istiod", action="repaired", result="success", ` + oldPod + `} 0+1x40 stale
			       meshkeeper_helm_operations_total{release="istiod", action="repaired", result="success", ` + newPod + `} _x43 1+1x60`,
			firing: map[time.Duration][][]string{
				60 * time.Minute: nil,
				66 * time.Minute: {{"release=istiod", "instance=", "pod="}},
				90 * time.Minute: {{"release=istiod"}},
			},
			description: "istiod",
		},
		"stays silent on a few edits by hand": {
			// Someone scales istiod, edits its mesh config and deletes a webhook over an afternoon.
			load:   `meshkeeper_helm_operations_total{release="istiod", action="repaired", result="success", ` + meshkeeper + `} 0x10 1x50 2x50 3x100`,
			firing: map[time.Duration][][]string{60 * time.Minute: nil, 120 * time.Minute: nil, 200 * time.Minute: nil},
		},
		"stays silent on a burst of edits by hand": {
			// Six edits in six minutes while someone tries a setting, each undone, then none.
			load:   `meshkeeper_helm_operations_total{release="istiod", action="repaired", result="success", ` + meshkeeper + `} 0x5 1 2 3 4 5 6x100`,
			firing: map[time.Duration][][]string{30 * time.Minute: nil, 60 * time.Minute: nil, 90 * time.Minute: nil},
		},
		"ignores installs, upgrades and failed repairs": {
			// A failed repair is InstallFailed, which MeshkeeperMeshNotReady and MeshkeeperReconcileErrors report.
			load: `meshkeeper_helm_operations_total{release="istiod", action="upgraded", result="success", ` + meshkeeper + `} 0+1x120
			       meshkeeper_helm_operations_total{release="istiod", action="repaired", result="error", ` + meshkeeper + `} 0+1x120`,
			firing: map[time.Duration][][]string{90 * time.Minute: nil, 120 * time.Minute: nil},
		},
	}
}
