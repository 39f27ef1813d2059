package app

import (
	"github.com/gofiber/fiber/v2"

	"github.com/skerhq/sker/bridge"
	"github.com/skerhq/sker/cluster"
	skerhttp "github.com/skerhq/sker/http"
)

// BridgeResponse is the answer of GET /bridge: what this node's RabbitMQ
// bridge really does, mapping by mapping.
type BridgeResponse struct {
	Node string `json:"node"`
	// Connected: the bridge holds its RabbitMQ connection.
	Connected bool `json:"connected"`
	// LastError is why the connection last failed.
	LastError string `json:"last_error,omitempty"`
	// Connects counts the connections made, the first included.
	Connects int           `json:"connects"`
	Commands BridgeMapping `json:"commands"`
	Events   BridgeMapping `json:"events"`
	// AIWorkers is the AI jobs sent to workers outside SKER
	// (AI_WORKER_QUEUE) and their replies; Lag is the runs waiting on
	// their workers.
	AIWorkers BridgeMapping `json:"ai_workers"`
	// Generic is each mapping of BRIDGE_CONFIG, by name; absent without
	// BRIDGE_CONFIG.
	Generic map[string]BridgeMapping `json:"generic,omitempty"`
}

// BridgeMapping is one mapping of GET /bridge. The counters are those of
// bridge.MappingStatus, absent when the mapping does not run here.
type BridgeMapping struct {
	Enabled bool `json:"enabled"`
	// Disabled says why the mapping does not run on this node.
	Disabled  string `json:"disabled,omitempty"`
	Connected bool   `json:"connected"`
	*bridge.MappingStatus
}

// bridgeRoutes adds GET /bridge, answered only as skerhttp.OpsOnly admits
// (OPS_TOKEN, or loopback), as GET /cluster is.
func (a *App) bridgeRoutes() {
	a.http.App().Get("/bridge", skerhttp.OpsOnly(a.cfg.OpsToken), a.getBridge)
}

func (a *App) getBridge(c *fiber.Ctx) error {
	return c.JSON(a.bridgeView())
}

// bridgeView is GET /bridge's answer, with why a mapping does not run
// when it does not.
func (a *App) bridgeView() BridgeResponse {
	resp := BridgeResponse{Node: a.cfg.NodeName}
	why := ""
	switch {
	case a.cfg.RabbitMQURL == "":
		why = "RABBITMQ_URL is not set"
	case !a.hasRole(cluster.RoleBridge):
		why = "this node does not have the bridge role (SKER_ROLES)"
	}
	resp.Commands = BridgeMapping{Disabled: why}
	resp.Events = BridgeMapping{Disabled: why}
	resp.AIWorkers = BridgeMapping{Disabled: why}
	switch {
	case why != "":
	case a.cfg.AIWorkerQueue == "":
		resp.AIWorkers.Disabled = "AI_WORKER_QUEUE is not set"
	case a.aiWorkers == nil:
		resp.AIWorkers.Disabled = "this node runs no AI jobs: it needs the ai role (SKER_ROLES)"
	}
	if a.bridge == nil {
		a.genericDisabled(&resp, why)
		if why == "" && !a.cfg.BridgeCommands && !a.cfg.BridgeEvents {
			resp.Commands.Disabled, resp.Events.Disabled = "BRIDGE_COMMANDS is off", "BRIDGE_EVENTS is off"
		}
		return resp
	}
	if !a.cfg.BridgeCommands {
		resp.Commands.Disabled = "BRIDGE_COMMANDS is off"
	}
	if !a.cfg.BridgeEvents {
		resp.Events.Disabled = "BRIDGE_EVENTS is off"
	}
	st := a.bridge.Status()
	resp.Connected, resp.LastError, resp.Connects = st.Connected, st.LastError, st.Connects
	for _, m := range st.Mappings {
		var dst *BridgeMapping
		switch m.Name {
		case bridge.MappingCommands:
			dst = &resp.Commands
		case bridge.MappingEvents:
			dst = &resp.Events
		case bridge.MappingAIWorkers:
			dst = &resp.AIWorkers
		default: // a mapping of BRIDGE_CONFIG: its name is none of the above
			if resp.Generic == nil {
				resp.Generic = map[string]BridgeMapping{}
			}
			resp.Generic[m.Name] = BridgeMapping{Enabled: true, Connected: st.Connected, MappingStatus: &m}
			continue
		}
		*dst = BridgeMapping{Enabled: true, Connected: st.Connected, MappingStatus: &m}
	}
	return resp
}

// genericDisabled lists the mappings of BRIDGE_CONFIG as disabled, for
// why, when this node runs no bridge.
func (a *App) genericDisabled(resp *BridgeResponse, why string) {
	if a.cfg.BridgeConfig == "" {
		return
	}
	ms, err := bridge.LoadGenericConfig(a.cfg.BridgeConfig)
	if err != nil {
		return // it was read at start; a file changed since is not this answer's to report
	}
	if why == "" {
		why = "the bridge does not run on this node"
	}
	resp.Generic = map[string]BridgeMapping{}
	for _, m := range ms {
		resp.Generic[m.Name] = BridgeMapping{Disabled: why}
	}
}
