// The pod sandbox's process for the real-node tests (test/node/images.ts builds
// it into localhost/pause:3.10, FROM scratch): it holds the pod's namespaces
// and exits on SIGINT/SIGTERM, like registry.k8s.io/pause, which cannot be
// pulled here.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
