// Package samples holds the example campaigns and follow-ups of config/samples (applied with
// `kubectl apply -k config/samples`), for `kubectl survey template` to print.
package samples

import "embed"

// Files are the samples' YAML files.
//
//go:embed *.yaml
var Files embed.FS
