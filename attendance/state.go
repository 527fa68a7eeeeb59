package attendance

import "fmt"

// State is where a conversation is in its life. The legal moves between
// states live in one table, [CanTransition].
type State string

const (
	// StateQueued: waiting in a queue for an agent, ordered by priority and
	// then by original arrival.
	StateQueued State = "queued"
	// StateOffered: reserved for exactly one agent (it sits in that agent's
	// Mini Fila) until the agent accepts, declines or the offer expires.
	StateOffered State = "offered"
	// StateActive: in service (Em Atendimento); messages flow both ways.
	StateActive State = "active"
	// StateFinalized: closed by an agent with a reason. Terminal.
	StateFinalized State = "finalized"
	// StateAbandoned: the beneficiary left before being served. Terminal.
	StateAbandoned State = "abandoned"
)

// transitions is the one table of legal moves. A move not listed here is
// refused with ErrInvalidTransition.
var transitions = map[State][]State{
	StateQueued:  {StateOffered, StateActive, StateAbandoned, StateQueued},
	StateOffered: {StateActive, StateQueued, StateAbandoned},
	StateActive:  {StateQueued, StateOffered, StateFinalized},
}

// CanTransition reports whether a conversation may move from one state to
// another. queued -> queued is a transfer between queues of a waiting
// conversation; queued -> active is an automatic accept.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	switch s {
	case StateQueued, StateOffered, StateActive, StateFinalized, StateAbandoned:
		return true
	}
	return false
}

// Terminal reports whether no move leaves s.
func (s State) Terminal() bool { return s == StateFinalized || s == StateAbandoned }

// Open reports whether the conversation still waits or is in service.
func (s State) Open() bool { return s.Valid() && !s.Terminal() }

// HoldsAgent reports whether a conversation in this state counts toward its
// agent's load (offered or active).
func (s State) HoldsAgent() bool { return s == StateOffered || s == StateActive }

// checkTransition returns an error matching ErrInvalidTransition that names
// both ends when the move is illegal.
func checkTransition(from, to State) error {
	if CanTransition(from, to) {
		return nil
	}
	return &TransitionError{From: from, To: to}
}

// TransitionError is an illegal move; errors.Is(err, ErrInvalidTransition)
// holds for it.
type TransitionError struct {
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("attendance: invalid transition from %s to %s", e.From, e.To)
}

// Is makes errors.Is(err, ErrInvalidTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }
