package jsqueue

// DisableHeartbeats stops w's lease keeper from sending heartbeats (it still
// cancels handlers whose lease passed), so that tests can make a lease pass.
func DisableHeartbeats[T any](w *Worker[T]) { w.noBeats.Store(true) }
