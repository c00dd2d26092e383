// Command go_https_client makes N GET requests to one URL over one keep-alive
// http.Client and prints "STATUS BODY_BYTES" for each. The end-to-end tests run it
// unmodified to check that the agent captures Go's crypto/tls.
//
// Usage: go_https_client N URL
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go_https_client N URL")
		os.Exit(2)
	}
	count, err := strconv.Atoi(os.Args[1])
	if err != nil || count < 1 {
		fmt.Fprintf(os.Stderr, "N must be a positive number, not %q\n", os.Args[1])
		os.Exit(2)
	}
	// The test servers' certificates are self-signed. A TLSClientConfig of our own
	// also keeps the Transport on HTTP/1.1 (no ALPN h2 unless ForceAttemptHTTP2).
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	for i := 0; i < count; i++ {
		response, err := client.Get(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		// Read the body to its end so the connection is reused for the next request.
		size, err := io.Copy(io.Discard, response.Body)
		response.Body.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(response.StatusCode, size)
	}
}
