package fn

import "errors"

// permanentError marks a failure that retrying cannot fix: a malformed
// event, an unknown job. The runtime drops it to the dead-letter topic (Dapr
// path) or answers 400 (Knative path) instead of asking for redelivery.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
