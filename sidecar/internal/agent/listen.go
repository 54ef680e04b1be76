package agent

import (
	"fmt"
	"net"
)

// listen opens the HTTP listener before anything else starts, so a taken
// port is a start-up error naming the variable.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("LOGLET_HTTP_ADDR: %w", err)
	}
	return ln, nil
}
