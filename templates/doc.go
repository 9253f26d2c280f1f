// Package templates holds the dashboard's pages as templ components. Each
// page is a static skeleton with short explanations for a first-time
// reader; the data a page starts from travels to its script as JSON through
// templ.JSONScript, and the script (static/src, bundled into static/dist)
// fills the page from the API and the event stream.
//
// Edit the .templ files and run `go tool templ generate` (make web-assets);
// the generated *_templ.go files are committed so that `go build` needs no
// extra step.
package templates

// PageData is what every page passes to the dashboard's script in the
// element with id "tipy-data".
type PageData struct {
	Page  string   `json:"page"`  // the page's name: "overview", "frames", ...
	Mode  string   `json:"mode"`  // lab, tap or replay
	Seed  uint64   `json:"seed"`  // the seed of the network
	Hosts []string `json:"hosts"` // names of the hosts, live ones first
	Live  bool     `json:"live"`  // whether there is a live event stream
}

// NavItem is one entry of the navigation bar.
type NavItem struct {
	Page  string // page name, matches PageData.Page
	Path  string // URL path
	Title string // link text
	Key   string // accesskey
}

// Nav lists the pages in the order of the navigation bar.
var Nav = []NavItem{
	{"overview", "/", "Overview", "o"},
	{"experiments", "/experiments", "Experiments", "e"},
	{"frames", "/frames", "Frames", "f"},
	{"arp", "/arp", "ARP", "a"},
	{"tcp", "/tcp", "TCP", "t"},
	{"sockets", "/sockets", "Sockets", "s"},
	{"network", "/network", "Routes & counters", "n"},
	{"recordings", "/recordings", "Record & replay", "r"},
}
