// etcd, as the etcd release binary runs it: etcd's own command line (etcdmain), at the version
// k8s.io/kubernetes pins (go.etcd.io/etcd/server/v3 in go.mod).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
