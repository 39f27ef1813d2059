package cluster_test

import (
	"github.com/skerhq/sker/actors"
	"github.com/skerhq/sker/cluster"
)

// The canvas actors' hub is the Local of a node that owns canvases.
var _ cluster.Local = (*actors.Hub)(nil)
