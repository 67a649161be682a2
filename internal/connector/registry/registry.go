// Package registry lists every connector switchyard runs: adding one is a
// new package under internal/connector and one line here. The app builds
// the Set from it, and the event handlers, syncers, webhook sources and
// HTTP routes follow.
package registry

import (
	"switchyard/internal/connector"
	"switchyard/internal/connector/konnektivegorgias"
	"switchyard/internal/connector/togethergorgias"
	"switchyard/internal/connector/whiplashgorgias"
	"switchyard/internal/connector/whiplashklaviyo"
	"switchyard/internal/connector/yotpogorgias"
)

// Factories are the registered connectors, one line each.
var Factories = []connector.Factory{
	connector.Of(whiplashgorgias.New),   // C1
	connector.Of(whiplashklaviyo.New),   // C2
	connector.Of(konnektivegorgias.New), // C3
	connector.Of(yotpogorgias.New),      // C4
	connector.Of(togethergorgias.New),   // C5
}

// Build builds every registered connector with d and checks the set.
func Build(d connector.Deps) (*connector.Set, error) {
	return connector.NewSet(d, Factories...)
}
