package com.k8s.monitor.client;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/** The body of POST /webhooks (seed 5.1) and of PATCH /webhooks/{id}; unset fields are left out. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class WebhookRequest {
    @JsonProperty("name") private String name;
    @JsonProperty("url") private String url;
    @JsonProperty("events") private List<String> events;
    @JsonProperty("secret") private String secret;
    @JsonProperty("active") private Boolean active;

    private WebhookRequest() {}

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private final WebhookRequest built = new WebhookRequest();

        private Builder() {}

        public Builder name(String value) { built.name = value; return this; }
        public Builder url(String value) { built.url = value; return this; }
        public Builder events(List<String> value) { built.events = List.copyOf(value); return this; }
        public Builder events(String... value) { built.events = List.of(value); return this; }
        /** The HMAC key of the deliveries' signatures; never returned by the service. */
        public Builder secret(String value) { built.secret = value; return this; }
        public Builder active(boolean value) { built.active = value; return this; }

        public WebhookRequest build() {
            return built;
        }
    }
}
