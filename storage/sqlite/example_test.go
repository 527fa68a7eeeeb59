package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/sqlite"
)

// A host opens one file, creating and migrating it on the first run, and
// hands the store to the engine.
func Example() {
	dir, err := os.MkdirTemp("", "mosiachat-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "chat.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	now := time.Date(2025, 6, 2, 13, 0, 0, 0, time.UTC)
	conv, opened, err := store.CreateConversation(ctx, attendance.CreateConversationParams{
		Conversation: attendance.Conversation{
			ID: "c1", BeneficiaryID: "b1", QueueID: "billing", State: attendance.StateQueued,
			ArrivedAt: now, CreatedAt: now, UpdatedAt: now,
		},
		Opened: attendance.Message{ID: "m1", Sender: attendance.SystemPrincipal, CreatedAt: now,
			Event: &attendance.Event{Type: attendance.EventOpened, To: attendance.StateQueued}},
	})
	if err != nil {
		log.Fatal(err)
	}
	msg, _, _, err := store.AppendMessage(ctx, attendance.AppendMessageParams{
		Message: attendance.Message{ID: "m2", ConversationID: conv.ID, Kind: attendance.KindText,
			Sender: attendance.BeneficiaryPrincipal("b1"), Body: "hello", CreatedAt: now},
		States: []attendance.State{attendance.StateQueued},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(conv.State, opened.Seq, msg.Seq)
	// Output: queued 1 2
}
