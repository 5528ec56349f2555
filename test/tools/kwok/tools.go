//go:build tools

// The binary this module builds; see ../binaries.txt.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
