module github.com/k8s-gpu-management/examples/go

go 1.19

require github.com/your-org/k8s-gpu-client-go v0.0.0

// The seed's placeholder module path is this repository's Go SDK (clients/go).
replace github.com/your-org/k8s-gpu-client-go => ../../clients/go
