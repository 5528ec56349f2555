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
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

const (
	// BrokenRevisionLabel is the node label the pods of a broken revision select; no node has it, so
	// they stay Pending.
	BrokenRevisionLabel = "simulated.meshkeeper.io/broken-revision"

	sidecarStatusAnnotation = "sidecar.istio.io/status"
	sidecarInject           = "sidecar.istio.io/inject"
	injectorFieldManager    = "simulated-istiod"
)

// Injection makes the cluster inject sidecars as Istio's control plane would. Istio's own
// MutatingWebhookConfigurations (which meshkeeper installs with the istiod charts) decide which pods
// are injected and by which revision: their webhooks name the Service istiod[-<revision>] of the
// control-plane namespace. With Injection, the API server reaches those Services through an HTTP
// CONNECT proxy standing in for the pod network, and every call lands on one test webhook server,
// which injects the revision of the Service that was called, as that revision's istiod would: the
// sidecar.istio.io/status annotation naming the revision and an istio-proxy container of the
// revision's version (read from its istio-sidecar-injector ConfigMap). Like istiod, it writes its CA
// into the caBundle of the webhooks that name its Services.
type Injection struct {
	// Namespace is the control-plane namespace; empty means istio-system.
	Namespace string
	// BrokenRevisions are revisions whose pods never run (see Injector.SetBroken).
	BrokenRevisions []string
}

// Injector is the cluster's simulated sidecar injector.
type Injector struct {
	namespace string
	caPEM     []byte
	server    *http.Server
	listener  net.Listener // the webhook server's, TLS
	proxy     net.Listener // the CONNECT proxy's, a Unix socket
	socketDir string
	client    kubernetes.Interface
	stop      context.CancelFunc
	done      sync.WaitGroup

	mu       sync.Mutex
	broken   map[string]bool
	injected map[string]int
}

// startInjector starts the webhook server and the proxy; start gives it a client once the API server runs.
func startInjector(opts *Injection) (_ *Injector, err error) {
	inj := &Injector{namespace: opts.Namespace, broken: map[string]bool{}, injected: map[string]int{}}
	if inj.namespace == "" {
		inj.namespace = "istio-system"
	}
	for _, rev := range opts.BrokenRevisions {
		inj.broken[rev] = true
	}
	defer func() {
		if err != nil {
			inj.Stop()
		}
	}()
	notBefore := time.Now().Add(-time.Hour)
	ca, caKey, err := issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "simulated-istiod-ca"},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(10 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("creating the injector's CA: %w", err)
	}
	// The API server checks the name of the Service it called: istiod[-<rev>].<namespace>.svc.
	serving, servingKey, err := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "istiod." + inj.namespace + ".svc"},
		NotBefore:   notBefore,
		NotAfter:    notBefore.Add(10 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"*." + inj.namespace + ".svc"},
	}, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating the injector's certificate: %w", err)
	}
	inj.caPEM = certPEM(ca)

	if inj.listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("listening for the injector: %w", err)
	}
	inj.server = &http.Server{
		Handler:           http.HandlerFunc(inj.serveInject),
		ReadHeaderTimeout: 10 * time.Second,
		// The handshakes the API server fails before the CA is in a webhook are expected.
		ErrorLog: log.New(io.Discard, "", 0),
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{{Certificate: [][]byte{serving.Raw}, PrivateKey: servingKey}},
		},
	}
	tlsListener := tls.NewListener(inj.listener, inj.server.TLSConfig)
	inj.done.Add(1)
	go func() {
		defer inj.done.Done()
		_ = inj.server.Serve(tlsListener)
	}()

	// A Unix socket path is short (108 bytes): the cluster's directory may be deeper than that.
	if inj.socketDir, err = os.MkdirTemp("", "mk-egress-"); err != nil {
		return nil, fmt.Errorf("creating the proxy's directory: %w", err)
	}
	if inj.proxy, err = net.Listen("unix", filepath.Join(inj.socketDir, "proxy.sock")); err != nil {
		return nil, fmt.Errorf("listening for the proxy: %w", err)
	}
	inj.done.Add(1)
	go func() {
		defer inj.done.Done()
		inj.serveProxy()
	}()
	return inj, nil
}

// egressConfig writes the API server's egress configuration: what it sends into the cluster (calls of
// webhooks by Service) goes through the proxy.
func (inj *Injector) egressConfig(dir string) (string, error) {
	config := `apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: ` + inj.proxy.Addr().String() + "\n"
	path := filepath.Join(dir, "egress-selector.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return "", fmt.Errorf("writing the egress configuration: %w", err)
	}
	return path, nil
}

// start gives the injector its client and starts writing its CA into Istio's webhooks.
func (inj *Injector) start(client kubernetes.Interface) {
	inj.client = client
	ctx, cancel := context.WithCancel(context.Background())
	inj.stop = cancel
	inj.done.Add(1)
	go func() {
		defer inj.done.Done()
		inj.patchCABundles(ctx)
	}()
}

// Stop stops the webhook server, the proxy and the CA writer, and waits for them. The cluster's Stop
// calls it.
func (inj *Injector) Stop() {
	if inj.stop != nil {
		inj.stop()
	}
	if inj.server != nil {
		_ = inj.server.Close()
	}
	if inj.proxy != nil {
		_ = inj.proxy.Close()
	}
	inj.done.Wait()
	if inj.socketDir != "" {
		_ = os.RemoveAll(inj.socketDir)
	}
}

// SetBroken makes the pods the revision injects from now on select a node label no node has
// (BrokenRevisionLabel): they stay Pending, so a rollout onto that revision never completes.
func (inj *Injector) SetBroken(revision string, broken bool) {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	inj.broken[revision] = broken
}

// Injected is how many pods the revision injected.
func (inj *Injector) Injected(revision string) int {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return inj.injected[revision]
}

// serveProxy accepts CONNECT requests and tunnels those to port 443 (where Istio's webhooks call
// istiod) to the webhook server, whatever Service address they name.
func (inj *Injector) serveProxy() {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		conn, err := inj.proxy.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			inj.tunnel(conn)
		}()
	}
}

func (inj *Injector) tunnel(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	reader := bufio.NewReader(conn)
	req, err := http.ReadRequest(reader)
	if err != nil {
		return
	}
	_, port, _ := net.SplitHostPort(req.Host)
	if req.Method != http.MethodConnect || port != "443" {
		_, _ = io.WriteString(conn, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	upstream, err := net.Dial("tcp", inj.listener.Addr().String())
	if err != nil {
		_, _ = io.WriteString(conn, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer func() { _ = upstream.Close() }()
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	go func() {
		_, _ = io.Copy(upstream, reader)
		_ = upstream.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(conn, upstream)
}

// patchCABundles writes the injector's CA into every mutating webhook that calls one of its Services,
// as istiod does with its own CA, whenever a configuration is created or rewritten.
func (inj *Injector) patchCABundles(ctx context.Context) {
	webhooks := inj.client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	for ctx.Err() == nil {
		list, err := webhooks.List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range list.Items {
				inj.patchCABundle(ctx, &list.Items[i])
			}
			watcher, err := webhooks.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
			if err == nil {
				for event := range watcher.ResultChan() {
					if mwc, ok := event.Object.(*admissionregistrationv1.MutatingWebhookConfiguration); ok {
						inj.patchCABundle(ctx, mwc)
					}
				}
				watcher.Stop()
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (inj *Injector) patchCABundle(ctx context.Context, mwc *admissionregistrationv1.MutatingWebhookConfiguration) {
	var patch []map[string]any
	for i, w := range mwc.Webhooks {
		if inj.revisionOf(w.ClientConfig.Service) == "" || string(w.ClientConfig.CABundle) == string(inj.caPEM) {
			continue
		}
		patch = append(patch,
			map[string]any{"op": "test", "path": fmt.Sprintf("/webhooks/%d/name", i), "value": w.Name},
			map[string]any{"op": "add", "path": fmt.Sprintf("/webhooks/%d/clientConfig/caBundle", i), "value": inj.caPEM})
	}
	if len(patch) == 0 {
		return
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return
	}
	// A configuration rewritten meanwhile fails the test operation; its watch event patches it again.
	_, _ = inj.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Patch(ctx, mwc.Name, types.JSONPatchType, data,
		metav1.PatchOptions{FieldManager: injectorFieldManager})
}

// revisionOf is the revision whose istiod Service a webhook calls: "default" for istiod, <rev> for
// istiod-<rev>; "" for any other.
func (inj *Injector) revisionOf(service *admissionregistrationv1.ServiceReference) string {
	if service == nil || service.Namespace != inj.namespace {
		return ""
	}
	return serviceRevision(service.Name)
}

func serviceRevision(name string) string {
	switch {
	case name == "istiod":
		return "default"
	case strings.HasPrefix(name, "istiod-"):
		return strings.TrimPrefix(name, "istiod-")
	}
	return ""
}

// serveInject answers an AdmissionReview for a pod as the called revision's istiod would.
func (inj *Injector) serveInject(w http.ResponseWriter, r *http.Request) {
	review := &admissionv1.AdmissionReview{}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(review); err != nil || review.Request == nil {
		http.Error(w, "want an AdmissionReview", http.StatusBadRequest)
		return
	}
	// The Service the API server called is the name it checked our certificate for.
	host := strings.TrimSuffix(r.TLS.ServerName, "."+inj.namespace+".svc")
	revision := serviceRevision(host)
	response := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	if patch, err := inj.inject(r.Context(), revision, review.Request); err != nil {
		response.Allowed = false
		response.Result = &metav1.Status{Status: metav1.StatusFailure, Message: err.Error(), Code: http.StatusInternalServerError}
	} else if patch != nil {
		patchType := admissionv1.PatchTypeJSONPatch
		response.Patch, response.PatchType = patch, &patchType
	}
	review.Request, review.Response = nil, response
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}

// inject returns the JSON patch that injects the pod, or nil when it needs none.
func (inj *Injector) inject(ctx context.Context, revision string, req *admissionv1.AdmissionRequest) ([]byte, error) {
	if revision == "" {
		return nil, fmt.Errorf("the injector answers only for the istiod Services of %s", inj.namespace)
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(req.Object.Raw, pod); err != nil {
		return nil, fmt.Errorf("decoding the pod: %w", err)
	}
	if _, injected := pod.Annotations[sidecarStatusAnnotation]; injected ||
		pod.Labels[sidecarInject] == "false" || pod.Annotations[sidecarInject] == "false" || pod.Spec.HostNetwork {
		return nil, nil
	}
	image, err := inj.proxyImage(ctx, revision)
	if err != nil {
		return nil, err
	}
	status, err := json.Marshal(map[string]any{"containers": []string{"istio-proxy"}, "revision": revision})
	if err != nil {
		return nil, err
	}
	var patch []map[string]any
	if pod.Annotations == nil {
		patch = append(patch, map[string]any{"op": "add", "path": "/metadata/annotations", "value": map[string]string{}})
	}
	patch = append(patch,
		map[string]any{"op": "add", "path": "/metadata/annotations/" + strings.ReplaceAll(sidecarStatusAnnotation, "/", "~1"), "value": string(status)},
		map[string]any{"op": "add", "path": "/spec/containers/-", "value": corev1.Container{Name: "istio-proxy", Image: image}})
	inj.mu.Lock()
	broken := inj.broken[revision]
	inj.injected[revision]++
	inj.mu.Unlock()
	if broken {
		if pod.Spec.NodeSelector == nil {
			patch = append(patch, map[string]any{"op": "add", "path": "/spec/nodeSelector", "value": map[string]string{}})
		}
		patch = append(patch, map[string]any{"op": "add", "path": "/spec/nodeSelector/" + strings.ReplaceAll(BrokenRevisionLabel, "/", "~1"), "value": revision})
	}
	return json.Marshal(patch)
}

// proxyImage is the sidecar image of a revision: the hub and tag of the values its istiod chart wrote
// into the istio-sidecar-injector ConfigMap, as Istio's injection template reads them.
func (inj *Injector) proxyImage(ctx context.Context, revision string) (string, error) {
	name := "istio-sidecar-injector"
	if revision != "default" {
		name += "-" + revision
	}
	cm, err := inj.client.CoreV1().ConfigMaps(inj.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading the injector configuration of revision %s: %w", revision, err)
	}
	var values struct {
		Global struct {
			Hub   string `json:"hub"`
			Tag   any    `json:"tag"`
			Proxy struct {
				Image string `json:"image"`
			} `json:"proxy"`
		} `json:"global"`
	}
	if err := json.Unmarshal([]byte(cm.Data["values"]), &values); err != nil {
		return "", fmt.Errorf("reading the values of %s: %w", name, err)
	}
	g := values.Global
	if g.Hub == "" || g.Tag == nil || g.Proxy.Image == "" {
		return "", errors.New(name + " names no hub, tag or proxy image")
	}
	return fmt.Sprintf("%s/%s:%v", g.Hub, g.Proxy.Image, g.Tag), nil
}
