package memory_test

import (
	"testing"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
	"github.com/mosiachat/mosiachat/storage/storagetest"
)

func TestStore(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) attendance.Store { return memory.New() })
}
