package asl

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orbit-sidecar/orbit/runtime/flow"
)

// A Task's Resource names a routine (SPEC 1.7): a Lambda function ARN
// arn:aws:lambda:REGION:ACCOUNT:function:NAME names the routine NAME, and
// arn:aws:states:::lambda:invoke with FunctionName (a name, a path or an
// ARN) names it at run time and wraps the result as AWS does. Any other
// resource is the routine's name itself.

const lambdaInvoke = "arn:aws:states:::lambda:invoke"

// ErrLambdaNotFound is what lambda:invoke raises for a function that names
// no routine.
const ErrLambdaNotFound = "Lambda.ResourceNotFoundException"

// lambdaName is the function name in a Lambda ARN (or a partial ARN such
// as ACCOUNT:function:NAME), or the name itself; a version or alias after
// the name is dropped.
func lambdaName(s string) (string, bool) {
	parts := strings.Split(s, ":")
	for i, p := range parts {
		if p == "function" && i+1 < len(parts) {
			return parts[i+1], true
		}
	}
	if len(parts) == 1 && s != "" {
		return s, true
	}
	return "", false
}

// routineOf says which routine a Resource names; invoke is true for
// lambda:invoke, whose function is named by the state's input.
func routineOf(resource string) (name string, invoke bool) {
	switch {
	case resource == lambdaInvoke:
		return "", true
	case strings.HasPrefix(resource, "arn:aws:lambda:"):
		if n, ok := lambdaName(resource); ok {
			return n, false
		}
	}
	return resource, false
}

// invoker is the routine of a lambda:invoke task: it calls the routine the
// input's FunctionName names with its Payload. Routines are looked up when
// called, in the bundle the state belongs to, which is complete by then.
type invoker struct {
	routines *map[string]flow.Routine
}

func (r invoker) Call(ctx context.Context, input any, c *flow.Context) (any, error) {
	args, _ := input.(map[string]any)
	fn, _ := args["FunctionName"].(string)
	name, ok := lambdaName(fn)
	var routine flow.Routine
	if ok {
		routine = (*r.routines)[name]
	}
	if routine == nil {
		id, _ := uuid(nil)
		return nil, &flow.Error{Name: ErrLambdaNotFound, Cause: "Function not found: arn:orbit:lambda:local:000000000000:function:" + name +
			":$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: " + id.(string) + "; Proxy: null)"}
	}
	payload := args["Payload"]
	switch p := payload.(type) {
	case nil:
		payload = map[string]any{}
	case string:
		// A string is sent as it is: the function reads it as JSON when
		// it is JSON.
		if v, err := flow.DecodeJSON([]byte(p)); err == nil {
			payload = v
		}
	}
	res, err := routine.Call(ctx, payload, c)
	if err != nil {
		return nil, err
	}
	return invokeEnvelope(res, args["LogType"] == "Tail")
}

// invokeEnvelope wraps a function's result as lambda:invoke's result.
// Content-Length counts the function's response body: the JSON text a
// routine answered with (json.RawMessage), as its runtime wrote it, or
// else the compact encoding of its result. withLog adds the LogResult
// that LogType "Tail" asks for: the tail of the function's log, base64,
// which is empty because a routine keeps no log of its own.
func invokeEnvelope(res any, withLog bool) (any, error) {
	var body []byte
	if raw, ok := res.(json.RawMessage); ok {
		body = raw
		if err := flow.UnmarshalJSON(raw, &res); err != nil {
			return nil, &flow.Error{Name: "Lambda.InvalidResponseException", Cause: "the function's response is not JSON: " + err.Error()}
		}
	} else {
		b, err := json.Marshal(res)
		if err != nil {
			return nil, &flow.Error{Name: "Lambda.InvalidResponseException", Cause: "the function's response is not JSON: " + err.Error()}
		}
		body = b
	}
	length := strconv.Itoa(len(body))
	idv, _ := uuid(nil)
	id := idv.(string)
	date := time.Now().UTC().Format(http.TimeFormat)
	trace := "Root=1-" + strings.ReplaceAll(id, "-", "")
	all := map[string]any{
		"X-Amz-Executed-Version":         []any{"$LATEST"},
		"x-amzn-Remapped-Content-Length": []any{"0"},
		"Connection":                     []any{"keep-alive"},
		"x-amzn-RequestId":               []any{id},
		"Content-Length":                 []any{length},
		"Content-Type":                   []any{"application/json"},
		"Date":                           []any{date},
		"X-Amzn-Trace-Id":                []any{trace},
	}
	headers := map[string]any{
		"Connection":                     "keep-alive",
		"Content-Length":                 length,
		"Content-Type":                   "application/json",
		"X-Amz-Executed-Version":         "$LATEST",
		"x-amzn-Remapped-Content-Length": "0",
		"x-amzn-RequestId":               id,
		"Date":                           date,
		"X-Amzn-Trace-Id":                trace,
	}
	out := map[string]any{
		"ExecutedVersion": "$LATEST",
		"Payload":         res,
		"SdkHttpMetadata": map[string]any{
			"AllHttpHeaders": all,
			"HttpHeaders":    headers,
			"HttpStatusCode": 200.0,
		},
		"SdkResponseMetadata": map[string]any{"RequestId": id},
		"StatusCode":          200.0,
	}
	if withLog {
		out["LogResult"] = ""
		all["X-Amz-Log-Result"] = []any{""}
		headers["X-Amz-Log-Result"] = ""
	}
	return out, nil
}
