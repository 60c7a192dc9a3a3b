package jsqueue

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// DeadLetter is one message of a queue's dead-letter stream, parsed by
// [ParseDeadLetter]. It is one of two kinds:
//
//   - a job a worker dead-lettered (Advisory false): Data and Header are the
//     job's, Err its final error, Attempts the delivery that failed last; the
//     job is gone from the work stream.
//   - a MAX_DELIVERIES advisory (Advisory true): the job's deliveries ran out
//     without a worker settling it (its worker crashed or lost its lease
//     each time). The job is still in the work stream at StreamSeq, with
//     nothing pending: read it with the stream's GetMsg, and delete it once
//     handled. Data and Err are empty.
type DeadLetter struct {
	Advisory  bool
	ID        string // Delivery.ID of the job (empty for an advisory)
	Stream    string // the work stream
	StreamSeq uint64 // the job's sequence in the work stream
	Attempts  int    // the deliveries made
	Err       string // the final error's text
	Data      []byte
	Header    nats.Header
}

// ErrNotDeadLetter is returned by [ParseDeadLetter] for a message that is
// neither kind of dead letter.
var ErrNotDeadLetter = errors.New("jsqueue: not a dead letter")

// ParseDeadLetter parses a message of the dead-letter stream, as read with
// a consumer (msg.Subject(), msg.Headers(), msg.Data()) or with the
// stream's GetMsg (the RawStreamMsg's fields).
func ParseDeadLetter(subject string, header nats.Header, data []byte) (DeadLetter, error) {
	if strings.HasPrefix(subject, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.") {
		var a struct {
			Stream     string `json:"stream"`
			StreamSeq  uint64 `json:"stream_seq"`
			Deliveries uint64 `json:"deliveries"`
		}
		if err := json.Unmarshal(data, &a); err != nil {
			return DeadLetter{}, fmt.Errorf("%w: advisory: %w", ErrNotDeadLetter, err)
		}
		return DeadLetter{Advisory: true, Stream: a.Stream, StreamSeq: a.StreamSeq, Attempts: int(a.Deliveries)}, nil
	}
	if header.Get(HeaderSeq) == "" {
		return DeadLetter{}, ErrNotDeadLetter
	}
	seq, err := strconv.ParseUint(header.Get(HeaderSeq), 10, 64)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("%w: %s: %w", ErrNotDeadLetter, HeaderSeq, err)
	}
	attempts, _ := strconv.Atoi(header.Get(HeaderAttempts))
	return DeadLetter{
		ID:        header.Get(HeaderID),
		Stream:    header.Get(HeaderStream),
		StreamSeq: seq,
		Attempts:  attempts,
		Err:       header.Get(HeaderError),
		Data:      data,
		Header:    header,
	}, nil
}
