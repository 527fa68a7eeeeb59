// Package widgets is the integrator surface of the agent panel: the widget
// Provider interface, the registry filtered by agent profile, and the
// concurrent, cached, isolated fetch of every widget for a conversation.
package widgets
