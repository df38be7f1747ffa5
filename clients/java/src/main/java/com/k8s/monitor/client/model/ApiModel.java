package com.k8s.monitor.client.model;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Base of every model: the API's fields by their JSON names, and {@link #getExtra()} for the
 * fields this SDK version does not know yet (a newer server's additions never break parsing, and
 * serialising a model gives them back as they came).
 */
@JsonAutoDetect(
        fieldVisibility = JsonAutoDetect.Visibility.NONE,
        getterVisibility = JsonAutoDetect.Visibility.NONE,
        isGetterVisibility = JsonAutoDetect.Visibility.NONE,
        setterVisibility = JsonAutoDetect.Visibility.NONE,
        creatorVisibility = JsonAutoDetect.Visibility.NONE)
@JsonInclude(JsonInclude.Include.NON_NULL)
public abstract class ApiModel {
    @JsonIgnore
    private final Map<String, Object> extra = new LinkedHashMap<>();

    /** Fields this SDK version does not know, keyed as in the API. */
    @JsonAnyGetter
    public Map<String, Object> getExtra() {
        return Collections.unmodifiableMap(extra);
    }

    @JsonAnySetter
    void putExtra(String name, Object value) {
        extra.put(name, value);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + com.k8s.monitor.client.internal.Json.toJson(this);
    }
}
