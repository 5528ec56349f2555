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

// Package e2e runs meshkeeper on the simulated cluster (test/cluster): a real API server, controller
// manager, scheduler and kwok's fake nodes and kubelets, so Deployments really roll out. Its tests
// build with the "cluster" tag (make test-cluster); what they use to start the manager is in
// test/testenv, shared with the other tiers and the demo, and session_test.go runs meshkeeper's binary.
// The tests of hands-off restarts run the cluster with its simulated sidecar injector
// (cluster.Injection), so the pods a restart creates get the sidecar of the revision their namespace
// is served by, as from istiod.
package e2e
