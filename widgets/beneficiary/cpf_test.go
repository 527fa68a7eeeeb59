package beneficiary_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/widgets/beneficiary"
)

// fakeCPF is invented; its check digits are computed, it belongs to no one
// we know of.
const fakeCPF = "38715492079"

func TestParseCPF(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"387.154.920-79", "38715492079", "111.444.777-35"} {
		c, err := beneficiary.ParseCPF(s)
		require.NoError(t, err, s)
		require.True(t, c.Valid())
	}
	for _, s := range []string{"", "387.154.920-78", "387.154.920-7", "111.111.111-11", "387.154.920-7a", "000.000.000-00"} {
		_, err := beneficiary.ParseCPF(s)
		require.ErrorIs(t, err, beneficiary.ErrInvalidCPF, s)
		require.NotContains(t, err.Error(), "387", "the error does not echo the input")
	}
}

func TestCPFIsMaskedEverywhere(t *testing.T) {
	t.Parallel()
	c := beneficiary.CPF(fakeCPF)
	require.Equal(t, "***.154.920-**", c.Masked())
	require.Equal(t, "387.154.920-79", c.Reveal())
	for _, s := range []string{
		c.String(),
		fmt.Sprint(c), fmt.Sprintf("%v %s %q %x %d %#v %+v", c, c, c, c, c, c, c),
		fmt.Sprintf("%v", beneficiary.Beneficiary{CPF: c}),
		fmt.Sprintf("%+v", beneficiary.Beneficiary{CPF: c}),
		fmt.Sprintf("%#v", beneficiary.Beneficiary{CPF: c}),
	} {
		require.NotContains(t, s, "387", s)
		require.NotContains(t, s, "79", s)
	}
	b, err := json.Marshal(beneficiary.Beneficiary{ID: "x", CPF: c})
	require.NoError(t, err)
	require.Contains(t, string(b), `"cpf":"***.154.920-**"`)

	var logs bytes.Buffer
	noTime := func(_ []string, a slog.Attr) slog.Attr { // a timestamp may hold "387" by chance
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{ReplaceAttr: noTime})).Info("x", "cpf", c)
	require.Contains(t, logs.String(), "***.154.920-**")
	require.NotContains(t, logs.String(), "387")
	require.Equal(t, "***.***.***-**", beneficiary.CPF("123").Masked())
}
