# bash completion for twkit(1)                              -*- shell-script -*-
#
# Installed as /usr/share/bash-completion/completions/twkit; bash-completion
# loads it the first time `twkit` is completed. Works without bash-completion
# too (source it from ~/.bashrc).
#
# The options of each command are listed here, by hand, from
# `twkit CMD --help` (and the man pages); tests/man/check.sh fails when an
# option of a --help is missing from its command's list.

# Every option, per command ("probe report" is the subcommand).
declare -gA _twkit_opts=(
    [facts]="--json --only --help"
    [demo]="--json --svg --seconds --ports --concurrency --quiet --all --help"
    [hazards]="--json --only --pcap --help"
    [bench]="--close --lab --local --target --proto --duration --concurrency --threads
             --rate --size --port-range --tw-reuse --ipv6 --json --csv --svg --quiet --help"
    [serve]="--proto --listen --threads --idle-timeout --stall-timeout --min-progress
             --grace --close-wait --shutdown-timeout --max-conns --max-requests --max-frame
             --body-size --request-timeout --max-header --max-body --after-fin --loop
             --naive-close --json --help"
    [probe]="--check --once --max-inflight --listen --status-group --status-refresh
             --status-samples --blackbox-config --max-probes --timeout-offset --watch --log
             --log-results --duration --shard --threads --loop --summary --test-notify --help"
    ["probe report"]="--since --until --json --html --probe --timezone --history --help"
    [stat]="--json --brief --all --fail-on --top --watch --count --netns --who --listen
            --all-netns --help"
)

# The options that take a value (the next word), per command.
declare -gA _twkit_args=(
    [facts]="--only"
    [hazards]="--only --pcap"
    [demo]="--svg --seconds --ports --concurrency"
    [bench]="--close --target --proto --duration --concurrency --threads --rate --size
             --port-range --tw-reuse --csv --svg"
    [serve]="--proto --listen --threads --idle-timeout --stall-timeout --min-progress --grace
             --close-wait --shutdown-timeout --max-conns --max-requests --max-frame
             --body-size --request-timeout --max-header --max-body --after-fin --loop"
    [probe]="--max-inflight --listen --status-group --status-refresh --status-samples
             --blackbox-config --max-probes --timeout-offset --log --duration --shard --threads
             --loop --test-notify"
    ["probe report"]="--since --until --probe --timezone --history"
    [stat]="--fail-on --top --watch --count --netns --who --listen"
)

_twkit_commands="facts demo hazards bench serve probe stat version help"

# Print a command's options (tests/man/check.sh reads them this way).
_twkit_options()
{
    printf '%s\n' ${_twkit_opts[$1]}
}

# Named network namespaces: `ip netns list`, else /run/netns.
_twkit_netns()
{
    local names
    names=$(ip netns list 2>/dev/null | awk '{print $1}')
    if [[ -z $names && -d /run/netns ]]; then
        names=$(cd /run/netns 2>/dev/null && printf '%s\n' *)
        [[ $names == '*' ]] && names=
    fi
    printf '%s\n' $names
}

_twkit_files()
{
    if declare -F _filedir >/dev/null; then
        _filedir "$@"
    else
        compopt -o filenames 2>/dev/null
        local IFS=$'\n'
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

_twkit()
{
    local cur prev cword
    local -a words
    COMPREPLY=()
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
    cur=${words[cword]}
    prev=${words[cword - 1]}
    # --opt=value: bash splits the words at '='
    if [[ $cur == = ]]; then
        cur=
    elif [[ $prev == = && $cword -ge 2 ]]; then
        prev=${words[cword - 2]}
    fi

    # the command: the first word after twkit; probe's report subcommand
    local cmd= i
    for ((i = 1; i < cword; i++)); do
        if [[ -z $cmd ]]; then
            [[ ${words[i]} == -* ]] && continue
            cmd=${words[i]}
        elif [[ $cmd == probe && ${words[i]} == report && $i -eq 2 ]]; then
            cmd="probe report"
            break
        else
            break
        fi
    done

    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$_twkit_commands --help --version" -- "$cur"))
        return
    fi
    if [[ $cmd == help ]]; then
        [[ $cword -eq 2 ]] && COMPREPLY=($(compgen -W "${_twkit_commands% version help}" -- "$cur"))
        return
    fi
    [[ -v "_twkit_opts[$cmd]" ]] || return

    # stat --who takes no SECONDS in exporter mode (with --listen)
    local takes=" ${_twkit_args[$cmd]//[$'\n' ]/ } "
    if [[ $cmd == stat && " ${words[*]} " == *" --listen "* ]]; then
        takes=${takes/ --who / }
    fi

    if [[ $prev == -* && $takes == *" $prev "* ]]; then
        case $cmd:$prev in
            stat:--fail-on) COMPREPLY=($(compgen -W "warning critical" -- "$cur")) ;;
            stat:--netns) COMPREPLY=($(compgen -W "$(_twkit_netns)" -- "$cur")) ;;
            serve:--proto | bench:--proto) COMPREPLY=($(compgen -W "twp http" -- "$cur")) ;;
            serve:--after-fin) COMPREPLY=($(compgen -W "fin rst" -- "$cur")) ;;
            serve:--loop | probe:--loop) COMPREPLY=($(compgen -W "epoll io_uring" -- "$cur")) ;;
            hazards:--only)
                # a comma-separated list: complete the name after the last comma
                local done=${cur%"${cur##*,}"}
                COMPREPLY=($(compgen -P "$done" -W "lost-ack duplicate assassination overflow
                                                    abort lost-rst" -- "${cur##*,}")) ;;
            hazards:--pcap)
                compopt -o filenames 2>/dev/null
                COMPREPLY=($(compgen -d -- "$cur")) ;;
            bench:--close)
                COMPREPLY=($(compgen -W "raw raw-request client-close server-close handshake
                                         bye abort pool" -- "$cur")) ;;
            bench:--tw-reuse) COMPREPLY=($(compgen -W "0 1 2" -- "$cur")) ;;
            bench:--csv | bench:--svg | demo:--svg | probe:--log) _twkit_files ;;
            probe:--blackbox-config) _twkit_files '@(yml|yaml)' ;;
            "probe report:--history") _twkit_files ;;
            probe:--listen) COMPREPLY=($(compgen -W "off" -- "$cur")) ;;
            probe:--status-group) COMPREPLY=($(compgen -W "name kind" -- "$cur")) ;;
            "probe report:--timezone")
                local IFS=$'\n' z
                for z in $(compgen -f -- "/usr/share/zoneinfo/$cur"); do
                    [[ -d $z ]] && z+=/
                    COMPREPLY+=("${z#/usr/share/zoneinfo/}")
                done
                compopt -o nospace 2>/dev/null ;;
        esac
        return
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "${_twkit_opts[$cmd]}" -- "$cur"))
        return
    fi
    case $cmd in
        probe)
            # CONFIG, or the report subcommand right after probe
            _twkit_files '@(yml|yaml)'
            [[ $cword -eq 2 ]] && COMPREPLY+=($(compgen -W "report" -- "$cur")) ;;
        "probe report") _twkit_files '@(yml|yaml)' ;;
    esac
}
complete -F _twkit twkit
# ex: filetype=sh
