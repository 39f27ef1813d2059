// Package canvases is the canvas contract: what the parts that serve
// clients (the WebSocket gateway, the REST API, the AI engine, the RabbitMQ
// bridge) ask of the canvases they change. Submit a batch, take a
// snapshot, catch up since a seq, read the history, forget a deleted
// canvas, finish an AI run: the interface Canvases, the types it speaks in
// (CatchUp, AIResult, the "changes" frame) and its errors.
//
// As centrifuge does with its Broker, there is one contract and more than
// one implementation. *actors.Hub serves the canvases whose actors live on
// this node; a cluster adds one that reaches a canvas's owner over NATS
// request/reply. A caller cannot tell which one answered: either returns
// this package's errors, and APIError maps any of them to what a client is
// told, once, for REST and WebSocket alike. The package imports neither
// actors nor any caller, so every side can import it.
//
// Each caller keeps its own small interface with just the calls it makes
// (gateway.Canvases, skerhttp.Canvases, aiengine.Finisher,
// bridge.Canvases), written in this package's types and checked at compile
// time to be a part of Canvases. The caller owns what it depends on, and
// its file shows which calls it makes; Canvases is what an implementation
// must provide so that it can serve every caller at once.
//
// Fanout. Every committed batch is also published on the canvas's Changes
// subject (natsname.Names.Changes), for every gateway with clients on the
// canvas: the body is a ChangesFrame of the batches the message carries,
// and its headers natsname.HeaderFirstSeq and natsname.HeaderLastSeq give
// their seqs, in decimal.
package canvases
