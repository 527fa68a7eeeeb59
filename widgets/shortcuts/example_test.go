package shortcuts_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets/shortcuts"
)

func Example() {
	cat, err := shortcuts.Parse([]byte(`{"sets": {"default": [
		{"trigger": "ola", "title": "Saudação", "text": "{{greeting}}, {{beneficiary_first_name}}! Sou {{agent_first_name}}."},
		{"trigger": "protocolo", "title": "Protocolo", "text": "Seu protocolo é {{protocol}}."}
	]}}`))
	if err != nil {
		panic(err)
	}
	profile := attendance.Profile{} // empty Shortcuts: the "default" set
	found, _ := cat.Search(shortcuts.SetFor(profile), "/pro")
	for _, s := range found {
		text, err := s.Render(shortcuts.Vars{Protocol: "20260310000123"})
		fmt.Println(s.Trigger, "->", text, err)
	}
	text, _ := cat.Render("default", "ola", shortcuts.Vars{
		BeneficiaryName: "Maria Souza", AgentName: "Ana Lima",
		Now: time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC),
	})
	fmt.Println(text)
	// Output:
	// protocolo -> Seu protocolo é 20260310000123. <nil>
	// Boa tarde, Maria! Sou Ana.
}

func ExampleParse_unknownVariable() {
	_, err := shortcuts.Parse([]byte(`{"sets": {"default": [
		{"trigger": "ola", "title": "Saudação", "text": "Olá {{nome}}"}
	]}}`))
	fmt.Println(errors.Is(err, shortcuts.ErrUnknownVariable))
	// Output: true
}
