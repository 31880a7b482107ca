// Command pause is the pod sandbox image of the local cluster (hack/cluster): it holds a pod's
// namespaces, reaps nothing (it is not PID 1 of shared process namespaces here) and exits on
// SIGINT or SIGTERM, as registry.k8s.io/pause does.
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
