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
	"context"

	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// ChartManager is what the reconciler needs of Helm: bring a release in sync with its desired state
// (install, upgrade, recover a release left failed or pending, repair drift), and uninstall one.
// *helm.ChartManager is the implementation; tests give the reconciler failures a real API server
// cannot produce.
type ChartManager interface {
	Ensure(ctx context.Context, desired helm.Release) (helm.Result, error)
	Uninstall(ctx context.Context, namespace, name string, owner helm.Owner) (removed bool, err error)
	// ReturnMemory gives what the installs, upgrades and uninstalls left behind back to the operating
	// system; the reconciler calls it once the mesh is Ready.
	ReturnMemory()
}

var _ ChartManager = (*helm.ChartManager)(nil)
