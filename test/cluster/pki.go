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
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the key material of one cluster: a CA that signs the API server's serving certificate and the
// admin's client certificate (and, in kube-controller-manager, CSRs), and the key that signs service
// account tokens. Everything is generated per cluster, so no two clusters trust each other.
type pki struct {
	caCert, caKey         string // files
	serverCert, serverKey string // files
	serviceAccountKey     string // file

	caPEM                     []byte
	adminCertPEM, adminKeyPEM []byte
}

// newPKI generates the cluster's keys and certificates and writes them to dir.
func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	notBefore := time.Now().Add(-time.Hour)
	notAfter := notBefore.Add(10 * 24 * time.Hour)

	ca, caKey, err := issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "meshkeeper-simulated-cluster-ca"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("creating the CA: %w", err)
	}
	// The serving certificate names every address a client can use: 127.0.0.1 from this machine, and
	// the kubernetes Service's first address and names, as in a real cluster.
	server, serverKey, err := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(kubernetesServiceIP)},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
	}, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating the API server certificate: %w", err)
	}
	// system:masters is bound to cluster-admin and bypasses authorization: the controllers, the
	// scheduler, kwok and the tests all act as this one admin.
	admin, adminKey, err := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "meshkeeper-admin", Organization: []string{"system:masters"}},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating the admin certificate: %w", err)
	}
	serviceAccountKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("creating the service account key: %w", err)
	}

	p := &pki{
		caCert:            filepath.Join(dir, "ca.crt"),
		caKey:             filepath.Join(dir, "ca.key"),
		serverCert:        filepath.Join(dir, "apiserver.crt"),
		serverKey:         filepath.Join(dir, "apiserver.key"),
		serviceAccountKey: filepath.Join(dir, "sa.key"),
		caPEM:             certPEM(ca),
		adminCertPEM:      certPEM(admin),
	}
	if p.adminKeyPEM, err = keyPEM(adminKey); err != nil {
		return nil, err
	}
	files := []struct {
		path string
		pem  func() ([]byte, error)
	}{
		{p.caCert, func() ([]byte, error) { return p.caPEM, nil }},
		{p.caKey, func() ([]byte, error) { return keyPEM(caKey) }},
		{p.serverCert, func() ([]byte, error) { return certPEM(server), nil }},
		{p.serverKey, func() ([]byte, error) { return keyPEM(serverKey) }},
		{p.serviceAccountKey, func() ([]byte, error) { return keyPEM(serviceAccountKey) }},
	}
	for _, f := range files {
		data, err := f.pem()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(f.path, data, 0o600); err != nil {
			return nil, fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	return p, nil
}

// issue creates a key and a certificate for it from tmpl, signed by parent, or self-signed when parent
// is nil.
func issue(tmpl, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generating a serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %q: %w", tmpl.Subject.CommonName, err)
	}
	return cert, key, nil
}

func certPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding a key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}
