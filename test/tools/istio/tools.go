//go:build tools

// The binary this module builds; see ../binaries.txt.
package tools

import (
	_ "istio.io/istio/pilot/cmd/pilot-discovery"
)
