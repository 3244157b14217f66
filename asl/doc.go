// Package asl loads Amazon States Language definitions (SPEC 1.7): a
// `*.asl.json` file of the scripts directory holds one state machine, named
// after the file. The loader turns it into the same runtime/flow model the
// Lua DSL builds, so the engine runs it unchanged: retries, catches,
// parallel branches and map items as child instances, durable timers,
// history and the API.
//
// What ASL adds is its data flow, compiled to flow hooks: InputPath and
// Parameters (or JSONata's Arguments) become the state's Input expression;
// ResultSelector, ResultPath, OutputPath and Assign (or JSONata's Output and
// Assign) its Finish; Choice rules its Conds. Paths, payload templates with
// `.$` keys, intrinsic functions and the context object `$$` are evaluated
// here, JSONata expressions by github.com/blues/jsonata-go (jsonata.go).
//
// Files: json.go reads JSON with the line of every key, for file:line
// problems; node.go is the document's API (the Lua DSL builds documents for
// its ASL workflows, converters walk them); load.go builds machines and
// states; dataflow.go the JSONPath data flow; path.go JSONPath;
// template.go payload templates; intrinsics.go the States.* functions;
// choice.go Choice rules; jsonata.go JSONata mode; waitmap.go Wait and Map
// fields read at run time; lambda.go Task resources; errors.go AWS's error
// names and causes, and the workflows' dialect; write.go writes a workflow
// as an ASL document.
package asl
