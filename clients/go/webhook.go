package gpuclient

// Webhook receivers: checking a delivery's signature and age.
//
// The service signs the payload {"event","timestamp","data"} as canonical JSON (keys sorted, no
// whitespace, non-ASCII escaped) with HMAC-SHA256 under the webhook's secret, and sends
// "sha256=<64 hex>" in the X-Signature-256 header and as the body's first member:
//
//	{"signature":"sha256=<64 hex>",<the signed bytes without their opening brace>
//
// so the signed bytes are "{" + body[len(`{"signature":"sha256=`)+64+len(`",`):], in any
// language, without re-serialising JSON (docs/webhooks.md).

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
	"time"
)

// The headers of a delivery.
const (
	SignatureHeader       = "X-Signature-256"
	WebhookEventHeader    = "X-Webhook-Event"
	WebhookEventIDHeader  = "X-Webhook-Event-Id"
	WebhookDeliveryHeader = "X-Webhook-Delivery"
	WebhookAttemptHeader  = "X-Webhook-Attempt"
)

// DefaultWebhookTolerance is how old a delivery's timestamp may be. The timestamp is when the
// event was recorded, and every retry carries the same one: the service retries for up to a day
// (webhook_max_age_seconds, 86400 by default), so a shorter window would refuse retries it
// still makes. Within the window, drop repeats by the X-Webhook-Event-Id header; keep the ids
// you have seen for as long as the window.
const DefaultWebhookTolerance = 24 * time.Hour

// DefaultWebhookClockSkew is how far in the future a timestamp may be (the clocks of the
// service and the receiver differ).
const DefaultWebhookClockSkew = 5 * time.Minute

// MaxWebhookBodyBytes bounds the body VerifyRequest reads.
const MaxWebhookBodyBytes = 1 << 20

var (
	// ErrWebhookSignature: the body is not signed with the secret (or not a delivery at all).
	ErrWebhookSignature = errors.New("gpuclient: webhook signature does not match")
	// ErrWebhookTimestamp: the signature matches but the timestamp is outside the tolerance.
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
	// Tolerance is how old a timestamp may be: 0 means DefaultWebhookTolerance, negative means
	// the age is not checked.
	Tolerance time.Duration
	// ClockSkew is how far in the future a timestamp may be (0: DefaultWebhookClockSkew).
	ClockSkew time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// VerifyWebhook checks a delivery's raw body against the secret and the X-Signature-256
// header's value ("" to check the body's own signature member only), and that its timestamp
// is within tolerance (0: DefaultWebhookTolerance; negative: not checked). It returns the
// payload, or an error wrapping ErrWebhookSignature or ErrWebhookTimestamp.
func VerifyWebhook(secret string, body []byte, signatureHeader string, tolerance time.Duration) (*WebhookEvent, error) {
	verifier := WebhookVerifier{Secret: secret, Tolerance: tolerance}
	return verifier.Verify(body, signatureHeader)
}

// Verify checks one delivery: see VerifyWebhook.
func (v *WebhookVerifier) Verify(body []byte, signatureHeader string) (*WebhookEvent, error) {
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
	if event.Timestamp.IsZero() {
		return nil, fmt.Errorf("%w: no timestamp", ErrWebhookTimestamp)
	}
	tolerance := v.Tolerance
	if tolerance == 0 {
		tolerance = DefaultWebhookTolerance
	}
	if tolerance > 0 {
		skew := v.ClockSkew
		if skew <= 0 {
			skew = DefaultWebhookClockSkew
		}
		now := time.Now
		if v.Now != nil {
			now = v.Now
		}
		age := now().Sub(event.Timestamp.Time)
		if age > tolerance || age < -skew {
			return nil, fmt.Errorf("%w: the event is %s old (tolerance %s)", ErrWebhookTimestamp, age.Round(time.Second), tolerance)
		}
	}
	return &event, nil
}

// VerifyRequest reads and checks an incoming delivery (at most MaxWebhookBodyBytes of body).
func (v *WebhookVerifier) VerifyRequest(r *http.Request) (*WebhookEvent, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxWebhookBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("gpuclient: reading the webhook body: %w", err)
	}
	if len(body) > MaxWebhookBodyBytes {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrWebhookSignature, MaxWebhookBodyBytes)
	}
	return v.Verify(body, r.Header.Get(SignatureHeader))
}
