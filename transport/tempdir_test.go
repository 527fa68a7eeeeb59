package transport_test

import "os"

// tempDir makes a directory for examples, which have no testing.T.
func tempDir() string {
	d, err := os.MkdirTemp("", "mosiachat-example-*")
	if err != nil {
		panic(err)
	}
	return d
}
