// A tiny Go program that links crypto/tls's (*Conn).Write and (*Conn).Read,
// for the TLS target finder's tests. By default it only waits for stdin to
// close, so a test can examine it while it runs; it never touches the network
// unless given -dial.
package main

import (
	"crypto/tls"
	"flag"
	"io"
	"os"
)

func main() {
	dial := flag.String("dial", "", "host:port to send one TLS request to")
	flag.Parse()
	if *dial == "" {
		io.Copy(io.Discard, os.Stdin)
		return
	}
	conn, err := tls.Dial("tcp", *dial, &tls.Config{})
	if err != nil {
		os.Exit(1)
	}
	defer conn.Close()
	conn.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	buffer := make([]byte, 4096)
	conn.Read(buffer)
}
