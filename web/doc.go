// Package web is tipy's HTTP server: the REST socket API of version 1, its
// OpenAPI 3 document, and the WebSocket stream of events (see
// ../shared/contracts.md, "REST API, version 1" and "Events").
//
// A [Server] is an http.Handler built on a chi router. The API lives under
// /api/v1; pages and static assets are added to [Server.Router] by the
// dashboard. Every call that touches a stack goes through the stack's owner
// loop (Stack.Call, or the socket methods that do so themselves); blocking
// socket calls run on the request's goroutine, bounded by the request's
// context and its timeout_ms.
//
// The event stream subscribes to the observer bus with a bounded queue per
// client, sends JSON arrays at most about 60 times a second, coalesces
// high-rate samples within a batch, forwards the bus's gap events, and strips
// frame bytes from streamed events: a client fetches a frame's bytes and
// dissection on demand from GET /api/v1/frames/{seq}.
package web
