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

package charts

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Credentials authenticate meshkeeper to a private repository. They are sent only to the repository's
// own host, and never printed.
type Credentials struct {
	Username string
	Password string
}

// IsZero reports whether there are no credentials (anonymous access).
func (c Credentials) IsZero() bool { return c.Username == "" && c.Password == "" }

// String never shows the secret parts, so a credential that reaches a log by mistake shows nothing.
func (c Credentials) String() string {
	if c.IsZero() {
		return "anonymous"
	}
	return "credentials of " + c.Username
}

// identity tells credentials apart without holding them: "" for anonymous access, else a digest of
// the username and password, for keys of the resolver's cache, which are never printed either.
func (c Credentials) identity() string {
	if c.IsZero() {
		return ""
	}
	// The username's length tells where it ends, whatever bytes the two hold.
	sum := sha256.Sum256(fmt.Appendf(nil, "meshkeeper chart repository credentials\x00%d\x00%s%s", len(c.Username), c.Username, c.Password))
	return hex.EncodeToString(sum[:])
}

// credentials reads the credentials Secret a source names: "username" and "password" for a Helm
// repository, ".dockerconfigjson" (the entry for the registry's host) for an OCI registry. Errors wrap
// ErrRepositoryUnreachable and name the Secret and the key, never a value.
func (r *CachingResolver) credentials(ctx context.Context, source Source) (Credentials, error) {
	name := source.CredentialsSecret
	if name.Name == "" {
		return Credentials{}, nil
	}
	if r.Secrets == nil {
		return Credentials{}, fmt.Errorf("%w: no reader for the credentials Secret %s", ErrRepositoryUnreachable, name)
	}
	secret := &corev1.Secret{}
	if err := r.Secrets.Get(ctx, name, secret); err != nil {
		return Credentials{}, fmt.Errorf("%w: reading the credentials Secret %s of %s: %w",
			ErrRepositoryUnreachable, name, RedactURL(source.Repository), err)
	}
	return CredentialsFromSecret(source.Repository, secret)
}

// CredentialsFromSecret reads the credentials for repository from secret.
func CredentialsFromSecret(repository string, secret *corev1.Secret) (Credentials, error) {
	name := secret.Namespace + "/" + secret.Name
	if strings.HasPrefix(repository, "oci://") {
		data, ok := secret.Data[corev1.DockerConfigJsonKey]
		if !ok {
			return Credentials{}, fmt.Errorf("%w: the credentials Secret %s has no %s key, which an OCI registry needs",
				ErrRepositoryUnreachable, name, corev1.DockerConfigJsonKey)
		}
		host := registryHost(repository)
		c, err := dockerConfigCredentials(data, host)
		if err != nil {
			return Credentials{}, fmt.Errorf("%w: the %s of the credentials Secret %s: %w",
				ErrRepositoryUnreachable, corev1.DockerConfigJsonKey, name, err)
		}
		return c, nil
	}
	username, password := secret.Data["username"], secret.Data["password"]
	if len(username) == 0 || len(password) == 0 {
		return Credentials{}, fmt.Errorf("%w: the credentials Secret %s needs the keys username and password for a Helm repository",
			ErrRepositoryUnreachable, name)
	}
	return Credentials{Username: string(username), Password: string(password)}, nil
}

// registryHost is the host (and port) of an oci:// repository.
func registryHost(repository string) string {
	host, _, _ := strings.Cut(strings.TrimPrefix(repository, "oci://"), "/")
	return strings.ToLower(host)
}

// dockerConfigCredentials finds host's entry in a .dockerconfigjson: "username" and "password", or
// "auth" (base64 of "username:password").
func dockerConfigCredentials(data []byte, host string) (Credentials, error) {
	var config struct {
		Auths map[string]struct {
			Username string `json:"username"`
			Password string `json:"password"`
			Auth     string `json:"auth"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(data, &config); err != nil {
		// The JSON error may quote the content: say only that it is not valid.
		return Credentials{}, fmt.Errorf("not a valid Docker config (JSON with \"auths\")")
	}
	for key, entry := range config.Auths {
		if registryKeyHost(key) != host {
			continue
		}
		c := Credentials{Username: entry.Username, Password: entry.Password}
		if entry.Auth != "" {
			decoded, err := base64.StdEncoding.DecodeString(entry.Auth)
			if err != nil {
				return Credentials{}, fmt.Errorf("the auth of %s is not base64", host)
			}
			user, pass, ok := strings.Cut(string(decoded), ":")
			if !ok {
				return Credentials{}, fmt.Errorf("the auth of %s is not username:password", host)
			}
			c = Credentials{Username: user, Password: pass}
		}
		if c.IsZero() {
			return Credentials{}, fmt.Errorf("the entry for %s has no credentials", host)
		}
		return c, nil
	}
	return Credentials{}, fmt.Errorf("no entry for %s", host)
}

// registryKeyHost is the host of a key of "auths", which may be a bare host or a URL.
func registryKeyHost(key string) string {
	if strings.Contains(key, "://") {
		if u, err := url.Parse(key); err == nil {
			return strings.ToLower(u.Host)
		}
	}
	host, _, _ := strings.Cut(key, "/")
	return strings.ToLower(host)
}
