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
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// recordWriteCounter is a chart manager that counts its writes of release records
// (helm.ChartManager.RecordWrites). With one, the reconciler reads the records only after they may have
// changed; with another (a test's), on every reconcile.
type recordWriteCounter interface {
	RecordWrites(namespace string) uint64
}

// releaseRecords is what the control-plane namespace's release records said when this process last read
// them (releaseHistories), for one ServiceMesh.
type releaseRecords struct {
	mu        sync.Mutex
	mesh      types.UID
	namespace string
	// writes is the chart manager's count of record writes in namespace before they were read, at when
	// the list began.
	writes    uint64
	at        time.Time
	histories map[string]releaseHistory
	// now is the clock the age of the last list is measured with; nil is time.Now.
	now func() time.Time
}

func (k *releaseRecords) clock() time.Time {
	if k.now != nil {
		return k.now()
	}
	return time.Now()
}

// knownReleaseHistories is releaseHistories as this process last read it, read again around the cache
// only when the records may have changed since: at the first reconcile of the ServiceMesh after the
// manager started (records it never saw: an install a stopped manager cut short, a release whose
// Deployment was deleted meanwhile), and after the chart manager wrote a record in the namespace (an
// install that failed, an upgrade, an uninstall), and once the last list is helm.RecordsRecheck old, as
// the chart manager lists a release's records again: records changed by someone else alone (a release
// uninstalled by hand, a record deleted or forged) are seen within it. Release Secrets are not cached,
// and a list of them on every reconcile is a read around the cache in the steady state, where no record
// changes. fresh reads
// them whatever this process knows: when the status lists a revision without its istiod Deployment,
// whose release someone may have uninstalled by hand. The map returned is shared: callers only read it.
func (r *Reconciler) knownReleaseHistories(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, fresh bool) (map[string]releaseHistory, error) {
	counter, ok := r.Charts.(recordWriteCounter)
	if !ok {
		return r.releaseHistories(ctx, mesh)
	}
	// The count is taken before the list: a write that ends after it moves the count past it, and the
	// next reconcile reads again.
	writes := counter.RecordWrites(mesh.Spec.Namespace)
	known := &r.releaseRecords
	known.mu.Lock()
	if !fresh && known.histories != nil && known.mesh == mesh.UID && known.namespace == mesh.Spec.Namespace && known.writes == writes &&
		known.clock().Sub(known.at) < helm.RecordsRecheck {
		histories := known.histories
		known.mu.Unlock()
		return histories, nil
	}
	at := known.clock()
	known.mu.Unlock()
	histories, err := r.releaseHistories(ctx, mesh)
	if err != nil {
		return nil, err
	}
	known.mu.Lock()
	known.mesh, known.namespace, known.writes, known.at, known.histories = mesh.UID, mesh.Spec.Namespace, writes, at, histories
	known.mu.Unlock()
	return histories, nil
}
