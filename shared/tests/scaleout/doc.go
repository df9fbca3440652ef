// Package scaleout tests the functions at scale-out, through real daprd:
// several replicas of a function under one app-id, a three-node scheduler
// and a three-broker Kafka cluster, as Kubernetes runs them.
package scaleout
