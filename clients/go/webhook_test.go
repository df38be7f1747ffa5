package gpuclient

// Webhook verification on bodies signed here the way the service signs (the real service's
// delivery is checked in live_test.go).

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"testing"
	"time"
)

// signed builds a delivery as analytics/webhooks/signing.py does: canonical JSON, keys sorted.
func signed(secret, timestamp string) ([]byte, string) {
	message := `{"data":{"deviceId":"gpu-worker-1-gpu-00","temperature":91.5},"event":"GPU_OVERHEATING","timestamp":"` + timestamp + `"}`
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(message))
	signature := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return []byte(`{"signature":"` + signature + `",` + message[1:]), signature
}

func TestVerifyWebhook(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	body, signature := signed("s3cret-key", "2026-01-01T11:59:00Z")
	verifier := WebhookVerifier{Secret: "s3cret-key", Now: func() time.Time { return now }}

	event, err := verifier.Verify(body, signature)
	if err != nil {
		t.Fatal(err)
	}
	if event.Event != "GPU_OVERHEATING" || !event.Timestamp.Equal(now.Add(-time.Minute)) || event.Signature != signature ||
		string(event.Data) != `{"deviceId":"gpu-worker-1-gpu-00","temperature":91.5}` {
		t.Fatalf("event %+v", event)
	}
	if _, err := verifier.Verify(body, ""); err != nil {
		t.Fatalf("without the header: %v", err)
	}
	request := httptest.NewRequest("POST", "/hook", bytes.NewReader(body))
	request.Header.Set(SignatureHeader, signature)
	if _, err := verifier.VerifyRequest(request); err != nil {
		t.Fatalf("VerifyRequest: %v", err)
	}

	tampered := bytes.Replace(body, []byte("91.5"), []byte("21.5"), 1)
	other, otherSignature := signed("another-secret", "2026-01-01T11:59:00Z")
	for name, c := range map[string]struct {
		body   []byte
		header string
	}{
		"tampered body":                {tampered, signature},
		"tampered body without header": {tampered, ""},
		"another secret":               {other, otherSignature},
		"header of another body":       {body, otherSignature},
		"not a delivery":               {[]byte(`{"event":"GPU_OVERHEATING"}`), signature},
		"empty":                        {nil, ""},
	} {
		if _, err := verifier.Verify(c.body, c.header); !errors.Is(err, ErrWebhookSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}

	for name, v := range map[string]WebhookVerifier{
		"older than the default tolerance": {Secret: "s3cret-key", Now: func() time.Time { return now.Add(25 * time.Hour) }},
		"older than a tolerance of 30s":    {Secret: "s3cret-key", Tolerance: 30 * time.Second, Now: func() time.Time { return now }},
		"from the future":                  {Secret: "s3cret-key", Now: func() time.Time { return now.Add(-time.Hour) }},
	} {
		v := v
		if _, err := v.Verify(body, signature); !errors.Is(err, ErrWebhookTimestamp) {
			t.Errorf("%s: %v", name, err)
		}
	}
	unchecked := WebhookVerifier{Secret: "s3cret-key", Tolerance: -1, Now: func() time.Time { return now.Add(1000 * time.Hour) }}
	if _, err := unchecked.Verify(body, signature); err != nil {
		t.Errorf("negative tolerance checks no age: %v", err)
	}
	if _, err := VerifyWebhook("", body, signature, 0); !errors.Is(err, ErrWebhookSignature) {
		t.Errorf("empty secret: %v", err)
	}
}
