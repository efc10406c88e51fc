package cage

import (
	"path/filepath"
	"sort"
	"strings"
)

// keptEnv are the outside variables the cage keeps; the environment
// otherwise starts empty, so tokens in the user's shell stay outside.
var keptEnv = []string{"PATH", "TERM", "COLORTERM", "LANG", "TZ", "USER", "LOGNAME", "SHELL"}

func (c *compiler) env() {
	vars := map[string]string{}
	for _, kv := range c.host.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if strings.HasPrefix(k, "LC_") || contains(keptEnv, k) {
			vars[k] = v
		}
	}
	if vars["PATH"] == "" {
		vars["PATH"] = defaultPath
	}
	for _, e := range c.spec.Env {
		vars[e.Name] = e.Value
	}
	vars["PATH"] = c.packagePath(vars["PATH"]) // [exec] packages' bin/ first
	home := c.p.Home
	vars["HOME"] = home
	vars["TMPDIR"] = c.p.TmpDir
	vars["XDG_CONFIG_HOME"] = filepath.Join(home, ".config")
	vars["XDG_CACHE_HOME"] = filepath.Join(home, ".cache")
	vars["XDG_DATA_HOME"] = filepath.Join(home, ".local/share")
	vars["XDG_STATE_HOME"] = filepath.Join(home, ".local/state")
	vars["AICAGE"] = "1"
	vars["AICAGE_ROOT"] = c.p.Root
	vars["AICAGE_PROFILE"] = c.p.Profile
	delete(vars, "SSH_AUTH_SOCK")
	if sock := getenv(c.host.Env, "SSH_AUTH_SOCK"); c.spec.SSHAgent && sock != "" {
		vars["SSH_AUTH_SOCK"] = sock
		c.grantSocket(sock)
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.p.Env = append(c.p.Env, k+"="+vars[k])
	}
}

// grantSocket lets the cage connect to the ssh-agent socket; below Landlock
// ABI 9 pathname sockets are not restricted at all, so the rule only matters
// on newer kernels.
func (c *compiler) grantSocket(sock string) {
	r, fi, err := c.resolve(sock)
	if err != nil {
		c.skip(sock, "ssh agent socket does not exist", "ssh.agent")
		return
	}
	c.add(Rule{Path: r, Access: RW, Dir: fi.IsDir(), Source: "ssh.agent"})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
