# SPDX-License-Identifier: MIT
# bash completion for otakit.
# Installed as share/bash-completion/completions/otakit (cmake --install, the .deb), where
# bash-completion loads it on first use; or add `source .../otakit.bash` to ~/.bashrc.
#
# The subcommands and their options are read from `otakit --help` and `otakit CMD --help` (once
# per shell), so options added to otakit complete without editing this file. Only the values of
# a few options are known here.

_otakit_help_cache=()

# The words of `otakit [CMD] --help`: subcommands (no CMD) or CMD's options.
_otakit_words()
{
    local bin=$1 cmd=$2 key=${2:-_} i
    for ((i = 0; i < ${#_otakit_help_cache[@]}; i += 2)); do
        if [[ ${_otakit_help_cache[i]} == "$key" ]]; then
            printf '%s\n' "${_otakit_help_cache[i + 1]}"
            return
        fi
    done
    local words
    if [[ -z $cmd ]]; then
        # the indented names under "commands:"
        words=$("$bin" --help 2>/dev/null |
            sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9_-]*\) .*/\1/p')
        [[ -n $words ]] || words="upload list device image inspect"
    else
        # every -x / --long-name that starts a word in the option list
        words=$("$bin" "$cmd" --help 2>&1 |
            grep -oE -- '(^|[[:space:],])--?[A-Za-z][A-Za-z0-9_-]*' |
            sed 's/^[[:space:],]*//' | sort -u)
    fi
    words=${words//$'\n'/ }
    _otakit_help_cache+=("$key" "$words")
    printf '%s\n' "$words"
}

_otakit()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local bin=${COMP_WORDS[0]} cmd="" i
    COMPREPLY=()

    for ((i = 1; i < COMP_CWORD; i++)); do
        if [[ ${COMP_WORDS[i]} != -* ]]; then
            cmd=${COMP_WORDS[i]}
            break
        fi
    done

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$(_otakit_words "$bin" "")" -- "$cur")
        fi
        return 0
    fi

    # values of options
    case $prev in
    -f | --file | --targets | --flash | -o | --output | --trusted-key | --sign | --input | \
        --public-key)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
        ;;
    --profile)
        mapfile -t COMPREPLY < <(compgen -W "esp32 esp8266" -- "$cur")
        return 0
        ;;
    --chip)
        mapfile -t COMPREPLY < <(compgen -W "esp32 esp32s2 esp32s3 esp32c2 esp32c3 esp32c5 esp32c6 esp32c61 esp32h2 esp32p4 esp8266" -- "$cur")
        return 0
        ;;
    --auth-variant)
        mapfile -t COMPREPLY < <(compgen -W "md5 pbkdf2" -- "$cur")
        return 0
        ;;
    --format)
        mapfile -t COMPREPLY < <(compgen -W "sbv2 esp8266 esp8266-legacy" -- "$cur")
        return 0
        ;;
    --gen-key)
        mapfile -t COMPREPLY < <(compgen -W "rsa3072 rsa2048 p256" -- "$cur")
        return 0
        ;;
    --protocol)
        if [[ $cmd == upload ]]; then
            mapfile -t COMPREPLY < <(compgen -W "auto arduino esphome elegantota web" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "both arduino esphome" -- "$cur")
        fi
        return 0
        ;;
    --wait)
        # the value is optional: offer a few, and the options after it
        mapfile -t COMPREPLY < <(compgen -W "60 300 600 $(_otakit_words "$bin" "$cmd")" -- "$cur")
        return 0
        ;;
    --http-port)
        mapfile -t COMPREPLY < <(compgen -W "80 8080" -- "$cur")
        return 0
        ;;
    --flash-timing)
        mapfile -t COMPREPLY < <(compgen -W "realistic instant" -- "$cur")
        return 0
        ;;
    -i | --ip | -I | --host_ip | --host-ip | --bind)
        mapfile -t COMPREPLY < <(compgen -A hostname -- "$cur")
        return 0
        ;;
    -p | --port)
        [[ $cmd == upload ]] && mapfile -t COMPREPLY < <(compgen -W "3232 8266 80" -- "$cur")
        return 0
        ;;
    -a | --auth | --password | --password-hash | -P | --host_port | --host-port | -t | \
        --timeout | --retries | --stall-timeout | --result-timeout | --size | --project | \
        --seed | --cut-at | --min-rate | --key | --user)
        return 0
        ;;
    --version)
        [[ $cmd == image ]] && return 0
        ;;
    esac

    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_otakit_words "$bin" "$cmd")" -- "$cur")
    elif [[ $cmd == inspect ]]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
    return 0
}

complete -F _otakit otakit
