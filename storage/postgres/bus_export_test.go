package postgres

import "github.com/mosiachat/mosiachat/attendance"

// MaxPayloadBytes is the NOTIFY payload limit the bus trims to.
const MaxPayloadBytes = maxPayloadBytes

// ListenerPID returns the backend PID of b's current listener connection.
func ListenerPID(b *Bus) uint32 { return b.pid.Load() }

// ListenerDone is closed once b's listener goroutine has returned.
func ListenerDone(b *Bus) <-chan struct{} { return b.done }

// ListenerPings counts the liveness checks of b's listener connection.
func ListenerPings(b *Bus) int64 { return b.pings.Load() }

// EncodeNotification is the payload Publish sends for n, and whether it
// was trimmed.
func EncodeNotification(n attendance.Notification) (string, bool, error) {
	return encodeNotification(n, maxPayloadBytes)
}
