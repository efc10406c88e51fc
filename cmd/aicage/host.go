package main

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/aicage/aicage/cage"
	"github.com/aicage/aicage/cage/seccomp"
)

// testOnlyABIEnv fakes the kernel's Landlock ABI for the end-to-end tests. It
// can only lower what aicage uses, and a lower ABI makes aicage refuse to
// start unless --best-effort, which prints every dropped protection.
const testOnlyABIEnv = "AICAGE_TESTONLY_ABI"

// testOnlyArchEnv makes the seccomp filter believe it runs on another
// architecture, for the tests of the refusal; it can only make aicage refuse.
const testOnlyArchEnv = "AICAGE_TESTONLY_ARCH"

// testOnlyResolvConfEnv names another resolv.conf whose nameservers udp =
// "dns" allows, so that the tests can play the resolver on loopback.
const testOnlyResolvConfEnv = "AICAGE_TESTONLY_RESOLV_CONF"

func init() {
	if a := os.Getenv(testOnlyArchEnv); a != "" {
		seccomp.SetTestOnlyArch(a)
	}
}

// realHome is $HOME as aicage finds it, else the passwd entry.
func realHome() string {
	if h := os.Getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Clean(h)
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	return "/"
}

// xdgDir is $name, else home/fallback.
func xdgDir(name, home, fallback string) string {
	if d := os.Getenv(name); filepath.IsAbs(d) {
		return filepath.Clean(d)
	}
	return filepath.Join(home, fallback)
}

func kernelABI() int {
	abi := cage.KernelABI()
	if v := os.Getenv(testOnlyABIEnv); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < abi {
			abi = n
		}
	}
	return abi
}

// currentHost gathers the facts cage.Compile needs.
func currentHost() cage.Host {
	home := realHome()
	self, err := os.Executable()
	if err == nil {
		if r, err := filepath.EvalSymlinks(self); err == nil {
			self = r
		}
	}
	return cage.Host{
		Home:      home,
		Env:       os.Environ(),
		Self:      self,
		ABI:       kernelABI(),
		UID:       os.Getuid(),
		DataDir:   filepath.Join(xdgDir("XDG_DATA_HOME", home, ".local/share"), "aicage"),
		ConfigDir: filepath.Join(xdgDir("XDG_CONFIG_HOME", home, ".config"), "aicage"),
		StateDir:  filepath.Join(xdgDir("XDG_STATE_HOME", home, ".local/state"), "aicage"),
		FS:        cage.OSFS{},

		ResolvConf: os.Getenv(testOnlyResolvConfEnv),
	}
}
