//go:build cluster

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

package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestDeploymentRollsOut proves the cluster does what a real one does with a Deployment: the
// controllers create its ReplicaSet and pods, the scheduler binds them to the fake nodes, kwok runs
// them, and the Deployment becomes Available. Then Stop leaves no component running.
func TestDeploymentRollsOut(t *testing.T) {
	dir, err := os.MkdirTemp("", "meshkeeper-cluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the components' logs are in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	started := time.Now()
	c, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.Stop()
		}
	})
	t.Logf("cluster started in %s", time.Since(started).Round(time.Millisecond))

	// The kubeconfig file is what other tools get; the test uses it rather than RESTConfig.
	config, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		t.Fatalf("loading %s: %v", c.Kubeconfig(), err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}

	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: NodeSelector})
	if err != nil {
		t.Fatal(err)
	}
	fakeNodes := map[string]bool{}
	for _, node := range nodes.Items {
		fakeNodes[node.Name] = true
	}
	if len(fakeNodes) != defaultNodes {
		t.Fatalf("%d fake nodes, want %d", len(fakeNodes), defaultNodes)
	}

	const ns, name = "rollout", "web"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": name}
	replicas := int32(2)
	deployment := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					// kwok pulls no image: any name does.
					Containers: []corev1.Container{{Name: "web", Image: "registry.invalid/web:1"}},
				},
			},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, deployment, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	rolloutCtx, cancelRollout := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelRollout()
	rollout := time.Now()
	var last error
	err = wait.PollUntilContextCancel(rolloutCtx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := rolledOut(ctx, client, ns, name, fakeNodes)
		if ctx.Err() == nil { // a check cut short by the deadline says nothing about the rollout
			last = err
		}
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("the Deployment did not roll out: %v: %v", err, last)
	}
	t.Logf("Deployment available in %s", time.Since(rollout).Round(time.Millisecond))

	// The node lifecycle controller marks every pod of a node whose heartbeat it missed not ready
	// (as it does after a long enough API server restart); the node's kubelet makes them ready again.
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("listing the pods: %v (%d pods)", err, len(pods.Items))
	}
	pod := pods.Items[0]
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			pod.Status.Conditions[i].Status = corev1.ConditionFalse
			pod.Status.Conditions[i].LastTransitionTime = metav1.Now()
		}
	}
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, &pod, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("marking pod %s not ready: %v", pod.Name, err)
	}
	err = wait.PollUntilContextCancel(rolloutCtx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := rolledOut(ctx, client, ns, name, fakeNodes)
		if ctx.Err() == nil {
			last = err
		}
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("pod %s, marked not ready as by the node lifecycle controller, did not become ready again: %v: %v", pod.Name, err, last)
	}
	again, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.UID != pod.UID || again.Status.StartTime == nil || !again.Status.StartTime.Equal(pod.Status.StartTime) || len(again.Status.ContainerStatuses) != 1 || again.Status.ContainerStatuses[0].State.Running == nil ||
		again.Status.ContainerStatuses[0].Image != pod.Status.ContainerStatuses[0].Image {
		t.Errorf("pod %s is not the same running pod after it became ready again: %+v", pod.Name, again.Status)
	}

	pids := map[string]int{}
	for _, p := range c.procs {
		pids[p.name] = p.cmd.Process.Pid
	}
	if len(pids) != 5 {
		t.Errorf("%d components, want 5: %v", len(pids), pids)
	}
	stopped = true
	if err := c.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) is still there after Stop: kill -0 gave %v", name, pid, err)
		}
	}
}

// rolledOut succeeds when the Deployment is Available with both replicas up to date, and its two pods
// are Running and Ready on fake nodes.
func rolledOut(ctx context.Context, client kubernetes.Interface, ns, name string, fakeNodes map[string]bool) error {
	d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas != 2 || d.Status.AvailableReplicas != 2 {
		return fmt.Errorf("deployment status: %+v", d.Status)
	}
	available := false
	for _, cond := range d.Status.Conditions {
		if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue {
			available = true
		}
	}
	if !available {
		return fmt.Errorf("deployment not Available: %+v", d.Status.Conditions)
	}

	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		return err
	}
	if len(pods.Items) != 2 {
		return fmt.Errorf("%d pods, want 2", len(pods.Items))
	}
	for _, pod := range pods.Items {
		ready := false
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		switch {
		case !fakeNodes[pod.Spec.NodeName]:
			return fmt.Errorf("pod %s is on node %q, not a fake node", pod.Name, pod.Spec.NodeName)
		case pod.Status.Phase != corev1.PodRunning || !ready:
			return fmt.Errorf("pod %s is %s, Ready %t", pod.Name, pod.Status.Phase, ready)
		case pod.Status.PodIP == "":
			return fmt.Errorf("pod %s has no IP", pod.Name)
		}
	}
	return nil
}
