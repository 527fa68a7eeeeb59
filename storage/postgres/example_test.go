package postgres_test

import (
	"context"
	"log"
	"os"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/postgres"
)

// A host opens the store once, in its own schema, and hands it to the
// engine. This example needs a server, so it is compiled but not run.
func Example() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), &postgres.Config{Schema: "mosiachat"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	agent, err := store.UpsertAgent(ctx, attendance.UpsertAgentParams{
		ID:      "ana",
		Name:    "Ana",
		Profile: attendance.Profile{Min: 1, Max: 3, Queues: []string{"billing"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("agent %s is %s", agent.ID, agent.Presence)
}
