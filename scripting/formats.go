package scripting

import (
	"strings"

	"github.com/orbit-sidecar/orbit/asl"
	"github.com/orbit-sidecar/orbit/httpcall"
	"github.com/orbit-sidecar/orbit/runtime/flow"
	"github.com/orbit-sidecar/orbit/scripting/scenario"
)

// Format is a declarative definition format a scripts directory may hold
// beside Lua (SPEC 1.7). Its files load into the same bundle as the Lua
// scripts: their workflows run on the same engine, their tasks call the
// bundle's routines, and Lua extensions and observers apply to them.
type Format interface {
	// Suffix is the file name ending that selects the format, such as
	// ".asl.json". No two formats share one.
	Suffix() string
	// Define reads the format's files, in path order, and adds their
	// workflows and routines to b. It sees the routines and workflows the
	// Lua scripts defined and must not redefine them. Task states name
	// their routine by RoutineName; the loader resolves the names once
	// every file is read. Problems carry file:line. http is the load's
	// client and env what ${NAME} may read, for the http routines a
	// format declares.
	Define(files []flow.Source, b *flow.Bundle, http *httpcall.Client, env httpcall.Env) flow.Problems
}

// formats are the declarative formats the loader knows, besides Lua.
var formats = []Format{asl.Format{}, scenario.Format{}}

// luaSuffix selects the Lua scripts.
const luaSuffix = ".lua"

// formatOf returns the format that reads a file, nil for Lua, and false
// when the file is no part of a bundle.
func formatOf(path string) (Format, bool) {
	for _, f := range formats {
		if strings.HasSuffix(path, f.Suffix()) {
			return f, true
		}
	}
	return nil, strings.HasSuffix(path, luaSuffix)
}

// partition splits sources (in path order) into the Lua scripts and the
// files of each declarative format, in the order of formats.
func partition(srcs []flow.Source) (luaSrcs []flow.Source, byFormat [][]flow.Source) {
	byFormat = make([][]flow.Source, len(formats))
	for _, s := range srcs {
		f, _ := formatOf(s.Path)
		if f == nil {
			luaSrcs = append(luaSrcs, s)
			continue
		}
		for i := range formats {
			if formats[i] == f {
				byFormat[i] = append(byFormat[i], s)
				break
			}
		}
	}
	return luaSrcs, byFormat
}

// defineFormats lets every declarative format add its files' definitions
// to the bundle. It runs after the Lua scripts' base definitions and
// before their extensions, so an extension may extend any workflow.
func (l *loader) defineFormats(byFormat [][]flow.Source) {
	for i, files := range byFormat {
		if len(files) > 0 {
			l.probs = append(l.probs, formats[i].Define(files, l.b, l.cfg.http, l.cfg.readEnv)...)
		}
	}
}
