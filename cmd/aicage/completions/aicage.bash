# bash completion for aicage: source <(aicage completion bash)
#
# The candidates come from 'aicage __complete WORDS…', which reads the
# nearest .aicage.toml for its [commands] and [profiles] names only.

_aicage() {
    local line=${COMP_LINE:0:COMP_POINT} cur prefix='' c out
    local -a words
    read -ra words <<<"$line"
    if [[ -z $line || $line == *[[:space:]] ]]; then
        words+=('')
    fi
    cur=${words[${#words[@]}-1]}
    # bash ends the word it replaces at = (COMP_WORDBREAKS): for
    # --profile=of it replaces "of", so the candidates lose "--profile=".
    if [[ $cur == *=* && $COMP_WORDBREAKS == *=* ]]; then
        prefix=${cur%"${cur##*=}"}
    fi
    COMPREPLY=()
    out=$(command aicage __complete "${words[@]:1}" 2>/dev/null) || return 0
    while IFS= read -r c; do
        case $c in
        '') ;;
        :dirs)
            compopt -o filenames 2>/dev/null
            mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -d -- "$cur")
            ;;
        :files)
            compopt -o filenames 2>/dev/null
            mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur")
            ;;
        :commands)
            mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -c -- "$cur")
            ;;
        *)
            c=${c%%$'\t'*}
            COMPREPLY+=("${c#"$prefix"}")
            ;;
        esac
    done <<<"$out"
    return 0
}

complete -F _aicage aicage
