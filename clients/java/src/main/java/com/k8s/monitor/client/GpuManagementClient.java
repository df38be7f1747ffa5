package com.k8s.monitor.client;

import com.k8s.monitor.client.model.Token;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.Objects;

/**
 * A client of the K8s GPU Management API (seed section 7.2).
 *
 * <pre>{@code
 * GpuManagementClient client = GpuManagementClient.builder()
 *     .baseUrl("http://your-server:8080/k8s-monitor/api/v1")
 *     .apiKey("your-api-key")
 *     .build();
 * List<GpuDeviceInfo> devices = client.devices().list();
 * }</pre>
 *
 * <p>The API key is sent as {@code Authorization: Bearer}; or give {@code basicAuth} (a user's
 * password, or an API key as the password), or a {@code token} from {@link #issueToken}. Errors are {@link GpuApiException} (the API's
 * code, message, details) or {@link GpuTransportException}; 429 and, for idempotent methods,
 * 502/503/504 are retried a bounded number of times (see {@link Builder#maxRetries}). A client is
 * thread-safe; share one.
 */
public final class GpuManagementClient {
    public static final String DEFAULT_BASE_URL = "http://localhost:8080/k8s-monitor/api/v1";

    private final Transport transport;
    private final DevicesApi devices;
    private final MigApi mig;
    private final AllocationsApi allocations;
    private final MetricsApi metrics;
    private final CostApi cost;
    private final ClusterApi cluster;
    private final ResourcesApi resources;
    private final WebhooksApi webhooks;
    private final BatchApi batch;
    private final UsersApi users;
    private final ApiKeysApi apiKeys;

    private GpuManagementClient(Transport transport) {
        this.transport = transport;
        this.devices = new DevicesApi(transport);
        this.mig = new MigApi(transport);
        this.allocations = new AllocationsApi(transport);
        this.metrics = new MetricsApi(transport);
        this.cost = new CostApi(transport);
        this.cluster = new ClusterApi(transport);
        this.resources = new ResourcesApi(transport);
        this.webhooks = new WebhooksApi(transport);
        this.batch = new BatchApi(transport);
        this.users = new UsersApi(transport);
        this.apiKeys = new ApiKeysApi(transport);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * A client from {@code <prefix>BASE_URL}, {@code <prefix>API_KEY} or {@code <prefix>USERNAME}
     * and {@code <prefix>PASSWORD}, and {@code <prefix>TIMEOUT} (seconds), as the Python SDK's
     * {@code from_env} reads them (prefix {@code GPUCTL_}).
     */
    public static GpuManagementClient fromEnv(Map<String, String> environment, String prefix) {
        Builder builder = builder();
        String baseUrl = environment.get(prefix + "BASE_URL");
        builder.baseUrl(baseUrl == null || baseUrl.isEmpty() ? DEFAULT_BASE_URL : baseUrl);
        String apiKey = environment.get(prefix + "API_KEY");
        String username = environment.get(prefix + "USERNAME");
        String password = environment.get(prefix + "PASSWORD");
        if (apiKey != null && !apiKey.isEmpty()) {
            builder.apiKey(apiKey);
        } else if (username != null || password != null) {
            builder.basicAuth(username == null ? "" : username, password == null ? "" : password);
        }
        String timeout = environment.get(prefix + "TIMEOUT");
        if (timeout != null && !timeout.isEmpty()) {
            builder.timeout(Duration.ofMillis(Math.round(Double.parseDouble(timeout) * 1000)));
        }
        return builder.build();
    }

    public static GpuManagementClient fromEnv() {
        return fromEnv(System.getenv(), "GPUCTL_");
    }

    /** The GPU inventory (/gpu/devices). */
    public DevicesApi devices() {
        return devices;
    }

    /** MIG layouts (/gpu/mig). */
    public MigApi mig() {
        return mig;
    }

    /** The allocation ledger (/gpu/allocations). */
    public AllocationsApi allocations() {
        return allocations;
    }

    /** GPU metrics from Prometheus and the inventory sync (/gpu/metrics). */
    public MetricsApi metrics() {
        return metrics;
    }

    /** Cost analysis, optimisation, the price book and budgets (/gpu/cost). */
    public CostApi cost() {
        return cost;
    }

    /** The GPU cluster as a whole: overview, health, forecast; the service's actuator health. */
    public ClusterApi cluster() {
        return cluster;
    }

    /** Pods, nodes and cluster usage (/resources). */
    public ResourcesApi resources() {
        return resources;
    }

    /** Event webhooks (/webhooks) and the Alertmanager receiver. */
    public WebhooksApi webhooks() {
        return webhooks;
    }

    /** Many allocations in one call, metrics collection for a list of nodes (/batch). */
    public BatchApi batch() {
        return batch;
    }

    /** Accounts (/users). */
    public UsersApi users() {
        return users;
    }

    /** API keys (/api-keys). */
    public ApiKeysApi apiKeys() {
        return apiKeys;
    }

    /**
     * {@code POST /auth/token}: a short-lived Bearer token for this client's password or API key;
     * give its {@code getAccessToken()} to {@link Builder#token}. A service without a signing key
     * answers 404 RESOURCE_NOT_FOUND.
     */
    public Token issueToken() {
        return transport.call("POST", "/auth/token", Transport.query(), null, Token.class);
    }

    public String getBaseUrl() {
        return transport.baseUrl();
    }

    /** The {@code X-RateLimit-*} headers of the last answer (null before the first). */
    public RateLimit getRateLimit() {
        return transport.rateLimit();
    }

    @Override
    public String toString() {
        return "GpuManagementClient(" + transport.baseUrl() + ")";
    }

    /** Builds a client; only {@link #baseUrl} is needed (reads may be anonymous). */
    public static final class Builder {
        private String baseUrl = DEFAULT_BASE_URL;
        private String authorization;
        private HttpClient httpClient;
        private Duration connectTimeout = Duration.ofSeconds(5);
        private Duration timeout = Duration.ofSeconds(30);
        private int maxRetries = 3;
        private Duration backoff = Duration.ofMillis(500);
        private Duration maxBackoff = Duration.ofSeconds(8);
        private Duration maxRetryWait = Duration.ofSeconds(60);
        private Transport.Sleeper sleeper = duration -> Thread.sleep(duration.toMillis());

        private Builder() {}

        /** The API base, e.g. {@code http://your-server:8080/k8s-monitor/api/v1}. */
        public Builder baseUrl(String baseUrl) {
            this.baseUrl = Objects.requireNonNull(baseUrl, "baseUrl");
            return this;
        }

        /** An API key, sent as {@code Authorization: Bearer KEY}. */
        public Builder apiKey(String apiKey) {
            this.authorization = apiKey == null ? null : "Bearer " + apiKey;
            return this;
        }

        /** A Bearer token: from {@link GpuManagementClient#issueToken}, or an OIDC issuer's JWT. */
        public Builder token(String token) {
            this.authorization = token == null ? null : "Bearer " + token;
            return this;
        }

        /** HTTP basic auth: a user's password, or any name with an API key as the password. */
        public Builder basicAuth(String username, String password) {
            String pair = username + ":" + password;
            this.authorization = "Basic "
                    + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
            return this;
        }

        /** The HttpClient to send with (proxy, TLS, executor); its connect timeout applies. */
        public Builder httpClient(HttpClient httpClient) {
            this.httpClient = httpClient;
            return this;
        }

        /** Connect timeout of the client's own HttpClient (default 5 s). */
        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = Objects.requireNonNull(connectTimeout);
            return this;
        }

        /** Time for a whole answer to one request (default 30 s). */
        public Builder timeout(Duration timeout) {
            this.timeout = Objects.requireNonNull(timeout);
            return this;
        }

        /** Retries after the first attempt (default 3; 0 turns retrying off). */
        public Builder maxRetries(int maxRetries) {
            if (maxRetries < 0) {
                throw new IllegalArgumentException("maxRetries must be >= 0");
            }
            this.maxRetries = maxRetries;
            return this;
        }

        /** First backoff when no Retry-After is given, doubled per attempt (default 0.5 s). */
        public Builder backoff(Duration backoff, Duration maxBackoff) {
            this.backoff = Objects.requireNonNull(backoff);
            this.maxBackoff = Objects.requireNonNull(maxBackoff);
            return this;
        }

        /** The longest Retry-After honoured by waiting (default 60 s); longer ones throw at once. */
        public Builder maxRetryWait(Duration maxRetryWait) {
            this.maxRetryWait = Objects.requireNonNull(maxRetryWait);
            return this;
        }

        Builder sleeper(Transport.Sleeper sleeper) {
            this.sleeper = sleeper;
            return this;
        }

        public GpuManagementClient build() {
            HttpClient http = httpClient != null
                    ? httpClient
                    : HttpClient.newBuilder()
                            // The service is HTTP/1.1 (gunicorn); no h2c upgrade attempts.
                            .version(HttpClient.Version.HTTP_1_1)
                            .connectTimeout(connectTimeout)
                            .followRedirects(HttpClient.Redirect.NEVER)
                            .build();
            return new GpuManagementClient(new Transport(
                    baseUrl, authorization, http, timeout, maxRetries, backoff, maxBackoff,
                    maxRetryWait, sleeper));
        }
    }
}
