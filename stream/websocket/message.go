package websocket

import (
	"fmt"

	"github.com/coder/websocket"
)

// MessageType is the kind of a WebSocket data message. The zero value is [Text].
type MessageType int

const (
	// Text is a UTF-8 text message, such as JSON.
	Text MessageType = iota
	// Binary is a binary message, such as a protobuf.
	Binary
)

// String returns "text" or "binary".
func (t MessageType) String() string {
	switch t {
	case Text:
		return "text"
	case Binary:
		return "binary"
	}
	return fmt.Sprintf("MessageType(%d)", int(t))
}

func (t MessageType) wire() (websocket.MessageType, error) {
	switch t {
	case Text:
		return websocket.MessageText, nil
	case Binary:
		return websocket.MessageBinary, nil
	}
	return 0, fmt.Errorf("%w: %v", ErrMessageType, t)
}

// Message is one WebSocket data message.
//
// A Message returned by Read owns its Data: the [Conn] never reuses it. A
// Message passed to Write is only read, and only during the call.
type Message struct {
	// Type is [Text] (the zero value) or [Binary].
	Type MessageType
	// Data is the payload.
	Data []byte
}
