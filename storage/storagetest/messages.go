package storagetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// messages covers AppendMessage, ListMessages, MarkRead and ReadMarks.
func (s suite) messages(t *testing.T) {
	s.run(t, "AppendStoresEveryField", func(t *testing.T, f *fixture) {
		c := f.conversation()
		m := f.text(c.ID, attendance.BeneficiaryPrincipal(c.BeneficiaryID), "", "key-1")
		m.Kind = attendance.KindAttachment
		m.Attachment = &attendance.Attachment{
			BlobID: newID("blob"), Name: "boleto.pdf", ContentType: "application/pdf",
			Size: 48213, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		}
		m.Seq = 99 // assigned by the store
		got, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: m, States: openStates})
		require.NoError(t, err)
		require.True(t, created)
		want := m
		want.Seq = 2
		requireMessage(t, want, got)

		msgs := f.messages(c.ID)
		require.Len(t, msgs, 2)
		requireMessage(t, want, msgs[1])
		require.Equal(t, int64(2), f.get(c.ID).LastSeq)
	})

	s.run(t, "AppendChecksTheOwner", func(t *testing.T, f *fixture) {
		a, other := f.onlineAgent(2), f.onlineAgent(2)
		c := f.conversation()
		f.activate(c.ID, a.ID)
		agent := attendance.AgentPrincipal(a.ID)

		// Another agent, named as the owner, is refused and nothing changes.
		before := f.snapshot(c.ID, a.ID, other.ID)
		_, _, _, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, attendance.AgentPrincipal(other.ID), "não é minha", "k-other"), States: openStates, AgentID: other.ID,
		})
		require.ErrorIs(t, err, attendance.ErrForbidden)
		f.requireUnchanged(before)

		first, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, agent, "é minha", "k-owner"), States: openStates, AgentID: a.ID,
		})
		require.NoError(t, err)
		require.True(t, created)

		// Once it is transferred away, the former owner is refused, but a
		// retry of a key they used still returns the first message.
		f.transition(attendance.TransitionParams{
			ConversationID: c.ID, From: []attendance.State{attendance.StateActive}, ExpectAgentID: a.ID,
			To: attendance.StateQueued, At: at(f.next()), Message: sysMsg(attendance.EventTransferred, "", at(f.next())),
		})
		f.offer(c.ID, other.ID)
		_, _, _, err = f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, agent, "ainda aqui?", "k-late"), States: openStates, AgentID: a.ID,
		})
		require.ErrorIs(t, err, attendance.ErrForbidden)
		retry, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, agent, "é minha", "k-owner"), States: openStates, AgentID: a.ID,
		})
		require.NoError(t, err)
		require.False(t, created)
		requireMessage(t, first, retry)
	})

	s.run(t, "AppendChecksTheBeneficiary", func(t *testing.T, f *fixture) {
		c, other := f.conversation(), f.conversation()
		ben := attendance.BeneficiaryPrincipal(c.BeneficiaryID)
		stranger := attendance.BeneficiaryPrincipal(other.BeneficiaryID)

		// Another beneficiary is refused, with or without a key, and
		// nothing changes: the beneficiary is checked before the key, so
		// even a key of theirs stored there (which only a store call
		// without BeneficiaryID could put there) is not returned.
		planted, _, _, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, stranger, "plantada", "k-planted"), States: openStates,
		})
		require.NoError(t, err)
		before := f.snapshot(c.ID)
		for _, key := range []string{"", "k-stranger", planted.IdempotencyKey} {
			_, _, _, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
				Message: f.text(c.ID, stranger, "não é minha", key), States: openStates, BeneficiaryID: stranger.ID,
			})
			require.ErrorIs(t, err, attendance.ErrForbidden, "key %q", key)
		}
		f.requireUnchanged(before)

		_, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, ben, "é minha", "k-own"), States: openStates, BeneficiaryID: ben.ID,
		})
		require.NoError(t, err)
		require.True(t, created)
	})

	s.run(t, "AppendReturnsTheConversation", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation()
		f.activate(c.ID, a.ID)
		agent := attendance.AgentPrincipal(a.ID)

		m, conv, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, agent, "olá", "k-1"), States: openStates, AgentID: a.ID,
		})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, m.Seq, conv.LastSeq, "the conversation as the append left it")
		requireConversation(t, f.get(c.ID), conv)
		require.Equal(t, a.ID, conv.AgentID)
		require.Equal(t, attendance.StateActive, conv.State)

		// A repeated key changes nothing and returns no conversation.
		again, conv, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, agent, "olá", "k-1"), States: openStates, AgentID: a.ID,
		})
		require.NoError(t, err)
		require.False(t, created)
		requireMessage(t, m, again)
		require.Equal(t, attendance.Conversation{}, conv)
	})

	s.run(t, "SeqsWithoutGaps", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation()
		ben := attendance.BeneficiaryPrincipal(c.BeneficiaryID)
		agent := attendance.AgentPrincipal(a.ID)
		appendText := func(sender attendance.Principal, want int64) {
			t.Helper()
			got, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
				Message: f.text(c.ID, sender, "oi", ""), States: openStates,
			})
			require.NoError(t, err)
			require.True(t, created)
			require.Equal(t, want, got.Seq)
		}
		appendText(ben, 2)
		appendText(ben, 3)
		f.offer(c.ID, a.ID) // 4
		appendText(ben, 5)
		f.transition(acceptParams(c.ID, a.ID)) // 6
		appendText(agent, 7)
		appendText(ben, 8)
		appendText(agent, 9)

		require.Equal(t, seqRange(1, 9), seqs(f.messages(c.ID)))
		got := f.get(c.ID)
		require.Equal(t, int64(9), got.LastSeq)
		require.Equal(t, int64(2), got.Version, "messages do not change the version")
	})

	s.run(t, "SeqsArePerConversation", func(t *testing.T, f *fixture) {
		c1, c2 := f.conversation(), f.conversation()
		for i := range 3 {
			for _, c := range []attendance.Conversation{c1, c2} {
				got, _, _, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
					Message: f.text(c.ID, attendance.BeneficiaryPrincipal(c.BeneficiaryID), "x", ""), States: openStates,
				})
				require.NoError(t, err)
				require.Equal(t, int64(i+2), got.Seq)
				require.Equal(t, c.ID, got.ConversationID)
			}
		}
	})

	s.run(t, "Idempotent", func(t *testing.T, f *fixture) {
		c := f.conversation()
		ben := attendance.BeneficiaryPrincipal(c.BeneficiaryID)
		first, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, ben, "first", "send-1"), States: openStates,
		})
		require.NoError(t, err)
		require.True(t, created)

		// A retry with the same key returns the first message, whatever it carries.
		retry := f.text(c.ID, ben, "second body", "send-1")
		got, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: retry, States: openStates})
		require.NoError(t, err)
		require.False(t, created)
		requireMessage(t, first, got)
		require.Equal(t, first.Seq, f.get(c.ID).LastSeq, "a retry appends nothing")

		// Another sender with the same key is a new message.
		other := attendance.SupervisorPrincipal(newID("sup"))
		got, _, created, err = f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, other, "mine", "send-1"), States: openStates,
		})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, first.Seq+1, got.Seq)

		// Same ID with another role is another sender.
		sameIDOtherRole := attendance.Principal{Role: attendance.RoleAgent, ID: ben.ID}
		got, _, created, err = f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, sameIDOtherRole, "mine", "send-1"), States: openStates,
		})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, first.Seq+2, got.Seq)

		// The same sender and key in another conversation is a new message.
		d := f.conversation(func(d *attendance.Conversation) { d.BeneficiaryID = c.BeneficiaryID })
		got, _, created, err = f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(d.ID, ben, "first", "send-1"), States: openStates,
		})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, int64(2), got.Seq)

		// Without a key, every send is new.
		for i := range 2 {
			got, _, created, err = f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
				Message: f.text(c.ID, ben, "same", ""), States: openStates,
			})
			require.NoError(t, err)
			require.True(t, created)
			require.Equal(t, first.Seq+3+int64(i), got.Seq)
		}
		require.Len(t, f.messages(c.ID), 6)
	})

	s.run(t, "IdempotentAfterStateChange", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(1)
		c := f.activate(f.conversation().ID, a.ID)
		agent := attendance.AgentPrincipal(a.ID)
		first, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, agent, "bye", "k"), States: []attendance.State{attendance.StateActive},
		})
		require.NoError(t, err)
		require.True(t, created)
		f.transition(finalizeParams(c.ID, a.ID))

		// The retry arrives after the conversation closed: it still gets
		// the first message, not an error.
		got, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, agent, "bye", "k"), States: []attendance.State{attendance.StateActive},
		})
		require.NoError(t, err)
		require.False(t, created)
		requireMessage(t, first, got)
	})

	s.run(t, "AppendChecksState", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(1)
		c := f.conversation()
		agent := attendance.AgentPrincipal(a.ID)
		activeOnly := []attendance.State{attendance.StateActive}

		before := f.snapshot(c.ID)
		_, _, _, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: f.text(c.ID, agent, "early", "k1"), States: activeOnly})
		require.ErrorIs(t, err, attendance.ErrInvalidTransition, "queued is not active")
		f.requireUnchanged(before)

		f.activate(c.ID, a.ID)
		_, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: f.text(c.ID, agent, "now", "k1"), States: activeOnly})
		require.NoError(t, err)
		require.True(t, created, "a refused send does not burn its idempotency key")

		f.transition(finalizeParams(c.ID, a.ID))
		before = f.snapshot(c.ID)
		_, _, _, err = f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: f.text(c.ID, agent, "late", "k2"), States: openStates})
		require.ErrorIs(t, err, attendance.ErrInvalidTransition, "finalized is not open")
		f.requireUnchanged(before)

		// A system note may be allowed on a closed conversation.
		note := sysMsg(attendance.EventFinalized, a.ID, at(20))
		note.ConversationID = c.ID
		got, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: note, States: []attendance.State{attendance.StateFinalized},
		})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, before.conv.LastSeq+1, got.Seq)
	})

	s.run(t, "AppendErrors", func(t *testing.T, f *fixture) {
		_, _, _, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{
			Message: f.text(newID("conv"), attendance.BeneficiaryPrincipal("b"), "x", ""), States: openStates,
		})
		require.ErrorIs(t, err, attendance.ErrNotFound, "unknown conversation")

		c := f.conversation()
		ben := attendance.BeneficiaryPrincipal(c.BeneficiaryID)
		before := f.snapshot(c.ID)
		cases := map[string]func(*attendance.AppendMessageParams){
			"empty ConversationID": func(p *attendance.AppendMessageParams) { p.Message.ConversationID = "" },
			"empty ID":             func(p *attendance.AppendMessageParams) { p.Message.ID = "" },
			"empty Kind":           func(p *attendance.AppendMessageParams) { p.Message.Kind = "" },
			"unknown Kind":         func(p *attendance.AppendMessageParams) { p.Message.Kind = "sticker" },
			"empty Sender":         func(p *attendance.AppendMessageParams) { p.Message.Sender = attendance.Principal{} },
			"zero CreatedAt":       func(p *attendance.AppendMessageParams) { p.Message.CreatedAt = time.Time{} },
			"empty States":         func(p *attendance.AppendMessageParams) { p.States = nil },
			"unknown state":        func(p *attendance.AppendMessageParams) { p.States = []attendance.State{"waiting"} },
		}
		for name, mod := range cases {
			p := attendance.AppendMessageParams{Message: f.text(c.ID, ben, "x", ""), States: openStates}
			mod(&p)
			_, _, _, err := f.s.AppendMessage(f.ctx, p)
			require.ErrorIs(t, err, attendance.ErrInvalidArgument, name)
			f.requireUnchanged(before)
		}
	})

	s.run(t, "ListAfterSeqAndLimit", func(t *testing.T, f *fixture) {
		c := f.conversation()
		ben := attendance.BeneficiaryPrincipal(c.BeneficiaryID)
		for range 9 {
			_, _, _, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: f.text(c.ID, ben, "x", ""), States: openStates})
			require.NoError(t, err)
		}
		list := func(after int64, limit int) []int64 {
			t.Helper()
			ms, err := f.s.ListMessages(f.ctx, attendance.ListMessagesFilter{ConversationID: c.ID, AfterSeq: after, Limit: limit})
			require.NoError(t, err)
			for _, m := range ms {
				require.Equal(t, c.ID, m.ConversationID)
			}
			return seqs(ms)
		}
		require.Equal(t, seqRange(1, 10), list(0, 0))
		require.Equal(t, seqRange(4, 10), list(3, 0))
		require.Equal(t, seqRange(1, 2), list(0, 2))
		require.Equal(t, seqRange(4, 7), list(3, 4))
		require.Equal(t, seqRange(9, 10), list(8, 5))
		require.Equal(t, seqRange(10, 10), list(9, 0))
		require.Empty(t, list(10, 0))
		require.Empty(t, list(50, 3))

		_, err := f.s.ListMessages(f.ctx, attendance.ListMessagesFilter{ConversationID: newID("conv")})
		require.ErrorIs(t, err, attendance.ErrNotFound)
		_, err = f.s.ListMessages(f.ctx, attendance.ListMessagesFilter{ConversationID: c.ID, AfterSeq: -1})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument)
		_, err = f.s.ListMessages(f.ctx, attendance.ListMessagesFilter{ConversationID: c.ID, Limit: -1})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	})

	s.run(t, "ReturnsCopies", func(t *testing.T, f *fixture) {
		c := f.conversation()
		m := f.text(c.ID, attendance.BeneficiaryPrincipal(c.BeneficiaryID), "", "")
		m.Kind = attendance.KindAttachment
		m.Attachment = &attendance.Attachment{BlobID: "blob-1", Name: "a.pdf", ContentType: "application/pdf", Size: 10}
		got, _, _, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: m, States: openStates})
		require.NoError(t, err)
		m.Attachment.Name = "mutated params"
		got.Attachment.Name = "mutated result"
		listed := f.messages(c.ID)
		require.Equal(t, "a.pdf", listed[1].Attachment.Name)
		listed[1].Attachment.Name = "mutated list"
		listed[0].Event.Type = "mutated"
		again := f.messages(c.ID)
		require.Equal(t, "a.pdf", again[1].Attachment.Name)
		require.Equal(t, attendance.EventOpened, again[0].Event.Type)
	})

	s.run(t, "MarkRead", func(t *testing.T, f *fixture) {
		c := f.conversation()
		ben := attendance.BeneficiaryPrincipal(c.BeneficiaryID)
		agent := attendance.AgentPrincipal(newID("agent"))
		for range 5 {
			_, _, _, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: f.text(c.ID, ben, "x", ""), States: openStates})
			require.NoError(t, err)
		}
		marks, err := f.s.ReadMarks(f.ctx, c.ID)
		require.NoError(t, err)
		require.Empty(t, marks)

		mark := func(p attendance.Principal, seq int64, sec int) attendance.ReadMark {
			t.Helper()
			m, err := f.s.MarkRead(f.ctx, attendance.MarkReadParams{ConversationID: c.ID, Participant: p, Seq: seq, At: at(sec)})
			require.NoError(t, err)
			require.Equal(t, c.ID, m.ConversationID)
			require.Equal(t, p, m.Participant)
			return m
		}
		got := mark(agent, 3, 10)
		require.Equal(t, int64(3), got.Seq)
		requireTime(t, at(10), got.At, "At")

		// Lower and equal marks change nothing.
		got = mark(agent, 2, 11)
		require.Equal(t, int64(3), got.Seq)
		requireTime(t, at(10), got.At, "At after a lower mark")
		got = mark(agent, 3, 12)
		require.Equal(t, int64(3), got.Seq)
		requireTime(t, at(10), got.At, "At after an equal mark")

		got = mark(agent, 6, 13)
		require.Equal(t, int64(6), got.Seq)
		requireTime(t, at(13), got.At, "At after a raise")
		mark(ben, 1, 14)

		// Above LastSeq is refused and changes nothing.
		_, err = f.s.MarkRead(f.ctx, attendance.MarkReadParams{ConversationID: c.ID, Participant: agent, Seq: 7, At: at(15)})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument)
		_, err = f.s.MarkRead(f.ctx, attendance.MarkReadParams{ConversationID: c.ID, Participant: ben, Seq: -1, At: at(15)})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument)
		_, err = f.s.MarkRead(f.ctx, attendance.MarkReadParams{ConversationID: c.ID, Seq: 1, At: at(15)})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument, "empty participant")
		_, err = f.s.MarkRead(f.ctx, attendance.MarkReadParams{ConversationID: newID("conv"), Participant: agent, Seq: 1, At: at(15)})
		require.ErrorIs(t, err, attendance.ErrNotFound)

		marks, err = f.s.ReadMarks(f.ctx, c.ID)
		require.NoError(t, err)
		require.Len(t, marks, 2)
		byParticipant := map[attendance.Principal]attendance.ReadMark{}
		for _, m := range marks {
			require.Equal(t, c.ID, m.ConversationID)
			byParticipant[m.Participant] = m
		}
		require.Equal(t, int64(6), byParticipant[agent].Seq)
		requireTime(t, at(13), byParticipant[agent].At, "agent's mark")
		require.Equal(t, int64(1), byParticipant[ben].Seq)
		requireTime(t, at(14), byParticipant[ben].At, "beneficiary's mark")

		// Marks are per conversation.
		d := f.conversation()
		marks, err = f.s.ReadMarks(f.ctx, d.ID)
		require.NoError(t, err)
		require.Empty(t, marks)
		_, err = f.s.ReadMarks(f.ctx, newID("conv"))
		require.ErrorIs(t, err, attendance.ErrNotFound)
	})
}
