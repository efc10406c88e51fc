package e2e

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	commands["listen-tls"] = cmdListenTLS
}

// listen-tls VAR FILE: an HTTPS server on loopback (httptest's certificate,
// for example.com and 127.0.0.1), playing a model provider. It appends each
// request to FILE as "x-api-key: …", "authorization: …" and "body: …"
// lines, and answers with a small JSON text. Sets $VAR to host:port,
// ${VAR}_PORT, and ${VAR}_CA to a PEM file of its certificate.
func cmdListenTLS(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: listen-tls VAR FILE")
	}
	name, file := args[0], ts.MkAbs(args[1])
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
	var mu sync.Mutex
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			fmt.Fprintf(f, "path: %s\nx-api-key: %s\nauthorization: %s\nbody: %s\n",
				r.URL.Path, r.Header.Get("X-Api-Key"), r.Header.Get("Authorization"), strings.ReplaceAll(string(body), "\n", "\\n"))
			f.Close()
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"type":"message","content":[{"type":"text","text":"mock-ok"}]}`+"\n")
	}))
	ts.Defer(srv.Close)
	ca := ts.MkAbs(name + ".pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Setenv(name+"_CA", ca)
	setAddr(ts, name, strings.TrimPrefix(srv.URL, "https://"))
}
