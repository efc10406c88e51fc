# aicage shell hook for fish: aicage hook fish | source, in
# ~/.config/fish/config.fish.
#
# Outside a cage (the outer half): at each prompt, when $PWD changed or
# the trust store's stamp did (every 'aicage allow', 'deny' or 'edit'
# rewrites it), one call of 'aicage hook decide' says what to do; it
# prints fish code that only ever sets __aicage_skip or calls
# __aicage_enter. Otherwise no process is started: the stamp is read with
# the read builtin.
#
# In a shell that the hook started in a cage (the inner half, sourced by
# the --init-command aicage gives it): when $PWD leaves the project, write
# where to go for the outer shell and exit.

# The aicage binary; 'aicage hook fish' replaces this line with its own
# path, quoted.
set -g __aicage_bin aicage
# The trust store's stamp; 'aicage hook fish' replaces this line with its
# path, quoted.
set -g __aicage_stamp ''

function __aicage_hook --on-event fish_prompt
    set -l ret $status
    test -z "$AICAGE"; or return $ret
    # read before deciding: a change after this read shows at the next
    # prompt
    set -l gen ''
    test -f "$__aicage_stamp"; and read gen <$__aicage_stamp
    if test "$gen" != "$__aicage_gen"
        set -g __aicage_gen $gen
        set -g __aicage_pwd ''
    end
    while test "$PWD" != "$__aicage_pwd"
        set -g __aicage_pwd $PWD
        # eval, not '| source': the caged shell must keep the terminal as
        # its stdin
        eval ($__aicage_bin hook decide fish "$__aicage_skip" | string collect)
    end
    return $ret
end

# __aicage_enter SKIP FILE: run the caged shell; FILE tells where it went.
# Its content is a path and nothing else: it is never evaluated.
function __aicage_enter -a skip out
    set -g __aicage_skip $skip
    AICAGE_HOOK_OUT=$out _AICAGE_HOOK_DIRS=(string join \n -- $dirstack) $__aicage_bin shell
    set -l where
    read -z where <$out
    command rm -f -- $out
    switch "$where"
        case 'L/*'
            set -l dir (string sub -s 2 -- $where | string collect)
            if not test -d "$dir"
                printf 'aicage: cannot go to %s: not a directory\n' "$dir" >&2
            else if test "$dirstack[1]" = "$dir"
                # the caged shell popped the stack it was given: pop here too
                popd >/dev/null; and set -g __aicage_skip ''
            else
                cd $dir; and set -g __aicage_skip ''
            end
        case 'X/*'
            set -l dir (string sub -s 2 -- $where | string collect)
            if test "$dir" != "$PWD"; and test -d "$dir"
                cd $dir
            end
    end
end

function __aicage_inner
    set -l ret $status
    if test "$PWD" != "$__aicage_pwd"
        if __aicage_inside
            set -g __aicage_pwd $PWD
            printf 'X%s' $PWD 2>/dev/null >$_AICAGE_HOOK_WHERE
        else
            printf 'L%s' $PWD 2>/dev/null >$_AICAGE_HOOK_WHERE
            exit 0
        end
    end
    return $ret
end

# __aicage_inside: whether $PWD is in the project, logically or physically.
function __aicage_inside
    __aicage_inside_dir $PWD; and return 0
    set -l p (builtin pwd -P 2>/dev/null); or return 1
    __aicage_under $p $AICAGE_ROOT
end

function __aicage_inside_dir -a dir
    for r in $_AICAGE_HOOK_ROOT $AICAGE_ROOT
        __aicage_under $dir $r; and return 0
    end
    return 1
end

# __aicage_under DIR ROOT: whether DIR is ROOT or below it (no globbing:
# ROOT may hold * or [).
function __aicage_under -a dir root
    test -n "$root"; or return 1
    test "$dir" = "$root"; and return 0
    set -l head (string sub -l (string length -- "$root/") -- "$dir")
    test "$head" = "$root/"
end

# __aicage_cd_target ARGS: the directory 'cd ARGS' asks for, lexically.
function __aicage_cd_target
    set -l arg $argv[-1]
    test (count $argv) -gt 0; or return 1
    if test "$arg" = -
        set arg $dirprev[-1]
    end
    string match -q -- '/*' "$arg"; or set arg $PWD/$arg
    path normalize -- $arg
end

if test -n "$AICAGE"; and test -n "$_AICAGE_HOOK_WHERE"
    functions -e __aicage_hook
    # the outer shell's directory stack, so that popd leaves the project
    # the way pushd entered it
    if set -q _AICAGE_HOOK_DIRS
        set -g dirstack (string split \n -- $_AICAGE_HOOK_DIRS | string match -- '/*')
        set -e _AICAGE_HOOK_DIRS
    end
    function __aicage_inner_prompt --on-event fish_prompt
        __aicage_inner
    end
    # fish's cd opens the directory, which the cage refuses for most
    # places outside the project: when cd fails towards a directory
    # outside, leave to it instead.
    if functions -q cd; and not functions -q __aicage_fish_cd
        functions -c cd __aicage_fish_cd
        function cd --wraps cd
            __aicage_fish_cd $argv 2>/dev/null; and return 0
            set -l target (__aicage_cd_target $argv)
            if test -n "$target"; and test -d "$target"; and not __aicage_inside_dir $target
                printf 'L%s' $target 2>/dev/null >$_AICAGE_HOOK_WHERE
                exit 0
            end
            __aicage_fish_cd $argv
        end
    end
end
