package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
)

// Open starts a conversation on a subject (beneficiaries).
func (c *Client) Open(ctx context.Context, subjectID string) (attendance.Conversation, error) {
	var conv attendance.Conversation
	err := c.Do(ctx, transport.CmdOpen, transport.OpenParams{SubjectID: subjectID}, &conv)
	return conv, err
}

// Send sends a text message. It sets an idempotency key when p has none, so
// the send is repeated safely across reconnections and never doubles.
func (c *Client) Send(ctx context.Context, p transport.SendParams) (attendance.Message, error) {
	if p.IdempotencyKey == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		p.IdempotencyKey = hex.EncodeToString(b[:])
	}
	var m attendance.Message
	err := c.Do(ctx, transport.CmdSend, p, &m)
	return m, err
}

// SendText sends body to a conversation.
func (c *Client) SendText(ctx context.Context, conversationID, body string) (attendance.Message, error) {
	return c.Send(ctx, transport.SendParams{ConversationID: conversationID, Body: body})
}

func (c *Client) convCmd(ctx context.Context, typ, id string) (attendance.Conversation, error) {
	var conv attendance.Conversation
	err := c.Do(ctx, typ, transport.ConversationParams{ConversationID: id}, &conv)
	return conv, err
}

// Accept takes an offered conversation (agents).
func (c *Client) Accept(ctx context.Context, conversationID string) (attendance.Conversation, error) {
	return c.convCmd(ctx, transport.CmdAccept, conversationID)
}

// Decline passes on an offer (agents).
func (c *Client) Decline(ctx context.Context, conversationID string) (attendance.Conversation, error) {
	return c.convCmd(ctx, transport.CmdDecline, conversationID)
}

// Leave gives up a waiting conversation (beneficiaries).
func (c *Client) Leave(ctx context.Context, conversationID string) (attendance.Conversation, error) {
	return c.convCmd(ctx, transport.CmdLeave, conversationID)
}

// Transfer hands an active conversation to a queue or an agent.
func (c *Client) Transfer(ctx context.Context, p transport.TransferParams) (attendance.Conversation, error) {
	var conv attendance.Conversation
	err := c.Do(ctx, transport.CmdTransfer, p, &conv)
	return conv, err
}

// Finalize closes an active conversation with a configured reason.
func (c *Client) Finalize(ctx context.Context, p transport.FinalizeParams) (attendance.Conversation, error) {
	var conv attendance.Conversation
	err := c.Do(ctx, transport.CmdFinalize, p, &conv)
	return conv, err
}

// SetPresence changes the agent's presence.
func (c *Client) SetPresence(ctx context.Context, p attendance.Presence) (attendance.Agent, error) {
	var a attendance.Agent
	err := c.Do(ctx, transport.CmdPresence, transport.PresenceParams{Presence: p}, &a)
	return a, err
}

// MarkRead records that the conversation was read up to seq.
func (c *Client) MarkRead(ctx context.Context, conversationID string, seq int64) (attendance.ReadMark, error) {
	var m attendance.ReadMark
	err := c.Do(ctx, transport.CmdRead, transport.ReadParams{ConversationID: conversationID, Seq: seq}, &m)
	return m, err
}

// Typing tells the other participants the user is (or stopped) typing.
func (c *Client) Typing(ctx context.Context, conversationID string, active bool) error {
	return c.Do(ctx, transport.CmdTyping, transport.TypingParams{ConversationID: conversationID, Active: active}, nil)
}

// History reads messages after afterSeq, at most limit (0: server's cap).
func (c *Client) History(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]attendance.Message, error) {
	var r transport.HistoryResult
	err := c.Do(ctx, transport.CmdHistory, transport.HistoryParams{ConversationID: conversationID, AfterSeq: afterSeq, Limit: limit}, &r)
	return r.Messages, err
}

// QueueStatus returns a waiting conversation's position and estimate.
func (c *Client) QueueStatus(ctx context.Context, conversationID string) (transport.QueueInfo, error) {
	var q transport.QueueInfo
	err := c.Do(ctx, transport.CmdQueueStatus, transport.ConversationParams{ConversationID: conversationID}, &q)
	return q, err
}

// Watch starts streaming a conversation the principal may read, from
// afterSeq (supervisors following a chat).
func (c *Client) Watch(ctx context.Context, conversationID string, afterSeq int64) (attendance.Conversation, error) {
	c.mu.Lock()
	_, known := c.cursors[conversationID]
	if !known {
		c.cursors[conversationID] = afterSeq
	}
	c.mu.Unlock()
	var conv attendance.Conversation
	err := c.Do(ctx, transport.CmdWatch, transport.WatchParams{ConversationID: conversationID, AfterSeq: afterSeq}, &conv)
	if err != nil && !known {
		// Not watched after all: a cursor the server refused would make
		// the next hello fail.
		c.mu.Lock()
		if c.cursors[conversationID] == afterSeq {
			delete(c.cursors, conversationID)
		}
		c.mu.Unlock()
	}
	return conv, err
}

// Conversations lists what the principal may see.
func (c *Client) Conversations(ctx context.Context, states ...attendance.State) ([]attendance.Conversation, error) {
	var r transport.ConversationsResult
	err := c.Do(ctx, transport.CmdConversations, transport.ConversationsParams{States: states}, &r)
	return r.Conversations, err
}

// Ping asks the server for a reply, measuring the round trip.
func (c *Client) Ping(ctx context.Context) error {
	return c.Do(ctx, transport.CmdPing, struct{}{}, nil)
}
