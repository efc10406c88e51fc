package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unprivEnv marks the re-run as the unprivileged user.
const unprivEnv = "AICAGE_E2E_UNPRIVILEGED"

// TestScriptsUnprivileged runs every script again as uid/gid 65534 when the
// suite runs as root: the containment claims must hold for the users aicage
// is made for, not only for root.
func TestScriptsUnprivileged(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("already unprivileged: TestScripts covers it")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv is not installed (util-linux)")
	}
	shared, err := os.MkdirTemp(workBase, "aicage-e2e-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shared)
	if err := os.Chmod(shared, 0o1777); err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(shared, "e2e.test")
	if err := copyFile(os.Args[0], self); err != nil {
		t.Fatal(err)
	}
	if err := copyTree("testdata", filepath.Join(shared, "testdata")); err != nil {
		t.Fatal(err)
	}
	args := []string{"--reuid=65534", "--regid=65534", "--clear-groups", self, "-test.run=^TestScripts$"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(setpriv, args...)
	cmd.Dir = shared
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + shared,
		binDirEnv + "=" + binDir,
		unprivEnv + "=1",
	}
	out, err := cmd.CombinedOutput()
	t.Logf("as uid 65534:\n%s", strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("the scripts failed as uid 65534: %v", err)
	}
}

func copyTree(from, to string) error {
	return filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		return copyFile(p, dst)
	})
}
