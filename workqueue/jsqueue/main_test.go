package jsqueue_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(chaosRoleEnv) != "" {
		os.Exit(chaosChild())
	}
	goleak.VerifyTestMain(m)
}
