package widgets_test

import (
	"encoding/json"
	"io"
	"testing"

	"github.com/mosiachat/mosiachat/widgets"
)

// FuzzResult decodes arbitrary JSON as a Result: Validate must never panic,
// and a result it accepts must render and encode.
func FuzzResult(f *testing.F) {
	f.Add([]byte(`{"title":"x","fields":[{"label":"Total","value":{"kind":"money","centavos":123}}]}`))
	f.Add([]byte(`{"tables":[{"columns":[{"label":"D","kind":"date"}],"rows":[[{"kind":"date","date":"2026-02-30"}],[{}]]}]}`))
	f.Add([]byte(`{"links":[{"label":"x","url":"javascript:alert(1)"}],"documents":[{"title":"t","url":"/a","size":-1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r widgets.Result
		if json.Unmarshal(data, &r) != nil {
			return
		}
		if r.Validate() != nil {
			return
		}
		if err := widgets.WriteText(io.Discard, []widgets.WidgetResult{{WidgetID: "w", Title: "W", Result: r}}); err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(widgets.WidgetResult{WidgetID: "w", Title: "W", Result: r}); err != nil {
			t.Fatal(err)
		}
	})
}
