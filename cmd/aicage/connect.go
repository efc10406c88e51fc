package main

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "connect",
		Usage:     "tunnel stdin and stdout to HOST PORT through the cage's egress proxy (ssh's ProxyCommand)",
		ArgsUsage: "HOST PORT",
		Description: "Inside a cage with egress = \"proxy\", git and ssh reach allowed hosts with\n" +
			"  ssh -o ProxyCommand='aicage connect %h %p' HOST\n" +
			"(the cage sets GIT_SSH_COMMAND to that).",
		Action: connectAction,
	})
}

func connectAction(c *cli.Context) error {
	if c.NArg() != 2 {
		return fail(errors.New("connect needs HOST and PORT"), "use it as ssh's ProxyCommand: ssh -o ProxyCommand='aicage connect %h %p' HOST")
	}
	raw := os.Getenv("AICAGE_PROXY")
	if raw == "" {
		return fail(errors.New("no egress proxy here: AICAGE_PROXY is not set"),
			`'aicage connect' works inside a cage whose .aicage.toml says [network] egress = "proxy"`)
	}
	pu, err := url.Parse(raw)
	if err != nil || pu.Host == "" {
		return fail(fmt.Errorf("AICAGE_PROXY is not a proxy URL"))
	}
	target := net.JoinHostPort(c.Args().Get(0), c.Args().Get(1))
	conn, err := net.Dial("tcp", pu.Host)
	if err != nil {
		return fail(fmt.Errorf("reaching the egress proxy: %w", err))
	}
	defer conn.Close()
	auth := ""
	if pu.User != nil {
		pw, _ := pu.User.Password()
		auth = "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(pu.User.Username()+":"+pw)) + "\r\n"
	}
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", target, target, auth)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return fail(fmt.Errorf("the egress proxy: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(b)), "aicage: "))
		return fail(fmt.Errorf("%s", msg), "add the host to [network] domains of .aicage.toml (outside the cage) and trust it again")
	}
	go func() {
		io.Copy(conn, os.Stdin)
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	// Done when the far end is: ssh closes its side first and then reads
	// what is left.
	io.Copy(os.Stdout, br)
	return nil
}
