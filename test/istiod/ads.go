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
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// The xDS type URLs a sidecar subscribes to.
const (
	ClusterType  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"                // CDS
	ListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"              // LDS
	RouteType    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"       // RDS
	EndpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment" // EDS
)

// The Go types of the resources ADS decodes, so protobuf's registry knows them (and the names of
// SotW resources, which carry no name outside the resource, can be read).
var (
	_ = (*clusterv3.Cluster)(nil)
	_ = (*listenerv3.Listener)(nil)
	_ = (*routev3.RouteConfiguration)(nil)
	_ = (*endpointv3.ClusterLoadAssignment)(nil)
)

// Mode is the flavour of the ADS protocol.
type Mode string

const (
	// SotW is State of the World (StreamAggregatedResources): every response carries every resource
	// of its type.
	SotW Mode = "sotw"
	// Delta is incremental xDS (DeltaAggregatedResources): a response carries the resources that
	// changed and the names of those removed.
	Delta Mode = "delta"
)

// Proxy describes the sidecar an ADS client poses as.
type Proxy struct {
	// IP is the pod IP. Default 10.244.0.10.
	IP string
	// Pod and Namespace name the pod (required: Namespace; Pod defaults to "client").
	Pod, Namespace string
	// Labels are the pod's labels (istiod matches Sidecar workloadSelectors and policies on them).
	Labels map[string]string
	// IstioVersion is the proxy's version. Default 1.31.1.
	IstioVersion string
	// ClusterID is the cluster the proxy runs in. Default Kubernetes, istiod's own.
	ClusterID string
	// Metadata is added to (and overrides) the node metadata built from the fields above, e.g.
	// {"DNS_CAPTURE": "true"}.
	Metadata map[string]any
}

// NodeID is the Envoy node id of a sidecar: sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local.
func (p Proxy) NodeID() string {
	p = p.withDefaults()
	return fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", p.IP, p.Pod, p.Namespace, p.Namespace)
}

func (p Proxy) withDefaults() Proxy {
	if p.IP == "" {
		p.IP = "10.244.0.10"
	}
	if p.Pod == "" {
		p.Pod = "client"
	}
	if p.IstioVersion == "" {
		p.IstioVersion = "1.31.1"
	}
	if p.ClusterID == "" {
		p.ClusterID = "Kubernetes"
	}
	return p
}

// Node is the Envoy node the proxy sends in its first request, with the metadata istio-agent would
// add.
func (p Proxy) Node() (*corev3.Node, error) {
	p = p.withDefaults()
	if p.Namespace == "" {
		return nil, errors.New("istiod: Proxy.Namespace is required")
	}
	labels := map[string]any{}
	for k, v := range p.Labels {
		labels[k] = v
	}
	meta := map[string]any{
		"NAMESPACE":         p.Namespace,
		"NAME":              p.Pod,
		"ISTIO_VERSION":     p.IstioVersion,
		"CLUSTER_ID":        p.ClusterID,
		"LABELS":            labels,
		"INSTANCE_IPS":      p.IP,
		"INTERCEPTION_MODE": "REDIRECT",
		"SERVICE_ACCOUNT":   "default",
		"WORKLOAD_NAME":     p.Pod,
	}
	maps.Copy(meta, p.Metadata)
	s, err := structpb.NewStruct(meta)
	if err != nil {
		return nil, fmt.Errorf("istiod: node metadata: %w", err)
	}
	return &corev3.Node{Id: p.NodeID(), Cluster: p.Pod + "." + p.Namespace, Metadata: s}, nil
}

// Response is one response istiod sent on an ADS stream.
type Response struct {
	// Time is when the client received it.
	Time time.Time
	// TypeURL is its resource type (ClusterType, ListenerType, ...).
	TypeURL string
	// Version and Nonce are the response's (SotW: version_info; delta: system_version_info).
	Version, Nonce string
	// Resources is the number of resources it carried; Names are their names, sorted.
	Resources int
	Names     []string
	// Removed are the names a delta response removed.
	Removed []string
	// Bytes is the total serialized size of its resources (proto.Size of each resource message).
	Bytes int
}

// Resources is the state of one type of resource a client holds: for SotW the last response, for
// delta what the responses so far add up to.
type Resources struct {
	// Names are the resources' names, sorted.
	Names []string
	// Bytes is their total serialized size (proto.Size of each resource message).
	Bytes int
	// Messages are the resources, by name.
	Messages map[string]proto.Message
}

// Count is the number of resources.
func (r Resources) Count() int { return len(r.Names) }

// Has tells whether a resource of that name is present.
func (r Resources) Has(name string) bool { return slices.Contains(r.Names, name) }

// ADS is an open ADS stream to istiod posing as a sidecar. It ACKs every response, as Envoy does,
// records every response (see Responses and WaitFor) and keeps the current resources of each type
// (see State). The first response of a subscription is in Responses like every later push.
type ADS struct {
	Mode  Mode
	Proxy Proxy

	conn   *grpc.ClientConn
	cancel context.CancelFunc
	send   func(typeURL string, ack *ackInfo) error

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every response or stream end
	responses []Response
	state     map[string]map[string]proto.Message
	subs      map[string][]string // SotW: the names each type subscribes to (nil: wildcard)
	err       error               // why the stream ended
	sendMu    sync.Mutex
	nodeSent  bool
}

type ackInfo struct{ version, nonce string }

// Dial opens an ADS stream in mode to istiod's plaintext xDS address (Istiod.GRPCAddr) as proxy. It
// subscribes to nothing yet; see Subscribe, or FetchCDS/FetchLDS for one-shot queries.
func Dial(ctx context.Context, addr string, proxy Proxy, mode Mode) (*ADS, error) {
	if _, err := proxy.Node(); err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// A mesh's CDS easily passes gRPC's 4 MiB default.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		return nil, fmt.Errorf("istiod: dialing %s: %w", addr, err)
	}
	streamCtx, cancel := context.WithCancel(ctx)
	a := &ADS{
		Mode: mode, Proxy: proxy.withDefaults(), conn: conn, cancel: cancel,
		changed: make(chan struct{}),
		state:   map[string]map[string]proto.Message{},
		subs:    map[string][]string{},
	}
	client := discoveryv3.NewAggregatedDiscoveryServiceClient(conn)
	switch mode {
	case SotW:
		stream, err := client.StreamAggregatedResources(streamCtx)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("istiod: opening a SotW ADS stream: %w", err)
		}
		a.send = func(typeURL string, ack *ackInfo) error {
			req := &discoveryv3.DiscoveryRequest{TypeUrl: typeURL, ResourceNames: a.subscription(typeURL)}
			if ack != nil {
				req.VersionInfo, req.ResponseNonce = ack.version, ack.nonce
			}
			return a.withNode(func(node *corev3.Node) { req.Node = node }, func() error { return stream.Send(req) })
		}
		go a.receive(func() error {
			resp, err := stream.Recv()
			if err != nil {
				return err
			}
			a.recordSotW(resp)
			return a.sendLocked(resp.TypeUrl, &ackInfo{resp.VersionInfo, resp.Nonce})
		})
	case Delta:
		stream, err := client.DeltaAggregatedResources(streamCtx)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("istiod: opening a delta ADS stream: %w", err)
		}
		a.send = func(typeURL string, ack *ackInfo) error {
			req := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeURL}
			if ack != nil {
				req.ResponseNonce = ack.nonce
			} else {
				req.ResourceNamesSubscribe = a.subscription(typeURL)
				if req.ResourceNamesSubscribe == nil {
					req.ResourceNamesSubscribe = []string{"*"}
				}
			}
			return a.withNode(func(node *corev3.Node) { req.Node = node }, func() error { return stream.Send(req) })
		}
		go a.receive(func() error {
			resp, err := stream.Recv()
			if err != nil {
				return err
			}
			a.recordDelta(resp)
			return a.sendLocked(resp.TypeUrl, &ackInfo{resp.SystemVersionInfo, resp.Nonce})
		})
	default:
		a.Close()
		return nil, fmt.Errorf("istiod: unknown ADS mode %q", mode)
	}
	return a, nil
}

// withNode sends a request with send, after giving it the node (set) if it is the stream's first: Envoy
// names itself once per stream.
func (a *ADS) withNode(set func(*corev3.Node), send func() error) error {
	if !a.nodeSent {
		node, err := a.Proxy.Node()
		if err != nil {
			return err
		}
		set(node)
	}
	if err := send(); err != nil {
		return err
	}
	a.nodeSent = true
	return nil
}

func (a *ADS) subscription(typeURL string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.subs[typeURL]
}

func (a *ADS) sendLocked(typeURL string, ack *ackInfo) error {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	return a.send(typeURL, ack)
}

// receive runs recv until the stream ends and records why.
func (a *ADS) receive(recv func() error) {
	for {
		if err := recv(); err != nil {
			a.mu.Lock()
			if errors.Is(err, io.EOF) {
				err = errors.New("istiod closed the stream")
			}
			a.err = err
			close(a.changed)
			a.changed = make(chan struct{})
			a.mu.Unlock()
			return
		}
	}
}

// Subscribe asks for the resources of typeURL: names, or every resource (wildcard) when there are
// none. Envoy's sidecar subscribes to CDS and LDS by wildcard, and to the EDS and RDS resources that
// clusters and listeners name. Calling it again for a type replaces the SotW subscription; in delta
// mode it adds names.
func (a *ADS) Subscribe(typeURL string, names ...string) error {
	a.mu.Lock()
	if len(names) > 0 {
		a.subs[typeURL] = names
	} else {
		delete(a.subs, typeURL)
	}
	a.mu.Unlock()
	if err := a.sendLocked(typeURL, nil); err != nil {
		return fmt.Errorf("istiod: subscribing to %s: %w", typeURL, err)
	}
	return nil
}

// decode returns the name and message of a resource.
func decode(res *anypb.Any) (string, proto.Message, error) {
	msg, err := res.UnmarshalNew()
	if err != nil {
		return "", nil, err
	}
	switch m := msg.(type) {
	case *endpointv3.ClusterLoadAssignment:
		return m.GetClusterName(), m, nil
	case interface{ GetName() string }:
		return m.GetName(), msg, nil
	}
	return "", msg, nil
}

func (a *ADS) recordSotW(resp *discoveryv3.DiscoveryResponse) {
	r := Response{Time: time.Now(), TypeURL: resp.TypeUrl, Version: resp.VersionInfo, Nonce: resp.Nonce, Resources: len(resp.Resources)}
	state := map[string]proto.Message{}
	for _, res := range resp.Resources {
		name, msg, err := decode(res)
		if err != nil {
			r.Bytes += len(res.GetValue())
			r.Names = append(r.Names, "<undecodable "+res.GetTypeUrl()+">")
			continue
		}
		r.Bytes += proto.Size(msg)
		r.Names = append(r.Names, name)
		state[name] = msg
	}
	sort.Strings(r.Names)
	a.record(r, func() { a.state[resp.TypeUrl] = state })
}

func (a *ADS) recordDelta(resp *discoveryv3.DeltaDiscoveryResponse) {
	r := Response{Time: time.Now(), TypeURL: resp.TypeUrl, Version: resp.SystemVersionInfo, Nonce: resp.Nonce,
		Resources: len(resp.Resources), Removed: slices.Sorted(slices.Values(resp.RemovedResources))}
	updates := map[string]proto.Message{}
	for _, res := range resp.Resources {
		msg, err := res.GetResource().UnmarshalNew()
		if err != nil {
			r.Bytes += len(res.GetResource().GetValue())
			msg = nil
		} else {
			r.Bytes += proto.Size(msg)
		}
		r.Names = append(r.Names, res.Name)
		updates[res.Name] = msg
	}
	sort.Strings(r.Names)
	a.record(r, func() {
		state := a.state[resp.TypeUrl]
		if state == nil {
			state = map[string]proto.Message{}
			a.state[resp.TypeUrl] = state
		}
		for _, name := range resp.RemovedResources {
			delete(state, name)
		}
		maps.Copy(state, updates)
	})
}

func (a *ADS) record(r Response, update func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.responses = append(a.responses, r)
	update()
	close(a.changed)
	a.changed = make(chan struct{})
}

// Responses returns every response received so far, in order.
func (a *ADS) Responses() []Response {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.responses)
}

// Mark is a position in the list of responses, for ResponsesSince: "what was pushed after this
// change".
func (a *ADS) Mark() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.responses)
}

// ResponsesSince returns the responses received after mark, optionally only those of typeURLs.
func (a *ADS) ResponsesSince(mark int, typeURLs ...string) []Response {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Response
	for _, r := range a.responses[min(mark, len(a.responses)):] {
		if len(typeURLs) == 0 || slices.Contains(typeURLs, r.TypeURL) {
			out = append(out, r)
		}
	}
	return out
}

// Err returns why the stream ended, or nil while it is open.
func (a *ADS) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// State returns the current resources of typeURL.
func (a *ADS) State(typeURL string) Resources {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := Resources{Messages: map[string]proto.Message{}}
	for name, msg := range a.state[typeURL] {
		r.Names = append(r.Names, name)
		if msg != nil {
			r.Bytes += proto.Size(msg)
		}
		r.Messages[name] = msg
	}
	sort.Strings(r.Names)
	return r
}

// WaitFor waits for a response received after mark that satisfies match (nil: any), and returns it.
// It fails when ctx ends or the stream does.
func (a *ADS) WaitFor(ctx context.Context, mark int, match func(Response) bool) (Response, error) {
	for {
		a.mu.Lock()
		for _, r := range a.responses[min(mark, len(a.responses)):] {
			if match == nil || match(r) {
				a.mu.Unlock()
				return r, nil
			}
		}
		mark = len(a.responses)
		changed, err := a.changed, a.err
		a.mu.Unlock()
		if err != nil {
			return Response{}, fmt.Errorf("istiod: ADS stream ended: %w", err)
		}
		select {
		case <-ctx.Done():
			return Response{}, fmt.Errorf("istiod: waiting for an ADS response: %w", ctx.Err())
		case <-changed:
		}
	}
}

// WaitForType waits for a response of typeURL received after mark.
func (a *ADS) WaitForType(ctx context.Context, mark int, typeURL string) (Response, error) {
	return a.WaitFor(ctx, mark, func(r Response) bool { return r.TypeURL == typeURL })
}

// Quiet waits until no response has arrived for quiet (istiod's debounce plus its push time), or
// until ctx ends, and returns the responses received after mark. It is how a test measures "this
// change pushed nothing (or only this) to that proxy".
func (a *ADS) Quiet(ctx context.Context, mark int, quiet time.Duration) ([]Response, error) {
	last := a.Mark()
	timer := time.NewTimer(quiet)
	defer timer.Stop()
	for {
		a.mu.Lock()
		changed, err := a.changed, a.err
		a.mu.Unlock()
		if err != nil {
			return a.ResponsesSince(mark), fmt.Errorf("istiod: ADS stream ended: %w", err)
		}
		select {
		case <-ctx.Done():
			return a.ResponsesSince(mark), ctx.Err()
		case <-timer.C:
			return a.ResponsesSince(mark), nil
		case <-changed:
			if n := a.Mark(); n != last {
				last = n
				timer.Reset(quiet)
			}
		}
	}
}

// Close ends the stream.
func (a *ADS) Close() {
	a.cancel()
	_ = a.conn.Close()
}

// Fetch opens a stream in mode as proxy, subscribes to every resource of typeURL, waits for the
// first response and returns the resources it holds then.
func Fetch(ctx context.Context, addr string, proxy Proxy, mode Mode, typeURL string) (Resources, error) {
	a, err := Dial(ctx, addr, proxy, mode)
	if err != nil {
		return Resources{}, err
	}
	defer a.Close()
	if err := a.Subscribe(typeURL); err != nil {
		return Resources{}, err
	}
	if _, err := a.WaitForType(ctx, 0, typeURL); err != nil {
		return Resources{}, err
	}
	return a.State(typeURL), nil
}

// FetchCDS returns the clusters istiod gives proxy.
func FetchCDS(ctx context.Context, addr string, proxy Proxy, mode Mode) (Resources, error) {
	return Fetch(ctx, addr, proxy, mode, ClusterType)
}

// FetchLDS returns the listeners istiod gives proxy.
func FetchLDS(ctx context.Context, addr string, proxy Proxy, mode Mode) (Resources, error) {
	return Fetch(ctx, addr, proxy, mode, ListenerType)
}

// Summary is a one-line description of a response, for logs.
func (r Response) Summary() string {
	kind := r.TypeURL[strings.LastIndex(r.TypeURL, ".")+1:]
	s := fmt.Sprintf("%s %s: %d resources, %d bytes", r.Time.Format("15:04:05.000"), kind, r.Resources, r.Bytes)
	if len(r.Removed) > 0 {
		s += fmt.Sprintf(", %d removed", len(r.Removed))
	}
	return s
}
