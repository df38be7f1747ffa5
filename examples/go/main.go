// The seed's section 7.3 Go program, as written. Go refuses what the seed leaves out, so three
// additions make it compile and say what it did: the imports of "context" and "log", which it
// uses, and a use of devices and allocation after the allocation's error check (an unused
// variable is a compile error in Go). tests/sdk/test_go_sdk.py holds it to the seed's text.
package main

import (
	"context"
	"log"

	"github.com/your-org/k8s-gpu-client-go"
)

func main() {
	// 클라이언트 초기화
	client := gpuclient.NewClient(&gpuclient.Config{
		BaseURL: "http://your-server:8080/k8s-monitor/api/v1",
		APIKey:  "your-api-key",
	})

	// GPU 장비 조회
	devices, err := client.Devices.List(context.Background(), nil)
	if err != nil {
		log.Fatal(err)
	}

	// GPU 할당
	allocation, err := client.Allocations.Create(context.Background(), &gpuclient.AllocationRequest{
		Namespace:        "model-serving",
		PodName:          "vllm-pod",
		WorkloadType:     "Inference",
		RequiredMemoryGB: 20,
		UseMIG:           true,
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d GPUs; allocation %s: %s on %s", len(devices.Items), allocation.AllocationID, allocation.AllocatedResource, allocation.NodeName)
}
