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
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// Injection is what istiod's injection webhook answered for a pod.
type Injection struct {
	// Pod is the pod with the answer's JSONPatch applied: what the API server would store.
	Pod *corev1.Pod
	// Patch is the JSONPatch istiod returned (empty when it did not inject).
	Patch []byte
	// Response is the AdmissionReview's response.
	Response *admissionv1.AdmissionResponse
}

// Injected tells whether istiod changed the pod.
func (i *Injection) Injected() bool { return len(i.Patch) > 0 }

// Inject sends pod to istiod's injection webhook (Istiod.InjectURL) as the API server does for a
// CREATE in namespace (pod.Namespace when empty), applies the returned JSONPatch and returns the result.
// The webhook's namespaceSelector and objectSelector are the API server's business, not istiod's: istiod
// injects what it is sent unless the pod opts out (sidecar.istio.io/inject: "false") or the
// templates' policy says otherwise.
func Inject(ctx context.Context, url, namespace string, pod *corev1.Pod) (*Injection, error) {
	if namespace == "" {
		namespace = pod.Namespace
	}
	pod = pod.DeepCopy()
	pod.APIVersion, pod.Kind = "v1", "Pod"
	raw, err := json.Marshal(pod)
	if err != nil {
		return nil, err
	}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:             types.UID(fmt.Sprintf("meshkeeper-test-%d", time.Now().UnixNano())),
			Kind:            metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:        metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			RequestKind:     &metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			RequestResource: &metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Name:            pod.Name,
			Namespace:       namespace,
			Operation:       admissionv1.Create,
			UserInfo:        authenticationUser,
			Object:          runtime.RawExtension{Raw: raw},
			DryRun:          new(false),
			Options:         runtime.RawExtension{Raw: []byte(`{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}`)},
		},
	}
	out, err := post(ctx, url, &review)
	if err != nil {
		return nil, err
	}
	if !out.Response.Allowed {
		msg := ""
		if out.Response.Result != nil {
			msg = out.Response.Result.Message
		}
		return nil, fmt.Errorf("istiod denied the pod: %s", msg)
	}
	result := &Injection{Response: out.Response, Patch: out.Response.Patch, Pod: pod}
	if len(out.Response.Patch) == 0 {
		return result, nil
	}
	if out.Response.PatchType == nil || *out.Response.PatchType != admissionv1.PatchTypeJSONPatch {
		return nil, fmt.Errorf("istiod: unexpected patch type %v", out.Response.PatchType)
	}
	patch, err := jsonpatch.DecodePatch(out.Response.Patch)
	if err != nil {
		return nil, fmt.Errorf("istiod: decoding the JSONPatch: %w", err)
	}
	patched, err := patch.Apply(raw)
	if err != nil {
		return nil, fmt.Errorf("istiod: applying the JSONPatch: %w", err)
	}
	result.Pod = &corev1.Pod{}
	if err := json.Unmarshal(patched, result.Pod); err != nil {
		return nil, fmt.Errorf("istiod: decoding the injected pod: %w", err)
	}
	return result, nil
}

// post sends an AdmissionReview to istiod and returns its answer, checked to be for the request.
func post(ctx context.Context, url string, review *admissionv1.AdmissionReview) (*admissionv1.AdmissionReview, error) {
	body, err := json.Marshal(review)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := insecureClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("istiod: POST %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("istiod: POST %s: %s: %s", url, resp.Status, answer)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(answer, &out); err != nil {
		return nil, fmt.Errorf("istiod: decoding the AdmissionReview istiod returned: %w", err)
	}
	if out.Response == nil {
		return nil, errors.New("istiod: the AdmissionReview istiod returned has no response")
	}
	if out.Response.UID != review.Request.UID {
		return nil, fmt.Errorf("istiod: the response is for UID %q, not %q", out.Response.UID, review.Request.UID)
	}
	return &out, nil
}

// Validate sends an Istio configuration object to istiod's validation webhook (url: ValidateURL) as the
// API server would on its creation, and returns istiod's verdict.
func Validate(ctx context.Context, url string, obj *unstructured.Unstructured) (*admissionv1.AdmissionResponse, error) {
	raw, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	gvk := obj.GroupVersionKind()
	resource := metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: strings.ToLower(gvk.Kind) + "s"}
	kind := metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:  types.UID(fmt.Sprintf("meshkeeper-validate-%d", time.Now().UnixNano())),
			Kind: kind, Resource: resource, RequestKind: &kind, RequestResource: &resource,
			Name: obj.GetName(), Namespace: obj.GetNamespace(), Operation: admissionv1.Create,
			UserInfo: authenticationUser, Object: runtime.RawExtension{Raw: raw}, DryRun: new(false),
		},
	}
	out, err := post(ctx, url, &review)
	if err != nil {
		return nil, err
	}
	return out.Response, nil
}

// authenticationUser is who the review says created the pod: the ReplicaSet controller, as for most
// pods.
var authenticationUser = authenticationv1.UserInfo{
	Username: "system:serviceaccount:kube-system:replicaset-controller",
	Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
}

// insecureClient trusts istiod's self-signed serving certificate.
var insecureClient = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // istiod's self-signed test certificate
	},
}
