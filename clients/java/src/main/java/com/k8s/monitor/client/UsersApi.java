package com.k8s.monitor.client;

import static com.k8s.monitor.client.Transport.path;
import static com.k8s.monitor.client.Transport.query;

import com.k8s.monitor.client.model.User;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code client.users()}: accounts (/users, docs/auth.md). An admin's, except that users may set
 * their own password.
 */
public final class UsersApi {
    private static final String PREFIX = "/users";
    private final Transport http;

    UsersApi(Transport http) {
        this.http = http;
    }

    /** Every account (never a password). */
    public List<User> list() {
        return http.callList("GET", PREFIX, query(), User.class);
    }

    /**
     * Make an account: {@code role} is viewer, operator or admin, {@code password} 12-1024
     * characters, {@code team} may be null. A taken name is 409 RESOURCE_ALREADY_EXISTS.
     */
    public User create(String username, String password, String role, String team) {
        Map<String, Object> body = body("username", username, "password", password, "role", role,
                "team", team);
        return http.call("POST", PREFIX, query(), body, User.class);
    }

    public User get(String username) {
        return http.call("GET", PREFIX + path(username), query(), null, User.class);
    }

    /**
     * Change the fields that are not null: {@code team ""} clears the team, {@code disabled true}
     * locks the account out (its password, keys and tokens are refused).
     */
    public User update(String username, String role, String team, Boolean disabled) {
        Map<String, Object> body = body("role", role, "team", team, "disabled", disabled);
        return http.call("PATCH", PREFIX + path(username), query(), body, User.class);
    }

    /** Set a new password; users changing their own give {@code currentPassword} (else null). */
    public User setPassword(String username, String password, String currentPassword) {
        Map<String, Object> body = body("password", password, "currentPassword", currentPassword);
        return http.call("PUT", PREFIX + path(username, "password"), query(), body, User.class);
    }

    /** A JSON body from name, value pairs; null values are left out. */
    static Map<String, Object> body(Object... pairs) {
        Map<String, Object> body = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            if (pairs[i + 1] != null) {
                body.put((String) pairs[i], pairs[i + 1]);
            }
        }
        return body;
    }
}
