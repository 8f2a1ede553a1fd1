"""Tests on the Kubernetes test engine: real etcd, kube-apiserver, kube-scheduler and KWOK, simulated containers."""
