package gpuclient

// The error answers of the service: {"status":"error","error":{"code","message","details",
// "fields","context","retryAfter"},"timestamp"}, as one typed error.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The API's error codes (APIError.Code).
const (
	CodeResourceNotFound      = "RESOURCE_NOT_FOUND"
	CodeGPUNotAvailable       = "GPU_NOT_AVAILABLE"
	CodeMIGNotSupported       = "MIG_NOT_SUPPORTED"
	CodeAllocationFailed      = "ALLOCATION_FAILED"
	CodeInvalidParameter      = "INVALID_PARAMETER"
	CodeInsufficientResources = "INSUFFICIENT_RESOURCES"
	CodeCostLimitExceeded     = "COST_LIMIT_EXCEEDED"
	CodeValidationError       = "VALIDATION_ERROR"
	CodeUnauthorized          = "UNAUTHORIZED"
	CodeForbidden             = "FORBIDDEN"
	CodeRateLimitExceeded     = "RATE_LIMIT_EXCEEDED"
	CodeInternalError         = "INTERNAL_ERROR"
	CodeMetricsUnavailable    = "METRICS_UNAVAILABLE"
	CodeResourceAlreadyExists = "RESOURCE_ALREADY_EXISTS"
	CodeMethodNotAllowed      = "METHOD_NOT_ALLOWED"
	CodePayloadTooLarge       = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMediaType  = "UNSUPPORTED_MEDIA_TYPE"
	CodeServiceUnavailable    = "SERVICE_UNAVAILABLE"
	// CodeInvalidResponse: a 2xx answer that is not a success envelope this SDK can decode.
	CodeInvalidResponse = "INVALID_RESPONSE"
)

// APIError is an error answer of the service (or a success answer this SDK could not decode,
// with Code CodeInvalidResponse). Get it with errors.As:
//
//	var apiErr *gpuclient.APIError
//	if errors.As(err, &apiErr) && apiErr.Code == gpuclient.CodeInsufficientResources { ... }
//
// or compare codes with errors.Is(err, gpuclient.ErrResourceNotFound).
type APIError struct {
	// StatusCode is the HTTP status (404, 409, 429, ...).
	StatusCode int
	// Code is the API's error code (the Code* constants); "HTTP_<status>" when the answer was
	// not an error envelope (a proxy's HTML page).
	Code string
	// Message is the API's human-readable message.
	Message string
	// Details is error.details: the string itself, or the raw JSON text when the service sent
	// another JSON value (older services send an object); "" when absent or null.
	Details string
	// Fields holds a validation failure's messages by field (error.fields; from an older
	// service, the details object of a VALIDATION_ERROR).
	Fields map[string]any
	// Context holds other structured data of the error (error.context; from an older service,
	// its details object), e.g. closestCandidates of INSUFFICIENT_RESOURCES.
	Context map[string]any
	// RetryAfter is how long the service asked to wait (error.retryAfter, else the Retry-After
	// header); HasRetryAfter says whether it said so at all.
	RetryAfter    time.Duration
	HasRetryAfter bool
	// Timestamp is the envelope's timestamp, as sent.
	Timestamp string
	// Method and URL name the request; Body is the answer's body as received.
	Method string
	URL    string
	Body   []byte
}

// Error implements error.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("gpuclient: ")
	if e.Method != "" {
		fmt.Fprintf(&b, "%s %s: ", e.Method, e.URL)
	}
	b.WriteString(e.Code)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is reports whether target is an *APIError with the same Code (and the same StatusCode when
// target sets one), so that errors.Is(err, gpuclient.ErrResourceNotFound) works.
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	if !ok || t.Code == "" {
		return false
	}
	return t.Code == e.Code && (t.StatusCode == 0 || t.StatusCode == e.StatusCode)
}

// Sentinels for errors.Is, one per code.
var (
	ErrResourceNotFound      = &APIError{Code: CodeResourceNotFound}
	ErrGPUNotAvailable       = &APIError{Code: CodeGPUNotAvailable}
	ErrMIGNotSupported       = &APIError{Code: CodeMIGNotSupported}
	ErrAllocationFailed      = &APIError{Code: CodeAllocationFailed}
	ErrInvalidParameter      = &APIError{Code: CodeInvalidParameter}
	ErrInsufficientResources = &APIError{Code: CodeInsufficientResources}
	ErrCostLimitExceeded     = &APIError{Code: CodeCostLimitExceeded}
	ErrValidation            = &APIError{Code: CodeValidationError}
	ErrUnauthorized          = &APIError{Code: CodeUnauthorized}
	ErrForbidden             = &APIError{Code: CodeForbidden}
	ErrRateLimitExceeded     = &APIError{Code: CodeRateLimitExceeded}
	ErrInternal              = &APIError{Code: CodeInternalError}
	ErrMetricsUnavailable    = &APIError{Code: CodeMetricsUnavailable}
	ErrResourceAlreadyExists = &APIError{Code: CodeResourceAlreadyExists}
	ErrServiceUnavailable    = &APIError{Code: CodeServiceUnavailable}
)

// errorEnvelope is read loosely: every member may be missing or of another type.
type errorEnvelope struct {
	Status    string          `json:"status"`
	Error     json.RawMessage `json:"error"`
	Timestamp json.RawMessage `json:"timestamp"`
}

type errorMember struct {
	Code       json.RawMessage `json:"code"`
	Message    json.RawMessage `json:"message"`
	Details    json.RawMessage `json:"details"`
	Fields     json.RawMessage `json:"fields"`
	Context    json.RawMessage `json:"context"`
	RetryAfter json.RawMessage `json:"retryAfter"`
}

// errorFromResponse builds the APIError of an error answer; it never fails.
func errorFromResponse(method, target string, response *http.Response, body []byte) *APIError {
	apiErr := &APIError{
		StatusCode: response.StatusCode,
		Method:     method,
		URL:        target,
		Body:       body,
	}
	var member errorMember
	var outer errorEnvelope
	if json.Unmarshal(body, &outer) == nil {
		apiErr.Timestamp = jsonString(outer.Timestamp)
		_ = json.Unmarshal(outer.Error, &member)
	}
	apiErr.Code = jsonString(member.Code)
	if apiErr.Code == "" {
		apiErr.Code = "HTTP_" + strconv.Itoa(response.StatusCode)
		apiErr.Message = fmt.Sprintf("HTTP %d without an error envelope", response.StatusCode)
		if text := strings.TrimSpace(string(body)); text != "" {
			if len(text) > 200 {
				text = text[:200]
			}
			apiErr.Message += ": " + text
		}
	} else {
		apiErr.Message = jsonString(member.Message)
		if apiErr.Message == "" {
			apiErr.Message = apiErr.Code
		}
	}
	details := bytes.TrimSpace(member.Details)
	if len(details) > 0 && !bytes.Equal(details, []byte("null")) {
		if text, ok := asString(details); ok {
			apiErr.Details = text
		} else {
			apiErr.Details = string(details)
		}
	}
	apiErr.Fields = jsonObject(member.Fields)
	apiErr.Context = jsonObject(member.Context)
	// An older service sends the structured data as the details object itself.
	if object := jsonObject(details); object != nil {
		if apiErr.Code == CodeValidationError && apiErr.Fields == nil {
			apiErr.Fields = object
		} else if apiErr.Context == nil {
			apiErr.Context = object
		}
	}
	apiErr.RetryAfter, apiErr.HasRetryAfter = retryAfter(member.RetryAfter, response.Header)
	return apiErr
}

func invalidResponse(method, target string, status int, body []byte, cause error) *APIError {
	return &APIError{
		StatusCode: status,
		Code:       CodeInvalidResponse,
		Message:    fmt.Sprintf("HTTP %d answer could not be decoded: %v", status, cause),
		Method:     method,
		URL:        target,
		Body:       body,
	}
}

// retryAfter reads seconds from the envelope's retryAfter or the Retry-After header (seconds
// or an HTTP date).
func retryAfter(member json.RawMessage, header http.Header) (time.Duration, bool) {
	var seconds float64
	if len(member) > 0 && json.Unmarshal(member, &seconds) == nil && seconds >= 0 {
		return time.Duration(seconds * float64(time.Second)), true
	}
	value := strings.TrimSpace(header.Get("Retry-After"))
	if value == "" {
		return 0, false
	}
	if parsed, err := strconv.ParseFloat(value, 64); err == nil && parsed >= 0 {
		return time.Duration(parsed * float64(time.Second)), true
	}
	if at, err := http.ParseTime(value); err == nil {
		wait := time.Until(at)
		if wait < 0 {
			wait = 0
		}
		return wait, true
	}
	return 0, false
}

func asString(raw json.RawMessage) (string, bool) {
	var text string
	if json.Unmarshal(raw, &text) != nil {
		return "", false
	}
	return text, true
}

func jsonString(raw json.RawMessage) string {
	text, _ := asString(raw)
	return text
}

func jsonObject(raw json.RawMessage) map[string]any {
	var object map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &object) != nil {
		return nil
	}
	return object
}
