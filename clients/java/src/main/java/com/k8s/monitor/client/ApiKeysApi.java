package com.k8s.monitor.client;

import static com.k8s.monitor.client.Transport.path;
import static com.k8s.monitor.client.Transport.query;

import com.k8s.monitor.client.model.ApiKey;
import com.k8s.monitor.client.model.NewApiKey;
import java.util.List;
import java.util.Map;

/** {@code client.apiKeys()}: API keys (/api-keys, docs/auth.md); an admin's. */
public final class ApiKeysApi {
    private static final String PREFIX = "/api-keys";
    private final Transport http;

    ApiKeysApi(Transport http) {
        this.http = http;
    }

    /** Every key (never the secrets), revoked ones included. */
    public List<ApiKey> list() {
        return list(null);
    }

    /** One user's keys ({@code username} null: every key). */
    public List<ApiKey> list(String username) {
        return http.callList("GET", PREFIX, query("username", username), ApiKey.class);
    }

    /**
     * Make a key with {@code role} (at most its user's); {@code name} may be null; {@code
     * username} defaults to the caller and is needed when the caller is no user (the settings'
     * admin key). The result's {@code getKey()} is the secret, shown this once.
     */
    public NewApiKey create(String role, String name, String username) {
        Map<String, Object> body = UsersApi.body("role", role, "name", name, "username", username);
        return http.call("POST", PREFIX, query(), body, NewApiKey.class);
    }

    /** Revoke a key at once, with the tokens issued for it; returns it with its revokedAt. */
    public ApiKey revoke(String keyId) {
        return http.call("DELETE", PREFIX + path(keyId), query(), null, ApiKey.class);
    }
}
