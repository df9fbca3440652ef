// Command etcd is etcd's own server, built from the version pinned in
// hack/cluster/go.mod.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
