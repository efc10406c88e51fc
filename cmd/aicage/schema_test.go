package main

import (
	"bytes"
	"errors"
	"testing"

	"github.com/aicage/aicage/docs/schema"
)

func TestSchemaCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "config"},
		{[]string{"config"}, "config"},
		{[]string{"status"}, "status"},
		{[]string{"doctor"}, "doctor"},
	} {
		var out bytes.Buffer
		app := newApp()
		app.Writer = &out
		if err := app.Run(append([]string{"aicage", "schema"}, tc.args...)); err != nil {
			t.Fatalf("schema %q: %v", tc.args, err)
		}
		want, _ := schema.Get(tc.want)
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("schema %q printed %.40q…, want the %s schema", tc.args, out.String(), tc.want)
		}
	}
	for _, args := range [][]string{{"stauts"}, {"config", "status"}} {
		app := newApp()
		app.Writer = &bytes.Buffer{}
		err := app.Run(append([]string{"aicage", "schema"}, args...))
		var e *exitError
		if !errors.As(err, &e) || e.code != exitSetup || len(e.hints) == 0 {
			t.Errorf("schema %q = %v, want a failure with a hint", args, err)
		}
	}
}
