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

// Every node opens a Bus on the Store's schema and gives it to its engine,
// so that the nodes hear each other's changes at once. This example needs a
// server, so it is compiled but not run.
func ExampleOpenBus() {
	ctx := context.Background()
	dsn := os.Getenv("DATABASE_URL")
	store, err := postgres.Open(ctx, dsn, &postgres.Config{Schema: "mosiachat"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	bus, err := postgres.OpenBus(ctx, dsn, &postgres.BusConfig{Schema: "mosiachat"})
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	engine, err := attendance.New(store, &attendance.Config{
		Queues:          []attendance.Queue{{ID: "billing", Name: "Billing"}},
		Subjects:        []attendance.Subject{{ID: "slip", Name: "Bank slip", QueueID: "billing"}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "solved", Label: "Solved"}},
		Bus:             bus,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := engine.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer engine.Stop(ctx)
}
