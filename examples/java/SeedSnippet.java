// The seed's section 7.2 (Java SDK) inside a main, as written; only its placeholders are read
// from the environment: API_BASE for "http://your-server:8080/k8s-monitor/api/v1" and API_KEY
// for "your-api-key". What follows the seed's lines prints the results and, with --cleanup,
// releases the allocation so the example can run again. See README.md beside it.
import com.k8s.monitor.client.GpuManagementClient;
import com.k8s.monitor.client.model.*;

import java.util.List;

public class SeedSnippet {
    public static void main(String[] args) {
        // 클라이언트 초기화
        GpuManagementClient client = GpuManagementClient.builder()
            .baseUrl(System.getenv("API_BASE"))
            .apiKey(System.getenv("API_KEY"))
            .build();

        // GPU 장비 조회
        List<GpuDeviceInfo> devices = client.devices().list();

        // GPU 할당
        GpuAllocationRequest request = GpuAllocationRequest.builder()
            .namespace("model-serving")
            .podName("vllm-pod")
            .workloadType("Inference")
            .requiredMemoryGb(20)
            .useMig(true)
            .build();
            
        GpuAllocationInfo allocation = client.allocations().create(request);

        System.out.println("devices: " + devices.size());
        for (GpuDeviceInfo device : devices) {
            System.out.println("  " + device.getDeviceId() + " " + device.getModelId()
                + " " + device.getDeviceStatus());
        }
        System.out.println("allocation: " + allocation.getAllocationId() + " "
            + allocation.getResourceType() + " " + allocation.getAllocatedResource() + " "
            + allocation.getStatus() + " " + allocation.getCostPerHour() + " USD/h");
        if (List.of(args).contains("--cleanup")) {
            GpuAllocationInfo released = client.allocations().release(allocation.getAllocationId());
            System.out.println("released: " + released.getAllocationId() + " " + released.getStatus());
        }
    }
}
