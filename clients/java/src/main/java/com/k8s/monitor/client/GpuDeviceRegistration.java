package com.k8s.monitor.client;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;

/** The body of POST /gpu/devices (seed 2.1); unset fields are left out. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class GpuDeviceRegistration {
    @JsonProperty("nodeName") private String nodeName;
    @JsonProperty("modelId") private String modelId;
    @JsonProperty("deviceIndex") private Integer deviceIndex;
    @JsonProperty("serialNumber") private String serialNumber;
    @JsonProperty("pciAddress") private String pciAddress;
    @JsonProperty("gpuUuid") private String gpuUuid;
    @JsonProperty("driverVersion") private String driverVersion;
    @JsonProperty("firmwareVersion") private String firmwareVersion;
    @JsonProperty("purchaseCost") private Double purchaseCost;
    @JsonProperty("purchaseDate") private Instant purchaseDate;
    @JsonProperty("warrantyExpiryDate") private Instant warrantyExpiryDate;
    @JsonProperty("status") private String status;

    private GpuDeviceRegistration() {}

    public static Builder builder() {
        return new Builder();
    }

    /** Builds a registration: node, model and index are required by the service. */
    public static final class Builder {
        private final GpuDeviceRegistration built = new GpuDeviceRegistration();

        private Builder() {}

        public Builder nodeName(String value) { built.nodeName = value; return this; }
        public Builder modelId(String value) { built.modelId = value; return this; }
        public Builder deviceIndex(int value) { built.deviceIndex = value; return this; }
        public Builder serialNumber(String value) { built.serialNumber = value; return this; }
        public Builder pciAddress(String value) { built.pciAddress = value; return this; }
        public Builder gpuUuid(String value) { built.gpuUuid = value; return this; }
        public Builder driverVersion(String value) { built.driverVersion = value; return this; }
        public Builder firmwareVersion(String value) { built.firmwareVersion = value; return this; }
        /** USD. */
        public Builder purchaseCost(double value) { built.purchaseCost = value; return this; }
        public Builder purchaseDate(Instant value) { built.purchaseDate = value; return this; }
        public Builder warrantyExpiryDate(Instant value) { built.warrantyExpiryDate = value; return this; }
        public Builder status(String value) { built.status = value; return this; }

        public GpuDeviceRegistration build() {
            return built;
        }
    }
}
