package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/orbit-sidecar/orbit/client"
)

// newAPIClient is the Go client (package client) as the client commands
// use it, with a tap that keeps the last answer for --json.
func newAPIClient(addr, token string, timeout time.Duration) (*client.Client, *answerTap) {
	tap := &answerTap{}
	return client.New(addr, client.WithToken(token), client.WithTimeout(timeout),
		client.WithHTTPClient(&http.Client{Transport: tap})), tap
}

// answerTap keeps the body of the last answer, so that --json prints the
// API's answer as it came rather than the client's reading of it.
type answerTap struct{ last []byte }

func (a *answerTap) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	a.last = b
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// explain says an error for the command line: the API's "code: message",
// or, when the sidecar could not be reached, where the address comes from.
func explain(err error) string {
	var ae *client.Error
	if errors.As(err, &ae) {
		return err.Error()
	}
	return fmt.Sprintf("%v (is orbit serve running? see --addr)", err)
}
