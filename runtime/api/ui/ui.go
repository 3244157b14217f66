// Package ui holds Orbit's web console: plain HTML, CSS and JavaScript
// modules with no build step and no library, embedded in the binary so
// that the sidecar serves them at /ui/ with no network access at all. The
// console is a client of the HTTP API like any other: it reads and acts
// through /v1 with the same bearer token.
package ui

import "embed"

// Files are the console's files, flat in one directory.
//
//go:embed *.html *.css *.js
var Files embed.FS
