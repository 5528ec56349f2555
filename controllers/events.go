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

	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
)

// EventQPS and EventBurst limit the Events meshkeeper records: at most 50 a second, in bursts of 100
// (the kubelet's defaults for its own Events), whatever --kube-api-qps and --kube-api-burst allow the
// manager's other requests. An Event costs the API server more than the write it reports (a create,
// stored with a time to live), and enrolling 1,000 namespaces records 1,000 of them: unpaced, they took
// a fifth of the API server's time while the mesh converged with the client limits lifted, and the
// namespaces and Ingresses waited for it (docs/performance.md, "Events"). Paced, an Event still carries
// the time it happened; past a burst it reaches the API server a little later.
const (
	EventQPS   = 50
	EventBurst = 100
)

// NewEventRecorder returns the recorder of meshkeeper's Events: a broadcaster of its own, whose client
// writes at most EventQPS Events a second in bursts of EventBurst, instead of the manager's, whose
// client has the manager's limits. It records from now on and stops with the manager.
func NewEventRecorder(mgr ctrl.Manager) (events.EventRecorder, error) {
	config := rest.CopyConfig(mgr.GetConfig())
	config.QPS, config.Burst, config.RateLimiter = EventQPS, EventBurst, nil
	client, err := eventsv1client.NewForConfigAndClient(config, mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("creating the Events client: %w", err)
	}
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: client})
	ctx, cancel := context.WithCancel(context.Background())
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("starting to record Events: %w", err)
	}
	// Every Event in the log too, at the debug level, as controller-runtime's own recorder logs them.
	if _, err := broadcaster.StartLogging(mgr.GetLogger().WithName("events").V(1)); err != nil {
		cancel()
		return nil, fmt.Errorf("starting to log Events: %w", err)
	}
	if err := mgr.Add(eventsStop{stop: func() { broadcaster.Shutdown(); cancel() }}); err != nil {
		cancel()
		return nil, err
	}
	return broadcaster.NewRecorder(mgr.GetScheme(), "meshkeeper"), nil
}

// eventsStop stops the Event broadcaster when the manager stops, leader or not.
type eventsStop struct{ stop func() }

func (s eventsStop) Start(ctx context.Context) error {
	<-ctx.Done()
	s.stop()
	return nil
}

func (eventsStop) NeedLeaderElection() bool { return false }
