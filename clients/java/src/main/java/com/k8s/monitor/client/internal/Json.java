package com.k8s.monitor.client.internal;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.deser.DeserializationProblemHandler;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;

/**
 * The SDK's one ObjectMapper. Tolerant by design: unknown fields go to a model's extra map, and
 * a value of an unexpected type (a string where a number was expected, an object where a list
 * was) becomes null instead of failing the whole answer, as the Python SDK does. Times are UTC
 * ISO-8601 with Z, read with or without an offset (naive times are UTC), written to the second.
 */
public final class Json {
    public static final ObjectMapper MAPPER = create();

    private Json() {}

    public static ObjectMapper create() {
        SimpleModule times = new SimpleModule("k8s-gpu-client-times");
        times.addSerializer(Instant.class, new InstantSerializer());
        times.addDeserializer(Instant.class, new InstantDeserializer());
        times.addDeserializer(String.class, new Scalar<>(String.class));
        times.addDeserializer(Boolean.class, new Scalar<>(Boolean.class));
        times.addDeserializer(Long.class, new Scalar<>(Long.class));
        times.addDeserializer(Double.class, new Scalar<>(Double.class));
        ObjectMapper mapper = new ObjectMapper();
        mapper.registerModule(times);
        mapper.configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
        mapper.configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, false);
        mapper.configure(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY, false);
        mapper.configure(SerializationFeature.FAIL_ON_EMPTY_BEANS, false);
        mapper.setSerializationInclusion(JsonInclude.Include.NON_NULL);
        mapper.addHandler(new Lenient());
        return mapper;
    }

    public static String toJson(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (IOException exc) {
            return String.valueOf(value);
        }
    }

    /** A request body as JSON; a value Jackson cannot write is a programming error. */
    public static String toJsonStrict(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (IOException exc) {
            throw new IllegalArgumentException("cannot write the request body as JSON: " + exc, exc);
        }
    }

    /** The JSON text of a node, or its text when it is a JSON string. */
    public static String text(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return null;
        }
        return node.isTextual() ? node.asText() : node.toString();
    }

    public static Instant parseInstant(String text) {
        try {
            return OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
        } catch (DateTimeParseException offsetless) {
            return LocalDateTime.parse(text, DateTimeFormatter.ISO_LOCAL_DATE_TIME)
                    .toInstant(ZoneOffset.UTC);
        }
    }

    public static String formatInstant(Instant instant) {
        return DateTimeFormatter.ISO_INSTANT.format(instant.truncatedTo(ChronoUnit.SECONDS));
    }

    private static final class InstantSerializer extends JsonSerializer<Instant> {
        @Override
        public void serialize(Instant value, JsonGenerator gen, SerializerProvider provider)
                throws IOException {
            gen.writeString(formatInstant(value));
        }
    }

    private static final class InstantDeserializer extends JsonDeserializer<Instant> {
        @Override
        public Instant deserialize(JsonParser parser, DeserializationContext context)
                throws IOException {
            if (parser.currentToken() != JsonToken.VALUE_STRING) {
                parser.skipChildren();
                return null;
            }
            String text = parser.getText();
            try {
                return parseInstant(text);
            } catch (DateTimeParseException exc) {
                return null;
            }
        }
    }

    /**
     * Boxed scalars read strictly (JSON keeps numbers, strings and booleans apart), and a value
     * of another JSON type becomes null instead of an error: a string's field never reads a
     * number, a Long's field never reads 1.5 or a string.
     */
    private static final class Scalar<T> extends JsonDeserializer<T> {
        private final Class<T> type;

        Scalar(Class<T> type) {
            this.type = type;
        }

        @Override
        public T deserialize(JsonParser parser, DeserializationContext context) throws IOException {
            JsonToken token = parser.currentToken();
            Object value = null;
            if (type == String.class && token == JsonToken.VALUE_STRING) {
                value = parser.getText();
            } else if (type == Boolean.class && token != null && token.isBoolean()) {
                value = parser.getBooleanValue();
            } else if (type == Double.class && token != null && token.isNumeric()) {
                value = parser.getDoubleValue();
            } else if (type == Long.class && token == JsonToken.VALUE_NUMBER_INT
                    && parser.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
                value = parser.getLongValue();
            } else {
                parser.skipChildren();
            }
            return type.cast(value);
        }
    }

    /** Values that do not fit their field's type become null (the field stays unset). */
    private static final class Lenient extends DeserializationProblemHandler {
        @Override
        public Object handleWeirdStringValue(
                DeserializationContext context, Class<?> target, String value, String message) {
            return null;
        }

        @Override
        public Object handleWeirdNumberValue(
                DeserializationContext context, Class<?> target, Number value, String message) {
            return null;
        }

        @Override
        public Object handleUnexpectedToken(
                DeserializationContext context,
                JavaType target,
                JsonToken token,
                JsonParser parser,
                String message)
                throws IOException {
            parser.skipChildren();
            return null;
        }
    }
}
