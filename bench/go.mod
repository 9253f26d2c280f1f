module github.com/tipy/tipy/bench

go 1.26.3

require (
	github.com/coder/websocket v1.8.15
	github.com/tipy/tipy v0.0.0
	golang.org/x/sys v0.50.0
	gvisor.dev/gvisor v0.0.0-20260905035102-160fafc42237
)

require (
	github.com/a-h/templ v0.3.1118 // indirect
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/google/btree v1.1.2 // indirect
	github.com/gopacket/gopacket v1.7.7 // indirect
	github.com/songgao/water v0.0.0-20200317203138-2b4b6d7c09d8 // indirect
	golang.org/x/exp v0.0.0-20250711185948-6ae5c78190dc // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace github.com/tipy/tipy => ../
