# The cage's mark for an interactive fish that aicage started: "(aicage) "
# before the prompt and in the terminal's title. aicage sources it after
# the user's config, with __aicage_mark ("" for none: AICAGE_PROMPT=0),
# __aicage_colour and __aicage_title ("" for none: AICAGE_TITLE=0) set
# before it.
#
# fish_prompt and fish_title are wrapped: whatever defined them (starship,
# tide, a function of your own) still draws the prompt, and the mark is
# not added when the prompt shows "(aicage)" already (a prompt segment
# that reads $AICAGE).

function __aicage_return -a s
    return $s
end

if test -n "$__aicage_mark"; and functions -q fish_prompt; and not functions -q __aicage_user_prompt
    functions -c fish_prompt __aicage_user_prompt
    function fish_prompt
        # the user's prompt sees the status of the last command
        set -l p (__aicage_return $status; __aicage_user_prompt | string collect -N)
        if not string match -q -- '*(aicage)*' "$p"
            test -n "$__aicage_colour"; and set_color $__aicage_colour
            printf '%s' $__aicage_mark
            test -n "$__aicage_colour"; and set_color normal
        end
        printf '%s' "$p"
    end
end

if test -n "$__aicage_title"; and not functions -q __aicage_user_title
    functions -q fish_title; and functions -c fish_title __aicage_user_title
    function fish_title
        set -l t
        functions -q __aicage_user_title; and set t (__aicage_user_title $argv | string collect)
        string replace -ra '[[:cntrl:]]' '' -- "(aicage) $t"
    end
end
