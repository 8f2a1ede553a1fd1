// Command etcd is the etcd 3.6 server, built inside this module so that the
// jupyter-sky Kubernetes test engine does not depend on Debian's older etcd.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
