package transport_test

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

// A host mounts the WebSocket and attachment handlers on its own mux, with
// its own authentication; a beneficiary connects and opens a conversation.
func Example() {
	ctx := context.Background()
	eng, err := attendance.New(memory.New(), &attendance.Config{
		Queues:          []attendance.Queue{{ID: "general", Name: "General"}},
		Subjects:        []attendance.Subject{{ID: "billing", Name: "Billing", QueueID: "general"}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "solved", Label: "Solved"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	blobs, err := transport.NewFSBlobStore(tempDir())
	if err != nil {
		log.Fatal(err)
	}
	srv, err := transport.NewServer(eng, &transport.Config{
		// The host decides who the caller is; here a toy bearer token
		// "beneficiary:<id>". Real hosts check a session or a signed token.
		Authenticate: func(ctx context.Context, ev transport.AuthenticateEvent) (transport.AuthenticateReply, error) {
			id, ok := strings.CutPrefix(ev.Request.Header.Get("Authorization"), "Bearer beneficiary:")
			if !ok {
				return transport.AuthenticateReply{}, errors.New("no token")
			}
			return transport.AuthenticateReply{Principal: attendance.BeneficiaryPrincipal(id)}, nil
		},
		Blobs: blobs,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer srv.Stop(ctx)

	mux := http.NewServeMux()
	mux.Handle("/chat", srv.Handler())
	mux.Handle("/attachments/", http.StripPrefix("/attachments", srv.AttachmentHandler()))
	hs := httptest.NewServer(mux)
	defer hs.Close()

	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/chat", &client.Config{
		Header: func(context.Context) (http.Header, error) {
			return http.Header{"Authorization": {"Bearer beneficiary:maria"}}, nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	conv, err := c.Open(ctx, "billing")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Principal().ID, conv.State)
	for ev := range c.Events() {
		if ev.Type == transport.EventMessage {
			m, _ := ev.Message()
			fmt.Println(ev.Seq, m.Kind, m.Event.Type)
			break
		}
	}
	// Output:
	// maria queued
	// 1 system opened
}

// CodeOf maps engine errors to protocol codes and HTTP statuses.
func ExampleCodeOf() {
	err := fmt.Errorf("reading: %w", attendance.ErrForbidden)
	code, status := transport.CodeOf(err)
	fmt.Println(code, status)
	// Output: forbidden 403
}
