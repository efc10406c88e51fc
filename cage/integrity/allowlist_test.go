//go:build linux

package integrity

import (
	"slices"
	"strings"
	"testing"
)

const baseConfig = `[core]
	repositoryformatversion = 0
	filemode = true
	bare = false
	logallrefupdates = true
[remote "origin"]
	url = /home/u/origin.git
	fetch = +refs/heads/*:refs/remotes/origin/*
[branch "main"]
	remote = origin
	merge = refs/heads/main
[alias]
	st = status
`

func mustParse(t *testing.T, s string) *gitConfig {
	t.Helper()
	cfg, err := parseGitConfig([]byte(s))
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return cfg
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name    string
		snap    string // baseConfig when empty
		cur     string // appended to the snapshot unless it starts with "="
		reasons []string
		keep    []string // entries ("name=value") the result must have
		drop    []string // entries it must not have
	}{
		{name: "fsmonitor added", cur: "[core]\n\tfsmonitor = /x/evil\n",
			reasons: []string{"forbidden key core.fsmonitor"}, drop: []string{"core.fsmonitor=/x/evil"}},
		{name: "case does not hide a key", cur: "[Core]\n\tFsMonitor = /x/evil\n",
			reasons: []string{"forbidden key core.fsmonitor"}},
		{name: "legacy subsection syntax", cur: "[filter.x]\n\tclean = evil\n",
			reasons: []string{"forbidden key filter.x.clean"}},
		{name: "several keys", cur: "[core]\n\thooksPath = h\n\tpager = p\n\tsshCommand = s\n[alias]\n\tx = !sh\n",
			reasons: []string{"forbidden keys alias.x, core.hookspath, core.pager, core.sshcommand"}},
		{name: "include", cur: "[include]\n\tpath = ../evil\n[includeIf \"onbranch:main\"]\n\tpath = ../evil\n",
			reasons: []string{"forbidden keys include.path, includeif.onbranch:main.path"}},
		{name: "uploadpack", cur: "[remote \"origin\"]\n\tuploadpack = evil\n",
			reasons: []string{"forbidden key remote.origin.uploadpack"}},
		{name: "insteadOf", cur: "[url \"/tmp/evil.git\"]\n\tinsteadOf = https://github.com/\n",
			reasons: []string{"forbidden key url./tmp/evil.git.insteadof"}},
		{name: "gc hook", cur: "[gc]\n\trecentObjectsHook = evil\n",
			reasons: []string{"forbidden key gc.recentobjectshook"}},
		{name: "worktree", cur: "[core]\n\tworktree = /home/u\n",
			reasons: []string{"forbidden key core.worktree"}},
		{name: "empty subsection is not the key", cur: "[core \"\"]\n\tfsmonitor = x\n",
			reasons: []string{"forbidden key core..fsmonitor"}},
		{name: "alias removed", cur: "=" + strings.Replace(baseConfig, "\tst = status\n", "", 1),
			reasons: []string{"forbidden key alias.st"}, keep: []string{"alias.st=status"}},
		{name: "alias changed", cur: "=" + strings.Replace(baseConfig, "st = status", "st = !evil", 1),
			reasons: []string{"forbidden key alias.st"}, keep: []string{"alias.st=status"}, drop: []string{"alias.st=!evil"}},
		{name: "user edits", cur: "[user]\n\temail = a@b.c\n\tname = A\n",
			keep: []string{"user.email=a@b.c"}},
		{name: "remote added", cur: "[remote \"up\"]\n\turl = https://example.com/u.git\n\tfetch = +refs/heads/*:refs/remotes/up/*\n",
			keep: []string{"remote.up.url=https://example.com/u.git"}},
		{name: "scp-like url", cur: "[remote \"up\"]\n\turl = git@github.com:a/b.git\n"},
		{name: "local url", cur: "[remote \"up\"]\n\turl = /tmp/evil.git\n",
			reasons: []string{"forbidden value of remote.up.url"}, drop: []string{"remote.up.url=/tmp/evil.git"}},
		{name: "file url", cur: "[remote \"up\"]\n\turl = file:///tmp/evil.git\n",
			reasons: []string{"forbidden value of remote.up.url"}},
		{name: "ext url", cur: "[remote \"up\"]\n\tpushurl = ext::sh -c evil\n",
			reasons: []string{"forbidden value of remote.up.pushurl"}},
		{name: "origin url changed to a path", cur: "=" + strings.Replace(baseConfig, "/home/u/origin.git", "../evil.git", 1),
			reasons: []string{"forbidden value of remote.origin.url"}, keep: []string{"remote.origin.url=/home/u/origin.git"}},
		{name: "remote renamed keeps its local url",
			cur: "=" + strings.NewReplacer(`"origin"`, `"upstream"`, "remote = origin", "remote = upstream",
				"remotes/origin", "remotes/upstream").Replace(baseConfig),
			keep: []string{"remote.upstream.url=/home/u/origin.git", "branch.main.remote=upstream"}},
		{name: "upstream set", cur: "[branch \"dev\"]\n\tremote = origin\n\tmerge = refs/heads/dev\n",
			keep: []string{"branch.dev.remote=origin"}},
		{name: "upstream to a path", cur: "[branch \"dev\"]\n\tremote = ../evil.git\n",
			reasons: []string{"forbidden value of branch.dev.remote"}},
		{name: "upstream to an unknown name", cur: "[branch \"dev\"]\n\tpushRemote = evil\n",
			reasons: []string{"forbidden value of branch.dev.pushremote"}},
		{name: "upstream to a remote added too",
			cur:  "[remote \"up\"]\n\turl = https://example.com/u\n[branch \"dev\"]\n\tremote = up\n",
			keep: []string{"branch.dev.remote=up"}},
		{name: "upstream to a remote whose url is refused",
			cur:     "[remote \"up\"]\n\turl = /tmp/evil\n[branch \"dev\"]\n\tremote = up\n",
			reasons: []string{"forbidden value of branch.dev.remote", "forbidden value of remote.up.url"}},
		{name: "submodule update command", cur: "[submodule \"s\"]\n\tupdate = !sh evil\n",
			reasons: []string{"forbidden value of submodule.s.update"}},
		{name: "submodule added", cur: "[submodule \"s\"]\n\turl = https://example.com/s.git\n\tactive = true\n\tupdate = rebase\n"},
		{name: "worktree config on", cur: "[extensions]\n\tworktreeConfig = true\n"},
		{name: "unknown extension", cur: "[extensions]\n\tevil = x\n",
			reasons: []string{"forbidden key extensions.evil"}},
		{name: "deleting a safety setting", snap: baseConfig + "[core]\n\thooksPath = /dev/null\n", cur: "=" + baseConfig,
			reasons: []string{"forbidden key core.hookspath"}, keep: []string{"core.hookspath=/dev/null"}},
		{name: "advice", cur: "[advice]\n\tdetachedHead = false\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := tt.snap
			if snap == "" {
				snap = baseConfig
			}
			cur := snap + tt.cur
			if strings.HasPrefix(tt.cur, "=") {
				cur = tt.cur[1:]
			}
			out, reasons := judge(mustParse(t, snap), mustParse(t, cur))
			if !slices.Equal(reasons, tt.reasons) {
				t.Errorf("reasons %q, want %q", reasons, tt.reasons)
			}
			if (out == nil) != (len(tt.reasons) == 0) {
				t.Fatalf("out = %v with reasons %q", out, reasons)
			}
			result := mustParse(t, cur)
			if out != nil {
				result = mustParse(t, string(out.format())) // what is written must parse
			}
			have := map[string]bool{}
			for _, e := range ourList(result) {
				have[strings.Replace(e, "\n", "=", 1)] = true
			}
			for _, k := range tt.keep {
				if !have[k] {
					t.Errorf("result lacks %s:\n%s", k, result.format())
				}
			}
			for _, k := range tt.drop {
				if have[k] {
					t.Errorf("result still has %s:\n%s", k, result.format())
				}
			}
			if out != nil {
				// The result, judged again, has nothing left to restore.
				if again, r := judge(mustParse(t, snap), result); again != nil {
					t.Errorf("result judged again: %q", r)
				}
			}
		})
	}
}

func TestIsNetworkURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://github.com/a/b.git":   true,
		"http://example.com/r":         true,
		"ssh://git@example.com/r.git":  true,
		"git://example.com/r":          true,
		"git@github.com:a/b.git":       true,
		"example.com:r.git":            true,
		"HTTPS://example.com/r":        true,
		"/tmp/evil.git":                false,
		"../evil.git":                  false,
		"evil.git":                     false,
		"./x:y":                        false,
		"file:///tmp/evil.git":         false,
		"ext::sh -c touch% /tmp/m":     false,
		"fd::17":                       false,
		"evil::https://example.com/":   false,
		"evil://example.com/r":         false,
		"ssh://-oProxyCommand=evil/r":  false,
		"ssh://user@-oProxyCommand=x/": false,
		"-oProxyCommand=x:r":           false,
		"[::1]:r":                      false,
		"https://example.com/\nx":      false,
		"":                             false,
	} {
		if got := isNetworkURL(u); got != want {
			t.Errorf("isNetworkURL(%q) = %v, want %v", u, got, want)
		}
	}
}
