// Command relay joins its stdin/stdout to one TCP connection.
//
// The Kubernetes test engine runs it as a KWOK port-forward command inside a
// simulated pod's network namespace (nsenter --net=... relay 127.0.0.1:PORT), so
// the API server's port-forward reaches the pod's own loopback, as a kubelet does.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: relay HOST:PORT")
		os.Exit(2)
	}
	conn, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tcp := conn.(*net.TCPConn)
	go func() {
		_, _ = io.Copy(tcp, os.Stdin)
		_ = tcp.CloseWrite()
	}()
	_, _ = io.Copy(os.Stdout, tcp)
	_ = tcp.Close()
}
