// Package static holds the dashboard's front end: the sources in src/ (plain
// ES modules and CSS) and the bundle esbuild builds from them into dist/
// (`make web-assets`). The bundle is committed and embedded, so `go build`
// needs no Node and the dashboard works offline: no CDN, no download at run
// time.
package static

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Dist returns the built assets: app.js, app.css and their source maps.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // cannot happen: "dist" is a valid path embedded above
	}
	return sub
}
