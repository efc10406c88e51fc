#compdef aicage
# zsh completion for aicage: source <(aicage completion zsh) after
# compinit, or save it as _aicage in a directory of $fpath.
#
# The candidates come from 'aicage __complete WORDS…', which reads the
# nearest .aicage.toml for its [commands] and [profiles] names only.

_aicage() {
    local c
    local -a cands lines
    lines=("${(@f)$(command aicage __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    for c in "${lines[@]}"; do
        case $c in
        '') ;;
        :dirs) _files -/ ;;
        :files) _files ;;
        :commands) _command_names -e ;;
        *$'\t'*) cands+=("${${c%%$'\t'*}//:/\\:}:${c#*$'\t'}") ;;
        *) cands+=("${c//:/\\:}") ;;
        esac
    done
    (( ${#cands} )) && _describe -t aicage aicage cands
    return 0
}

# Sourced, this defines _aicage and registers it; autoloaded from $fpath,
# the file is _aicage's body, which defines the function and runs it.
if [[ $funcstack[1] == _aicage ]]; then
    _aicage "$@"
else
    compdef _aicage aicage
fi
