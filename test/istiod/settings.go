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

package istiod

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
)

// localFlags are the flags Start sets itself: addresses and the kubeconfig, which differ out of
// cluster.
var localFlags = map[string]bool{
	"--kubeconfig": true, "--httpAddr": true, "--grpcAddr": true, "--secureGRPCAddr": true,
	"--httpsAddr": true, "--monitoringAddr": true, "--ctrlz_port": true, "--ctrlz_address": true,
}

// localEnv are the variables of the Deployment that point into the pod and make no sense out of
// cluster (the kubeconfig of a remote cluster's secret).
var localEnv = map[string]bool{"KUBECONFIG": true}

// DeploymentSettings returns the environment and arguments that the istiod Deployment the chart
// installed gives its discovery container (the chart's values env, e.g. the push debounce and
// throttle, and args such as --domain and --keepaliveMaxServerConnectionAge), for Options.Env and
// Options.Args, so the local istiod runs as the installed one would. Left out: variables set from
// the pod (valueFrom), the kubeconfig, and the address flags, which Start chooses.
func DeploymentSettings(d *appsv1.Deployment) (env, args []string, err error) {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != "discovery" {
			continue
		}
		env, args = []string{}, []string{}
		for _, e := range c.Env {
			if e.ValueFrom == nil && !localEnv[e.Name] {
				env = append(env, e.Name+"="+e.Value)
			}
		}
		all := append(append([]string{}, c.Command...), c.Args...)
		for i := 0; i < len(all); i++ {
			a := all[i]
			if a == "discovery" || strings.HasSuffix(a, "/pilot-discovery") {
				continue
			}
			name, _, withValue := strings.Cut(a, "=")
			if localFlags[name] {
				if !withValue && i+1 < len(all) && !strings.HasPrefix(all[i+1], "-") {
					i++ // its value is the next argument
				}
				continue
			}
			args = append(args, a)
		}
		return env, args, nil
	}
	return nil, nil, fmt.Errorf("istiod: Deployment %s/%s has no container named discovery", d.Namespace, d.Name)
}
