package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// The OpenAPI 3 document of the API is built from the table below, one
// entry per route of apiRoutes; a test walks the router and checks that
// both agree.

type schema = map[string]any

func obj(props schema, required ...string) schema {
	s := schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func openObj(desc string) schema { return schema{"type": "object", "description": desc} }
func str(desc string) schema     { return schema{"type": "string", "description": desc} }
func integer(desc string) schema { return schema{"type": "integer", "description": desc} }
func number(desc string) schema  { return schema{"type": "number", "description": desc} }
func boolean(desc string) schema { return schema{"type": "boolean", "description": desc} }
func ref(name string) schema     { return schema{"$ref": "#/components/schemas/" + name} }
func array(items schema) schema  { return schema{"type": "array", "items": items} }
func nullable(s schema) schema {
	c := schema{}
	for k, v := range s {
		c[k] = v
	}
	c["nullable"] = true
	return c
}

var timeoutMS = integer("how long to wait, in milliseconds of wall time (0: do not wait, EAGAIN; absent: the socket's timeout, within the server's limit)")

// op is one operation of the document.
type op struct {
	method, path, tag, summary string
	body                       schema // request body; nil for none
	bodyType                   string // content type of body; JSON when empty
	ok                         int    // success status
	resp                       schema // success body; nil for none
	respType                   string // content type of resp; JSON when empty
	errors                     []int  // error statuses besides 400/401/500
	query                      []param
}

type param struct {
	name, desc string
	required   bool
}

var socketOp = []int{404, 408, 409, 502}

var operations = []op{
	{method: "GET", path: "/health", tag: "meta", summary: "Liveness: {\"status\":\"ok\"} (open without a token)", ok: 200, resp: obj(schema{"status": str("ok")})},
	{method: "GET", path: "/openapi.json", tag: "meta", summary: "This document", ok: 200, resp: openObj("OpenAPI 3 document")},
	{method: "GET", path: "/hosts", tag: "hosts", summary: "Every host: name, MAC, addresses with prefixes, gateway, MTU, link, interfaces", ok: 200,
		resp: obj(schema{"mode": str("lab, tap or replay"), "seed": integer("seed of every random choice"), "hosts": array(ref("Host"))})},
	{method: "GET", path: "/hosts/{host}", tag: "hosts", summary: "One host", ok: 200, resp: ref("Host"), errors: []int{404}},

	{method: "POST", path: "/hosts/{host}/sockets", tag: "sockets", summary: "Create a socket, as socket.socket(AF_INET, type, protocol)", ok: 201, resp: ref("Socket"),
		body: obj(schema{"type": schema{"type": "string", "enum": []string{"stream", "dgram", "raw"}}, "protocol": integer("IP protocol; raw sockets need it, 0 otherwise")}, "type"), errors: []int{404}},
	{method: "GET", path: "/hosts/{host}/sockets", tag: "sockets", summary: "The open sockets of a host", ok: 200, resp: obj(schema{"sockets": array(ref("Socket"))}), errors: []int{404}},
	{method: "GET", path: "/hosts/{host}/sockets/{id}", tag: "sockets", summary: "A socket: state, addresses, options, buffer fill, TCP snapshot", ok: 200, resp: ref("Socket"), errors: []int{404}},
	{method: "DELETE", path: "/hosts/{host}/sockets/{id}", tag: "sockets", summary: "Close the socket", ok: 204, errors: []int{404}},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/bind", tag: "sockets", summary: "Bind to a local address (empty address: every interface; port 0: ephemeral)", ok: 200, resp: ref("Socket"),
		body: obj(schema{"address": str("IPv4 address"), "port": integer("0-65535")}), errors: socketOp},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/connect", tag: "sockets", summary: "Connect (TCP: the handshake; UDP and raw: fix the peer)", ok: 200, resp: ref("Socket"),
		body: obj(schema{"address": str("IPv4 address"), "port": integer("0-65535"), "timeout_ms": timeoutMS}, "address"), errors: socketOp},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/listen", tag: "sockets", summary: "Accept connections on a stream socket", ok: 200, resp: ref("Socket"),
		body: obj(schema{"backlog": integer("queue of connections not yet accepted; 0: the default")}), errors: socketOp},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/accept", tag: "sockets", summary: "Wait for a connection; the new socket", ok: 200,
		resp: schema{"allOf": []schema{ref("Socket"), obj(schema{"peer": str("the peer's address:port")})}},
		body: obj(schema{"timeout_ms": timeoutMS}), errors: socketOp},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/send", tag: "sockets", summary: "Send text or base64 data to the connected peer", ok: 200, resp: obj(schema{"bytes": integer("bytes taken")}),
		body: obj(schema{"text": str("UTF-8 text"), "data": str("base64 bytes"), "timeout_ms": timeoutMS}), errors: socketOp},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/sendto", tag: "sockets", summary: "Send one datagram to an address", ok: 200, resp: obj(schema{"bytes": integer("bytes taken")}),
		body: obj(schema{"text": str("UTF-8 text"), "data": str("base64 bytes"), "address": str("IPv4 address"), "port": integer("0-65535"), "timeout_ms": timeoutMS}, "address", "port"), errors: socketOp},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/recv", tag: "sockets", summary: "Receive at most max bytes", ok: 200, resp: ref("Received"),
		body: obj(schema{"max": integer("1 to 1048576, default 65536"), "timeout_ms": timeoutMS}), errors: socketOp},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/recvfrom", tag: "sockets", summary: "Receive one datagram and its sender", ok: 200, resp: ref("Received"),
		body: obj(schema{"max": integer("1 to 1048576, default 65536"), "timeout_ms": timeoutMS}), errors: socketOp},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/shutdown", tag: "sockets", summary: "Shut one or both directions", ok: 200, resp: ref("Socket"),
		body: obj(schema{"how": schema{"type": "string", "enum": []string{"SHUT_RD", "SHUT_WR", "SHUT_RDWR"}}}, "how"), errors: socketOp},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/setsockopt", tag: "sockets", summary: "Set an option", ok: 200, resp: ref("Socket"),
		body: obj(schema{"level": schema{"type": "string", "enum": []string{"SOL_SOCKET", "IPPROTO_IP", "IPPROTO_TCP"}, "description": "default: from the name's prefix"},
			"name":  str("SO_REUSEADDR, SO_LINGER, IP_TTL, IP_ADD_MEMBERSHIP, IP_OPTIONS, TCP_NODELAY, TCP_CONGESTION, ..."),
			"value": schema{"description": "a number, a boolean, a string (TCP_CONGESTION, IP_MULTICAST_IF), {\"on\":true,\"seconds\":0} (SO_LINGER), {\"group\":\"239.1.2.3\",\"interface\":\"0.0.0.0\"} (IP_ADD_MEMBERSHIP), base64 or an array of bytes (IP_OPTIONS)"}},
			"name", "value"), errors: socketOp},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/getsockopt", tag: "sockets", summary: "Read an option", ok: 200, resp: obj(schema{"level": str(""), "name": str(""), "value": schema{}}),
		body: obj(schema{"level": str("default: from the name's prefix"), "name": str("option name")}, "name"), errors: socketOp},
	{method: "POST", path: "/hosts/{host}/sockets/{id}/settimeout", tag: "sockets", summary: "Set the timeout of blocking calls on the stack's clock (null: blocking, 0: non-blocking)", ok: 200, resp: ref("Socket"),
		body: obj(schema{"timeout_ms": nullable(integer("milliseconds"))}), errors: socketOp},

	{method: "GET", path: "/hosts/{host}/arp", tag: "arp", summary: "The ARP cache", ok: 200, resp: obj(schema{"entries": array(ref("ARPEntry"))}), errors: []int{404}},
	{method: "POST", path: "/hosts/{host}/arp", tag: "arp", summary: "Add a static entry", ok: 201, resp: ref("ARPEntry"),
		body: obj(schema{"address": str("IPv4 address"), "mac": str("02:00:00:00:00:01")}, "address", "mac"), errors: []int{404}},
	{method: "DELETE", path: "/hosts/{host}/arp/{address}", tag: "arp", summary: "Delete the entry for an address", ok: 204, errors: []int{404}},
	{method: "POST", path: "/hosts/{host}/arp/announce", tag: "arp", summary: "Send a gratuitous ARP (RFC 5227 §2.3)", ok: 200, resp: obj(schema{"status": str("announced")}), errors: []int{404, 409}},
	{method: "GET", path: "/hosts/{host}/routes", tag: "routes", summary: "The routing table, longest prefixes first", ok: 200, resp: obj(schema{"routes": array(ref("Route"))}), errors: []int{404}},
	{method: "POST", path: "/hosts/{host}/routes", tag: "routes", summary: "Add a static route", ok: 201, resp: ref("Route"),
		body: obj(schema{"destination": str("A/N"), "gateway": str("next hop; empty: on-link"), "interface": str("interface name when on-link")}, "destination"), errors: []int{404}},
	{method: "DELETE", path: "/hosts/{host}/routes", tag: "routes", summary: "Delete a static route", ok: 204, errors: []int{404},
		query: []param{{"destination", "the route's prefix, A/N", true}}},
	{method: "POST", path: "/hosts/{host}/ping", tag: "hosts", summary: "Ping: sent, received, RTTs, ICMP errors received instead of replies", ok: 200, resp: openObj("stack.PingResult and interrupted"),
		body: obj(schema{"address": str("IPv4 address"), "count": integer("default 4"), "size": integer("payload bytes, default 56"), "ttl": integer("default 64"),
			"interval_ms": integer("default 1000"), "timeout_ms": integer("per reply, default 2000")}, "address"), errors: []int{404, 502}},
	{method: "GET", path: "/hosts/{host}/tcp", tag: "tcp", summary: "Every TCP connection with its snapshot, and the TCP counters", ok: 200,
		resp: obj(schema{"connections": array(openObj("stack.TCPSnapshot")), "stats": openObj("stack.TCPStats")}), errors: []int{404}},
	{method: "GET", path: "/hosts/{host}/stats", tag: "hosts", summary: "Counters per layer, with drop counts by reason", ok: 200,
		resp: obj(schema{"host": str(""), "layers": openObj("per layer: counters and drops by reason"), "drops": array(obj(schema{"layer": str(""), "reason": str(""), "count": integer(""), "explain": str("")}))}), errors: []int{404}},

	{method: "GET", path: "/lab", tag: "lab", summary: "Lab state: paused, speed, virtual time, seed, links (404 outside lab mode)", ok: 200, resp: ref("Lab"), errors: []int{404}},
	{method: "POST", path: "/lab/pause", tag: "lab", summary: "Pause the virtual clock", ok: 200, resp: ref("Lab"), errors: []int{404}},
	{method: "POST", path: "/lab/resume", tag: "lab", summary: "Resume the virtual clock", ok: 200, resp: ref("Lab"), errors: []int{404}},
	{method: "POST", path: "/lab/step", tag: "lab", summary: "Run one event of the paused lab", ok: 200, resp: ref("Lab"), errors: []int{404, 409}},
	{method: "POST", path: "/lab/speed", tag: "lab", summary: "Virtual seconds per real second (0: as fast as possible)", ok: 200, resp: ref("Lab"),
		body: obj(schema{"factor": number("speed factor")}, "factor"), errors: []int{404}},
	{method: "POST", path: "/lab/restart", tag: "lab", summary: "Rebuild the lab from a seed (default: the lab's), paused if asked; the answer's first_seq is where its events start", ok: 202,
		resp: obj(schema{"seed": integer(""), "paused": schema{"type": "boolean"}, "first_seq": integer("seq of the new lab's first event")}),
		body: obj(schema{"seed": integer("seed of every random choice"), "paused": schema{"type": "boolean"}}), errors: []int{404}},
	{method: "PUT", path: "/lab/links/{link}/impairment", tag: "lab", summary: "Impair a link: a spec (loss=1%,delay=10ms) or fields", ok: 200, resp: ref("Link"),
		body: obj(schema{"direction": schema{"type": "string", "enum": []string{"both", "in", "out"}}, "spec": str("command-line form, e.g. loss=1%,delay=10ms"),
			"rate_bps": integer(""), "queue_bytes": integer(""), "loss": number("fraction"), "delay_ms": number(""), "jitter_ms": number(""), "reorder": number("fraction"),
			"reorder_delay_ms": number(""), "dup": number("fraction"), "corrupt": number("fraction"), "corrupt_bits": integer(""),
			"burst": obj(schema{"p": number(""), "r": number(""), "loss_bad": number(""), "loss_good": number("")})}), errors: []int{404}},
	{method: "GET", path: "/experiments", tag: "experiments", summary: "The lab's guided experiments, from the wire up, each with its last run (404 outside lab mode)", ok: 200,
		resp: obj(schema{"experiments": array(ref("Experiment"))}), errors: []int{404}},
	{method: "GET", path: "/experiments/{id}", tag: "experiments", summary: "One experiment and its last run: status, steps, each proof with the seqs of the events that proved it", ok: 200,
		resp: ref("Experiment"), errors: []int{404}},
	{method: "POST", path: "/experiments", tag: "experiments", summary: "Run an experiment: 202 with the run started; with wait, 201 with the finished run (202 if it is still running when the wait ends); 409 busy while another runs", ok: 202,
		resp: ref("Run"), body: obj(schema{"id": str("the experiment, e.g. arp-queue"), "wait": boolean("return the finished run"),
			"timeout_ms": integer("with wait: the longest wait in milliseconds of wall time, within the server's limit")}, "id"), errors: []int{404, 409}},

	{method: "POST", path: "/recordings", tag: "recordings", summary: "Start recording the events (optionally filtered) to a trace", ok: 201, resp: ref("Recording"),
		body: obj(schema{"note": str(""), "hosts": str("comma-separated"), "layers": str("comma-separated"), "kinds": str("comma-separated"), "conn": str("")}), errors: []int{409}},
	{method: "GET", path: "/recordings", tag: "recordings", summary: "Every recording", ok: 200, resp: obj(schema{"recordings": array(ref("Recording"))})},
	{method: "GET", path: "/recordings/{id}", tag: "recordings", summary: "One recording", ok: 200, resp: ref("Recording"), errors: []int{404}},
	{method: "DELETE", path: "/recordings/{id}", tag: "recordings", summary: "Stop a recording and delete its trace", ok: 204, errors: []int{404}},
	{method: "POST", path: "/recordings/{id}/stop", tag: "recordings", summary: "Stop a recording", ok: 200, resp: ref("Recording"), errors: []int{404, 409}},
	{method: "GET", path: "/recordings/{id}/trace", tag: "recordings", summary: "The trace file (JSON Lines, header first)", ok: 200, respType: "application/x-ndjson", errors: []int{404}},
	{method: "GET", path: "/recordings/{id}/pcapng", tag: "recordings", summary: "The recorded frames as pcapng, the event summary as each packet's comment", ok: 200, respType: "application/x-pcapng", errors: []int{404}},
	{method: "POST", path: "/replays", tag: "replays", summary: "Upload a trace file to play back", ok: 201, resp: ref("Replay"), bodyType: "application/x-ndjson",
		query: []param{{"name", "a name for the trace", false}}},
	{method: "GET", path: "/replays", tag: "replays", summary: "Every uploaded trace", ok: 200, resp: obj(schema{"replays": array(ref("Replay"))})},
	{method: "GET", path: "/replays/{id}", tag: "replays", summary: "One uploaded trace", ok: 200, resp: ref("Replay"), errors: []int{404}},
	{method: "GET", path: "/replays/{id}/events", tag: "replays", summary: "A page of a trace's events", ok: 200,
		resp: obj(schema{"offset": integer(""), "total": integer(""), "events": array(ref("Event"))}), errors: []int{404},
		query: []param{{"offset", "first event, from 0", false}, {"limit", "events, default 1000, at most 10000", false}}},
	{method: "GET", path: "/frames/{seq}", tag: "events", summary: "A streamed frame: bytes, dissection, and the events of its path", ok: 200,
		resp: obj(schema{"seq": integer(""), "event": ref("Event"), "length": integer(""), "hex": str(""), "base64": str(""), "dissection": openObj("wire.Dissection"), "path": array(ref("Event"))}), errors: []int{404}},
	{method: "GET", path: "/events", tag: "events", summary: "WebSocket of events: each message a JSON array of events without frame bytes (has_frame instead); samples coalesced per batch; gap events count what a slow client missed", ok: 101,
		errors: []int{403, 409}, query: []param{{"hosts", "comma-separated host names", false}, {"layers", "comma-separated layers", false}, {"kinds", "comma-separated kinds", false},
			{"conn", "a connection, either way round", false}, {"since", "replay the events after this seq, or start with a reset event", false}}},
}

var components = schema{
	"Error": obj(schema{"error": obj(schema{"code": str("POSIX errno name (ECONNREFUSED) or bad_request, not_found, unauthorized, forbidden, conflict, busy, internal"), "message": str("")}, "code", "message")}, "error"),
	"Host": obj(schema{"name": str(""), "mac": str(""), "addresses": array(str("A/N")), "gateway": str(""), "mtu": integer(""), "link": str(""), "live": boolean("a stack the API drives"),
		"interfaces": array(obj(schema{"name": str(""), "mac": str(""), "address": str(""), "address_state": str("tentative, preferred, conflict"), "mtu": integer(""), "link": str(""), "groups": array(str(""))}))}),
	"Socket": obj(schema{"id": integer(""), "type": str(""), "protocol": integer(""), "state": str(""), "local": str(""), "remote": str(""), "timeout_ms": nullable(integer("null: blocking")),
		"options": openObj("option values by name"), "recv_queue": integer(""), "send_queue": integer(""), "counters": openObj(""), "tcp": openObj("TCP snapshot")}),
	"Received": obj(schema{"data": str("base64"), "text": str("only when valid UTF-8"), "bytes": integer(""), "eof": boolean(""), "address": str("recvfrom"), "port": integer("recvfrom")}),
	"ARPEntry": obj(schema{"interface": str(""), "address": str(""), "mac": str(""), "state": str("incomplete, reachable, stale, failed, static"), "age_ms": number(""), "queued": integer(""), "retries": integer(""), "static": boolean("")}),
	"Route":    obj(schema{"destination": str(""), "gateway": str(""), "interface": str(""), "kind": str("connected, static, default")}),
	"Lab":      obj(schema{"paused": boolean(""), "speed": number(""), "now_ns": integer(""), "now": str(""), "seed": integer(""), "executed": integer("loop events run so far; a step adds one"), "links": array(ref("Link"))}),
	"Link":     obj(schema{"name": str(""), "in": str("impairment spec"), "out": str("impairment spec"), "stats": openObj("port counters")}),
	"Recording": obj(schema{"id": str(""), "note": str(""), "running": boolean(""), "started": str("date-time"), "stopped": str("date-time"), "events": integer(""), "missed": integer(""),
		"bytes": integer(""), "filter": openObj(""), "error": str("")}),
	"Experiment": obj(schema{"id": str("URL-safe name"), "title": str(""), "topic": str("Ethernet, ARP, IPv4, ICMP, UDP, raw, TCP"), "explain": str("what happens and why"),
		"look":     array(obj(schema{"page": str("overview, frames, arp, tcp, sockets, routes"), "host": str("the host to select there"), "layers": str("comma-separated layer filter (frames)"), "text": str("what to see there")})),
		"proof":    array(ref("Proof")),
		"last_run": nullable(ref("Run"))}),
	"Proof": obj(schema{"text": str("what this event proves"), "host": str(""), "layer": str(""), "kind": str(""), "reason": str(""), "summary": str("a substring of the summary"),
		"field": str("a key of the event's fields"), "field_value": str("its value"), "count": integer("matching events needed (1 when absent)")}),
	"Run": obj(schema{"run": integer("run number"), "experiment": str(""), "status": str("running, passed, failed"), "error": str("why it failed"), "steps": array(str("one step of the run, in order")),
		"proofs": array(schema{"allOf": []schema{ref("Proof"), obj(schema{"seen": integer("matching events counted"), "seqs": array(integer("seq of a matching event")),
			"event": str("summary of the first"), "event_host": str("its host"), "passed": boolean("")})}}),
		"first_seq": integer("first event of the run"), "last_seq": integer("last event seen when it ended"), "start_ns": integer("lab clock at the start"), "end_ns": integer("lab clock at the end")}),
	"Replay": obj(schema{"id": str(""), "name": str(""), "header": openObj("trace header"), "events": integer(""), "frames": integer(""), "first_ns": integer(""), "last_ns": integer(""), "gaps": integer(""), "skipped": integer("")}),
	"Event": obj(schema{"seq": integer(""), "t_ns": integer(""), "host": str(""), "layer": str(""), "kind": str(""), "summary": str(""), "conn": str(""), "explain": str(""), "rfc": str(""),
		"reason": str(""), "fields": openObj(""), "frame": str("base64 (trace files and replays only)"), "has_frame": boolean("streamed events: fetch it from /frames/{seq}"), "coalesced": integer("samples merged into this one")}),
}

var errorText = map[int]string{400: "bad request: malformed JSON, unknown field, wrong type, body too large, bad value", 401: "missing or wrong token",
	403: "forbidden", 404: "unknown host, socket, entry, experiment or endpoint", 408: "timeout: ETIMEDOUT or EAGAIN", 409: "wrong state (busy: another experiment is running)",
	500: "internal error", 502: "the network answered with a failure (ECONNREFUSED, EHOSTUNREACH, ...)"}

func (o op) operation() schema {
	id := strings.ToLower(o.method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_").Replace(o.path)
	res := schema{}
	ok := schema{"description": o.summary}
	switch {
	case o.respType != "":
		ok["content"] = schema{o.respType: schema{"schema": schema{"type": "string", "format": "binary"}}}
	case o.resp != nil:
		ok["content"] = schema{"application/json": schema{"schema": o.resp}}
	}
	res[itoa(o.ok)] = ok
	for _, code := range append([]int{400, 401, 500}, o.errors...) {
		res[itoa(code)] = schema{"description": errorText[code], "content": schema{"application/json": schema{"schema": ref("Error")}}}
	}
	out := schema{"operationId": id, "summary": o.summary, "tags": []string{o.tag}, "responses": res}
	var params []schema
	for _, seg := range strings.Split(o.path, "/") {
		if strings.HasPrefix(seg, "{") {
			params = append(params, schema{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": schema{"type": "string"}})
		}
	}
	for _, q := range o.query {
		params = append(params, schema{"name": q.name, "in": "query", "required": q.required, "description": q.desc, "schema": schema{"type": "string"}})
	}
	if params != nil {
		out["parameters"] = params
	}
	switch {
	case o.bodyType != "":
		out["requestBody"] = schema{"required": true, "content": schema{o.bodyType: schema{"schema": schema{"type": "string", "format": "binary"}}}}
	case o.body != nil:
		out["requestBody"] = schema{"content": schema{"application/json": schema{"schema": o.body}}}
	}
	return out
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// OpenAPI returns the OpenAPI 3 document of the API, as JSON.
func OpenAPI() []byte {
	openAPIOnce.Do(func() {
		paths := schema{}
		for _, o := range operations {
			p := "/api/v1" + o.path
			item, _ := paths[p].(schema)
			if item == nil {
				item = schema{}
				paths[p] = item
			}
			item[strings.ToLower(o.method)] = o.operation()
		}
		doc := schema{
			"openapi": "3.0.3",
			"info": schema{"title": "tipy API", "version": "1",
				"description": "Drive tipy's sockets, tables and lab, and stream its events. Errors are {\"error\":{\"code\",\"message\"}}. On a non-loopback listener every request but GET /api/v1/health needs \"Authorization: Bearer <token>\" or the cookie tipy_token."},
			"paths":      paths,
			"components": schema{"schemas": components, "securitySchemes": schema{"bearer": schema{"type": "http", "scheme": "bearer"}, "cookie": schema{"type": "apiKey", "in": "cookie", "name": TokenCookie}}},
			"security":   []schema{{"bearer": []string{}}, {"cookie": []string{}}},
		}
		openAPIDoc, _ = json.MarshalIndent(doc, "", " ")
	})
	return openAPIDoc
}

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
)

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(OpenAPI())
}
