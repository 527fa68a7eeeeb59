package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
	"github.com/mosiachat/mosiachat/transport"
	"github.com/mosiachat/mosiachat/transport/client"
)

// An agent connects, goes online and accepts the chat a beneficiary opens.
func Example() {
	ctx := context.Background()
	eng, _ := attendance.New(memory.New(), &attendance.Config{
		Queues:          []attendance.Queue{{ID: "q", Name: "General"}},
		Subjects:        []attendance.Subject{{ID: "billing", Name: "Billing", QueueID: "q"}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "solved", Label: "Solved"}},
	})
	_, _ = eng.UpsertAgent(ctx, attendance.AgentParams{ID: "ana", Profile: attendance.Profile{Max: 2, Queues: []string{"q"}}})
	srv, _ := transport.NewServer(eng, &transport.Config{
		Authenticate: func(_ context.Context, ev transport.AuthenticateEvent) (transport.AuthenticateReply, error) {
			role, id, ok := strings.Cut(ev.Request.Header.Get("X-Demo-User"), ":")
			if !ok {
				return transport.AuthenticateReply{}, errors.New("unknown user")
			}
			return transport.AuthenticateReply{Principal: attendance.Principal{Role: attendance.Role(role), ID: id}}, nil
		},
	})
	_ = srv.Start(ctx)
	defer srv.Stop(ctx)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	as := func(user string) *client.Config {
		return &client.Config{Header: func(context.Context) (http.Header, error) {
			return http.Header{"X-Demo-User": {user}}, nil
		}}
	}

	agent, err := client.Dial(ctx, url, as("agent:ana"))
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()
	if _, err := agent.SetPresence(ctx, attendance.PresenceOnline); err != nil {
		log.Fatal(err)
	}
	ben, err := client.Dial(ctx, url, as("beneficiary:maria"))
	if err != nil {
		log.Fatal(err)
	}
	defer ben.Close()
	if _, err := ben.Open(ctx, "billing"); err != nil {
		log.Fatal(err)
	}
	// Commands answer events from a goroutine of their own, so that the
	// loop reading Events never waits for a reply (see Concurrency).
	accepted := make(chan attendance.State, 1)
	for ev := range agent.Events() {
		if ev.Type != transport.EventOffer {
			continue
		}
		go func(id string) {
			conv, err := agent.Accept(ctx, id)
			if err != nil {
				log.Fatal(err)
			}
			accepted <- conv.State
		}(ev.ConversationID)
		break
	}
	fmt.Println("accepted:", <-accepted)
	// Output: accepted: active
}
