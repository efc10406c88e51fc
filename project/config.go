package project

// The Go shape of .aicage.toml. Scalars that a later layer may override are
// pointers, so that "not written" and "written as false/empty" differ.

// Config is one decoded .aicage.toml.
type Config struct {
	File    string `toml:"-"` // absolute path of the file
	Profile string `toml:"profile"`
	Shell   string `toml:"shell"`
	Sections
	Commands map[string]*Command    `toml:"commands"`
	Profiles map[string]*ProfileDef `toml:"profiles"`
	// Credentials are kept outside the cage and injected on the way out.
	Credentials map[string]*Credential `toml:"credentials"`

	pos *positions // where each key and value was written
}

// Sections are the tables that may appear at the top level, under
// [commands.NAME] and under [profiles.NAME] (and in a user profile file).
type Sections struct {
	Filesystem Filesystem `toml:"filesystem"`
	Home       Home       `toml:"home"`
	Network    Network    `toml:"network"`
	Env        Env        `toml:"env"`
	SSH        SSH        `toml:"ssh"`
	Exec       Exec       `toml:"exec"`
	Protect    Protect    `toml:"protect"`
	Lifecycle  Lifecycle  `toml:"lifecycle"`
}

// Filesystem is [filesystem]: paths granted with the given rights. "~" and
// "$ORIG_HOME" mean the real home; relative paths are relative to the root.
type Filesystem struct {
	RO               []string `toml:"ro"`
	ROX              []string `toml:"rox"`
	RW               []string `toml:"rw"`
	RWX              []string `toml:"rwx"`
	DangerouslyAllow []string `toml:"dangerously_allow"`
	// Hardlinks says what to do with files in the writable trees that have
	// names outside them: "refuse" (the default), "break" or "allow".
	Hardlinks *string `toml:"hardlinks"`
}

// Home is [home]: what of the real home appears in the private one.
type Home struct {
	Copy []string `toml:"copy"`
	Link []string `toml:"link"`
}

// Network is [network].
type Network struct {
	Connect []int    `toml:"connect"`
	Bind    []int    `toml:"bind"`
	UDP     *string  `toml:"udp"`
	Hosts   []string `toml:"hosts"`   // loopback, LAN and link-local addresses the broker lets through
	Unix    []string `toml:"unix"`    // unix sockets outside the cage's own directories
	Domains []string `toml:"domains"` // host names the egress proxy lets through
	Egress  *string  `toml:"egress"`  // "direct" | "proxy"
}

// Env is [env].
type Env struct {
	Pass  []string          `toml:"pass"`
	Set   map[string]string `toml:"set"`
	Files []string          `toml:"files"`
}

// SSH is [ssh].
type SSH struct {
	Agent *bool `toml:"agent"`
}

// Exec is [exec].
type Exec struct {
	Packages []string `toml:"packages"`
	System   *bool    `toml:"system"`
}

// Protect is [protect].
type Protect struct {
	Paths []string `toml:"paths"`
}

// Lifecycle is [lifecycle].
type Lifecycle struct {
	OnCreate *string `toml:"on_create"`
	OnEnter  *string `toml:"on_enter"`
}

// Credential is [credentials.NAME]: an API key that never enters the cage.
// The supervisor serves a local endpoint for Upstream; BaseURLEnv points the
// cage at it, KeyEnv holds a placeholder, and the endpoint puts the real
// secret (read from Source outside the cage) into Header.
type Credential struct {
	Source      string `toml:"source"`       // "env:NAME", "file:PATH", "command:CMD"
	Upstream    string `toml:"upstream"`     // "https://api.anthropic.com"
	UpstreamEnv string `toml:"upstream_env"` // an outside variable that, when set, is the upstream (a gateway)
	Header      string `toml:"header"`       // "x-api-key: {}", "Authorization: Bearer {}"
	BaseURLEnv  string `toml:"base_url_env"` // the variable the cage gets the endpoint in
	KeyEnv      string `toml:"key_env"`      // the variable the cage gets the placeholder in
}

// Command is [commands.NAME].
type Command struct {
	Argv        []string `toml:"argv"`
	Description string   `toml:"description"`
	Sections
}

// ProfileDef is [profiles.NAME], or the whole of a user profile file.
type ProfileDef struct {
	Extends string `toml:"extends"`
	Sections
}
