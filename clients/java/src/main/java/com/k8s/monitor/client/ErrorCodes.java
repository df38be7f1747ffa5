package com.k8s.monitor.client;

/** The API's error codes (seed section 4, and the service's additions). */
public final class ErrorCodes {
    public static final String RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND";
    public static final String GPU_NOT_AVAILABLE = "GPU_NOT_AVAILABLE";
    public static final String MIG_NOT_SUPPORTED = "MIG_NOT_SUPPORTED";
    public static final String ALLOCATION_FAILED = "ALLOCATION_FAILED";
    public static final String INVALID_PARAMETER = "INVALID_PARAMETER";
    public static final String INSUFFICIENT_RESOURCES = "INSUFFICIENT_RESOURCES";
    public static final String COST_LIMIT_EXCEEDED = "COST_LIMIT_EXCEEDED";
    public static final String VALIDATION_ERROR = "VALIDATION_ERROR";
    public static final String UNAUTHORIZED = "UNAUTHORIZED";
    public static final String FORBIDDEN = "FORBIDDEN";
    public static final String RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED";
    public static final String INTERNAL_ERROR = "INTERNAL_ERROR";
    public static final String METRICS_UNAVAILABLE = "METRICS_UNAVAILABLE";
    public static final String RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS";
    public static final String METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED";
    public static final String PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE";
    public static final String UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE";
    public static final String SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE";
    /** Not from the service: a 2xx answer that is not a success envelope. */
    public static final String INVALID_RESPONSE = "INVALID_RESPONSE";

    private ErrorCodes() {}
}
