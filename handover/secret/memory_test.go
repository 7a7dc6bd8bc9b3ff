package secret_test

import (
	"testing"

	"github.com/handoverhq/handover/handover/secret"
	"github.com/handoverhq/handover/handover/secret/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) secret.Store { return secret.NewMemoryStore() })
}
