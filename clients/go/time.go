package gpuclient

// Time: the API's timestamps, read tolerantly and written as the service writes them.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Time is a timestamp of the API. It reads ISO-8601 with Z or an offset (RFC 3339), a naive
// date-time (taken as UTC) or a date, and writes UTC seconds with Z, as the service does.
type Time struct {
	time.Time
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// UnmarshalJSON implements json.Unmarshaler; null leaves the value unchanged.
func (t *Time) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil
	}
	var text string
	if err := json.Unmarshal(data, &text); err != nil {
		return fmt.Errorf("gpuclient: a time must be a JSON string, got %s", data)
	}
	parsed, err := ParseTime(text)
	if err != nil {
		return err
	}
	t.Time = parsed
	return nil
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	return json.Marshal(FormatTime(t.Time))
}

// ParseTime reads a timestamp of the API (see Time), as UTC.
func ParseTime(text string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if parsed, err := time.Parse(layout, text); err == nil {
			return parsed.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("gpuclient: %q is not an ISO-8601 time", text)
}

// FormatTime writes t as the API does: UTC, seconds, Z.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05Z")
}
