// Package shortcuts loads the canned replies (atalhos) agents insert by
// typing "/" and a trigger, as set up in the public configurator, and renders
// them with the conversation's variables.
//
// The configuration is a JSON file of named sets; an agent profile names its
// set in attendance.Profile.Shortcuts (empty means [DefaultSet]):
//
//	{
//	  "sets": {
//	    "default": [
//	      {"trigger": "ola", "title": "Saudação",
//	       "text": "{{greeting}}, {{beneficiary_first_name}}! Sou {{agent_first_name}}, como posso ajudar?"},
//	      {"trigger": "protocolo", "title": "Número de protocolo",
//	       "text": "O protocolo deste atendimento é {{protocol}}."}
//	    ]
//	  }
//	}
//
// A text may use the placeholders listed in [Variables]. Everything is
// checked when the file is loaded: JSON syntax (a key given twice in one
// object, which would silently replace the first, included), unknown
// fields, triggers (1-32 of a-z 0-9 _ -, unique in a set), limits, template
// syntax and every variable name. An unknown variable is a load-time error,
// never a blank in a message to a beneficiary; and at render time a
// variable whose value is empty is [ErrMissingValue] rather than a blank.
// Values are inserted as one line of plain text, without control or
// Unicode format characters, and at most [MaxValueBytes] long (see [Vars]).
// A [Shortcut] that did not come from the catalog (decoded from the JSON the
// panel was sent, or built by hand) is checked and compiled when rendered.
//
// # Concurrency
//
// A [Catalog] is immutable and safe for concurrent use. A [Holder] swaps
// catalogs atomically, and only for a file that is valid as a whole.
//
// # Errors
//
// Loading returns every problem at once, joined; each is a *[ConfigError]
// matching [ErrSyntax], [ErrUnknownVariable] or [ErrInvalid] and saying
// where. Lookups return [ErrUnknownSet] and [ErrUnknownShortcut]; rendering
// [ErrMissingValue] and [ErrValueTooLong], and, for a Shortcut that did not
// come from the catalog, the *ConfigError its text would have had in a file.
package shortcuts
