package gpuclient

// Webhook verification on bodies signed here the way the service signs (the real service's
// delivery is checked in live_test.go).

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// attempt builds the headers of one attempt as analytics/webhooks/dispatcher.py does.
func attempt(secret string, body []byte, seed string, at time.Time) http.Header {
	t := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t + "."))
	mac.Write(body)
	header := http.Header{}
	header.Set(WebhookTimestampHeader, t)
	header.Set(WebhookSignatureHeader, "t="+t+",v1="+hex.EncodeToString(mac.Sum(nil)))
	header.Set(SignatureHeader, seed)
	return header
}

func TestVerifyHeadersChecksTheAttemptSignature(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	// An event recorded 23 h ago, retried now: its attempt time is what counts.
	body, seed := signed("s3cret-key", "2025-12-31T13:00:00Z")
	header := attempt("s3cret-key", body, seed, now)
	at := func(moment time.Time) *WebhookVerifier {
		return &WebhookVerifier{Secret: "s3cret-key", Now: func() time.Time { return moment }}
	}

	event, err := at(now).VerifyHeaders(body, header)
	if err != nil || event.Event != "GPU_OVERHEATING" || event.Signature != seed {
		t.Fatalf("event %+v, %v", event, err)
	}
	request := httptest.NewRequest("POST", "/hook", bytes.NewReader(body))
	request.Header = header.Clone()
	if _, err := at(now).VerifyRequest(request); err != nil {
		t.Fatalf("VerifyRequest: %v", err)
	}
	for name, moment := range map[string]time.Time{"5 min later": now.Add(5 * time.Minute), "1 min ahead": now.Add(-time.Minute)} {
		if _, err := at(moment).VerifyHeaders(body, header); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, moment := range map[string]time.Time{"replayed 5 min 1 s later": now.Add(301 * time.Second), "from the future": now.Add(-61 * time.Second)} {
		if _, err := at(moment).VerifyHeaders(body, header); !errors.Is(err, ErrWebhookTimestamp) {
			t.Errorf("%s: %v", name, err)
		}
	}
	short := WebhookVerifier{Secret: "s3cret-key", Tolerance: 30 * time.Second, Now: func() time.Time { return now.Add(31 * time.Second) }}
	if _, err := short.VerifyHeaders(body, header); !errors.Is(err, ErrWebhookTimestamp) {
		t.Errorf("tolerance 30s: %v", err)
	}
	unchecked := WebhookVerifier{Secret: "s3cret-key", Tolerance: -1, Now: func() time.Time { return now.Add(1000 * time.Hour) }}
	if _, err := unchecked.VerifyHeaders(body, header); err != nil {
		t.Errorf("negative tolerance checks no age: %v", err)
	}

	edit := func(change func(http.Header)) http.Header {
		edited := header.Clone()
		change(edited)
		return edited
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	later := strconv.FormatInt(now.Unix()+600, 10)
	_, otherSeed := signed("another-secret", "2025-12-31T13:00:00Z")
	for name, c := range map[string]struct {
		body   []byte
		header http.Header
	}{
		// Headers without the attempt signature are refused, not checked by the body alone.
		"no attempt signature": {body, edit(func(h http.Header) { h.Del(WebhookSignatureHeader) })},
		"tampered body":        {bytes.Replace(body, []byte("91.5"), []byte("21.5"), 1), header},
		"another secret":       {body, attempt("another-secret", body, seed, now)},
		"moved time": {body, edit(func(h http.Header) {
			h.Set(WebhookSignatureHeader, strings.Replace(h.Get(WebhookSignatureHeader), "t="+ts, "t="+later, 1))
			h.Set(WebhookTimestampHeader, later)
		})},
		"timestamp header differs": {body, edit(func(h http.Header) { h.Set(WebhookTimestampHeader, later) })},
		"other seed header":        {body, edit(func(h http.Header) { h.Set(SignatureHeader, otherSeed) })},
		"no t": {body, edit(func(h http.Header) {
			h.Set(WebhookSignatureHeader, strings.SplitN(h.Get(WebhookSignatureHeader), ",", 2)[1])
		})},
		"garbage": {body, edit(func(h http.Header) { h.Set(WebhookSignatureHeader, "garbage") })},
	} {
		if _, err := at(now).VerifyHeaders(c.body, c.header); !errors.Is(err, ErrWebhookSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// signed builds a delivery as analytics/webhooks/signing.py does: canonical JSON, keys sorted.
func signed(secret, timestamp string) ([]byte, string) {
	message := `{"data":{"deviceId":"gpu-worker-1-gpu-00","temperature":91.5},"event":"GPU_OVERHEATING","timestamp":"` + timestamp + `"}`
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(message))
	signature := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return []byte(`{"signature":"` + signature + `",` + message[1:]), signature
}

// Verify and VerifyWebhook: the seed's body signature alone, with the day-long event tolerance.
func TestVerifyWebhookChecksTheBodySignatureAlone(t *testing.T) {
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
	late := WebhookVerifier{Secret: "s3cret-key", Now: func() time.Time { return now.Add(23 * time.Hour) }}
	if _, err := late.Verify(body, signature); err != nil {
		t.Fatalf("a retry 23 h later: %v", err)
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
		"older than a tolerance of 30s":    {Secret: "s3cret-key", EventTolerance: 30 * time.Second, Now: func() time.Time { return now }},
		"from the future":                  {Secret: "s3cret-key", Now: func() time.Time { return now.Add(-time.Hour) }},
	} {
		v := v
		if _, err := v.Verify(body, signature); !errors.Is(err, ErrWebhookTimestamp) {
			t.Errorf("%s: %v", name, err)
		}
	}
	unchecked := WebhookVerifier{Secret: "s3cret-key", EventTolerance: -1, Now: func() time.Time { return now.Add(1000 * time.Hour) }}
	if _, err := unchecked.Verify(body, signature); err != nil {
		t.Errorf("negative tolerance checks no age: %v", err)
	}
	if _, err := VerifyWebhook("", body, signature, 0); !errors.Is(err, ErrWebhookSignature) {
		t.Errorf("empty secret: %v", err)
	}
}
