module github.com/k8s-gpu-management/clients/go

go 1.19
