package jsqueue

import "encoding/json"

// Codec turns a job into a message payload and back. Implementations must be
// safe for concurrent use: a Worker decodes on its fetching goroutine while a
// Producer encodes on the caller's.
type Codec[T any] interface {
	Encode(job T) ([]byte, error)
	Decode(data []byte) (T, error)
}

// JSONCodec encodes jobs with encoding/json. It is the default Codec.
type JSONCodec[T any] struct{}

// Encode returns the JSON encoding of job.
func (JSONCodec[T]) Encode(job T) ([]byte, error) { return json.Marshal(job) }

// Decode parses the JSON in data into a T.
func (JSONCodec[T]) Decode(data []byte) (T, error) {
	var job T
	err := json.Unmarshal(data, &job)
	return job, err
}
