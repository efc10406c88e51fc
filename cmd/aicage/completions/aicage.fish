# fish completion for aicage:
#   aicage completion fish > ~/.config/fish/completions/aicage.fish
#
# The candidates come from 'aicage __complete WORDS…', which reads the
# nearest .aicage.toml for its [commands] and [profiles] names only.

function __aicage_complete
    set -l cur (commandline -ct)
    set -l words (commandline -opc) "$cur"
    set -e words[1]
    for c in (command aicage __complete $words 2>/dev/null)
        switch $c
            case :dirs
                __fish_complete_directories "$cur"
            case :files
                __fish_complete_path "$cur"
            case :commands
                __fish_complete_command "$cur"
            case '*'
                printf '%s\n' $c
        end
    end
end

complete -c aicage -f -a '(__aicage_complete)'
