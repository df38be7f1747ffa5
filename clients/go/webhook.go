package gpuclient

// Webhook receivers: checking a delivery's signatures and age.
//
// Every attempt of a delivery carries two signatures under the webhook's secret
// (docs/webhooks.md):
//
//   - X-Webhook-Signature: t=<unix seconds>,v1=<hex>, the HMAC-SHA256 of "<t>." + the raw body,
//     t being the time of this attempt (also sent as X-Webhook-Timestamp). Every retry is
//     signed afresh, so a receiver refuses anything older than a few minutes: a replay.
//   - the seed's "sha256=<64 hex>" over the payload {"event","timestamp","data"} as canonical
//     JSON, sent in X-Signature-256 and as the body's first member:
//
//	{"signature":"sha256=<64 hex>",<the signed bytes without their opening brace>
//
// so its signed bytes are "{" + body[len(`{"signature":"sha256=`)+64+len(`",`):], without
// re-serialising JSON. Its timestamp is when the event was recorded, the same on every retry,
// so it bounds nothing shorter than the service's retry horizon (a day).
//
// VerifyRequest and VerifyHeaders require and check the per-attempt signature; Verify and
// VerifyWebhook check the body's signature alone (deliveries of a service older than the
// per-attempt signature).

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a delivery.
const (
	SignatureHeader       = "X-Signature-256"
	WebhookEventHeader    = "X-Webhook-Event"
	WebhookEventIDHeader  = "X-Webhook-Event-Id"
	WebhookDeliveryHeader = "X-Webhook-Delivery"
	WebhookAttemptHeader  = "X-Webhook-Attempt"
	// WebhookTimestampHeader is the attempt's time, in Unix seconds.
	WebhookTimestampHeader = "X-Webhook-Timestamp"
	// WebhookSignatureHeader is the attempt's signature, t=<unix seconds>,v1=<hex>.
	WebhookSignatureHeader = "X-Webhook-Signature"
)

// DefaultWebhookTolerance is how old an attempt (its X-Webhook-Timestamp) may be: the replay
// window of VerifyRequest and VerifyHeaders.
const DefaultWebhookTolerance = 5 * time.Minute

// DefaultWebhookEventTolerance is how old the event may be when only the body's signature is
// checked (Verify, VerifyWebhook). The event's timestamp is the same on every retry and the
// service retries for up to a day (webhook_max_age_seconds, 86400 by default), so a shorter
// window would refuse retries it still makes. Within the window, drop repeats by the
// X-Webhook-Event-Id header; keep the ids you have seen for as long as the window.
const DefaultWebhookEventTolerance = 24 * time.Hour

// DefaultWebhookClockSkew is how far in the future a timestamp may be (the clocks of the
// service and the receiver differ).
const DefaultWebhookClockSkew = time.Minute

// MaxWebhookBodyBytes bounds the body VerifyRequest reads.
const MaxWebhookBodyBytes = 1 << 20

var (
	// ErrWebhookSignature: the body is not signed with the secret (or not a delivery at all).
	ErrWebhookSignature = errors.New("gpuclient: webhook signature does not match")
	// ErrWebhookTimestamp: the signature matches but the attempt (or, body signature only, the
	// event) is outside the tolerance: a replay or a late retry.
	ErrWebhookTimestamp = errors.New("gpuclient: webhook timestamp outside the tolerance")
)

const signaturePrefix = "sha256="

// signedOffset is len(`{"signature":"sha256=`) + 64 hex digits + len(`",`).
var signedOffset = len(`{"signature":"`) + len(signaturePrefix) + 64 + len(`",`)

// WebhookEvent is a verified delivery's payload.
type WebhookEvent struct {
	// Event is the event type (GPU_OVERHEATING, ALLOCATION_FAILED, WEBHOOK_TEST, ...).
	Event string `json:"event"`
	// Timestamp is when the event was recorded.
	Timestamp Time `json:"timestamp"`
	// Data is the event's data, as sent; decode it into a type of your own.
	Data json.RawMessage `json:"data"`
	// Signature is "sha256=<hex>", as sent.
	Signature string `json:"signature"`
}

// WebhookVerifier checks deliveries signed with Secret.
type WebhookVerifier struct {
	// Secret is the webhook's secret, as registered.
	Secret string
	// Tolerance is how old an attempt may be: 0 means DefaultWebhookTolerance, negative means
	// the age is not checked.
	Tolerance time.Duration
	// EventTolerance is how old the event may be when only the body's signature is checked
	// (Verify): 0 means DefaultWebhookEventTolerance, negative means not checked.
	EventTolerance time.Duration
	// ClockSkew is how far in the future a timestamp may be (0: DefaultWebhookClockSkew).
	ClockSkew time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// VerifyWebhook checks the seed's signature alone: a delivery's raw body against the secret and
// the X-Signature-256 header's value ("" to check the body's own signature member only), and
// that the event's timestamp is within tolerance (0: DefaultWebhookEventTolerance; negative: not
// checked). It returns the payload, or an error wrapping ErrWebhookSignature or
// ErrWebhookTimestamp. With the request's headers at hand, use WebhookVerifier.VerifyHeaders.
func VerifyWebhook(secret string, body []byte, signatureHeader string, tolerance time.Duration) (*WebhookEvent, error) {
	verifier := WebhookVerifier{Secret: secret, EventTolerance: tolerance}
	return verifier.Verify(body, signatureHeader)
}

// Verify checks the seed's body signature alone, with the event's age within EventTolerance:
// see VerifyWebhook.
func (v *WebhookVerifier) Verify(body []byte, signatureHeader string) (*WebhookEvent, error) {
	event, err := v.verifyBody(body, signatureHeader)
	if err != nil {
		return nil, err
	}
	if event.Timestamp.IsZero() {
		return nil, fmt.Errorf("%w: no timestamp", ErrWebhookTimestamp)
	}
	if err := v.checkAge("the event", event.Timestamp.Time, v.EventTolerance, DefaultWebhookEventTolerance); err != nil {
		return nil, err
	}
	return event, nil
}

// VerifyHeaders checks one attempt: the X-Webhook-Signature header (required) must sign body
// at a time at most Tolerance old and ClockSkew ahead; X-Webhook-Timestamp and X-Signature-256,
// when present, must agree with it and with the body's own signature.
func (v *WebhookVerifier) VerifyHeaders(body []byte, header http.Header) (*WebhookEvent, error) {
	if v.Secret == "" {
		return nil, fmt.Errorf("%w: no secret to check against", ErrWebhookSignature)
	}
	attemptedAt, err := v.verifyAttempt(body, header)
	if err != nil {
		return nil, err
	}
	event, err := v.verifyBody(body, header.Get(SignatureHeader))
	if err != nil {
		return nil, err
	}
	if err := v.checkAge("the attempt", attemptedAt, v.Tolerance, DefaultWebhookTolerance); err != nil {
		return nil, err
	}
	return event, nil
}

// verifyAttempt returns the time of the attempt that X-Webhook-Signature signs.
func (v *WebhookVerifier) verifyAttempt(body []byte, header http.Header) (time.Time, error) {
	value := header.Get(WebhookSignatureHeader)
	if value == "" {
		return time.Time{}, fmt.Errorf("%w: no %s header (Verify checks the body's signature alone)", ErrWebhookSignature, WebhookSignatureHeader)
	}
	var stamps, candidates []string
	for _, part := range strings.Split(value, ",") {
		key, field, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch key {
		case "t":
			stamps = append(stamps, field)
		case "v1":
			candidates = append(candidates, field)
		}
	}
	if len(stamps) != 1 || len(stamps[0]) == 0 || len(stamps[0]) > 12 || strings.Trim(stamps[0], "0123456789") != "" {
		return time.Time{}, fmt.Errorf("%w: %s has no single t=<unix seconds>", ErrWebhookSignature, WebhookSignatureHeader)
	}
	if stated := header.Get(WebhookTimestampHeader); stated != "" && strings.TrimSpace(stated) != stamps[0] {
		return time.Time{}, fmt.Errorf("%w: %s differs from %s", ErrWebhookSignature, WebhookTimestampHeader, WebhookSignatureHeader)
	}
	mac := hmac.New(sha256.New, []byte(v.Secret))
	mac.Write([]byte(stamps[0] + "."))
	mac.Write(body)
	expected := []byte(hex.EncodeToString(mac.Sum(nil)))
	for _, candidate := range candidates {
		if hmac.Equal(expected, []byte(candidate)) {
			seconds, err := strconv.ParseInt(stamps[0], 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("%w: %v", ErrWebhookSignature, err)
			}
			return time.Unix(seconds, 0).UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %s does not match", ErrWebhookSignature, WebhookSignatureHeader)
}

// checkAge refuses a moment older than tolerance (0: fallback; negative: unchecked) or further
// ahead than ClockSkew.
func (v *WebhookVerifier) checkAge(what string, moment time.Time, tolerance, fallback time.Duration) error {
	if tolerance == 0 {
		tolerance = fallback
	}
	if tolerance < 0 {
		return nil
	}
	skew := v.ClockSkew
	if skew <= 0 {
		skew = DefaultWebhookClockSkew
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	age := now().Sub(moment)
	if age > tolerance || age < -skew {
		return fmt.Errorf("%w: %s is %s old (tolerance %s, %s ahead): a replay or a late retry", ErrWebhookTimestamp, what, age.Round(time.Second), tolerance, skew)
	}
	return nil
}

// verifyBody checks the seed's signature: the body's first member, and X-Signature-256 when
// given.
func (v *WebhookVerifier) verifyBody(body []byte, signatureHeader string) (*WebhookEvent, error) {
	if v.Secret == "" {
		return nil, fmt.Errorf("%w: no secret to check against", ErrWebhookSignature)
	}
	if len(body) <= signedOffset || !bytes.HasPrefix(body, []byte(`{"signature":"`+signaturePrefix)) ||
		string(body[signedOffset-2:signedOffset]) != `",` {
		return nil, fmt.Errorf("%w: the body does not start with its signature member", ErrWebhookSignature)
	}
	claimed := body[len(`{"signature":"`) : signedOffset-2]
	signed := make([]byte, 0, 1+len(body)-signedOffset)
	signed = append(append(signed, '{'), body[signedOffset:]...)
	mac := hmac.New(sha256.New, []byte(v.Secret))
	mac.Write(signed)
	expected := []byte(signaturePrefix + hex.EncodeToString(mac.Sum(nil)))
	if !hmac.Equal(expected, claimed) {
		return nil, ErrWebhookSignature
	}
	if signatureHeader != "" && !hmac.Equal(expected, []byte(signatureHeader)) {
		return nil, fmt.Errorf("%w: the %s header differs from the body's", ErrWebhookSignature, SignatureHeader)
	}
	var event WebhookEvent
	if err := json.Unmarshal(body, &event); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWebhookSignature, err)
	}
	return &event, nil
}

// VerifyRequest reads an incoming delivery (at most MaxWebhookBodyBytes of body) and checks it
// with its headers: see VerifyHeaders.
func (v *WebhookVerifier) VerifyRequest(r *http.Request) (*WebhookEvent, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("gpuclient: reading the webhook body: %w", err)
	}
	if len(body) > MaxWebhookBodyBytes {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrWebhookSignature, MaxWebhookBodyBytes)
	}
	return v.VerifyHeaders(body, r.Header)
}
