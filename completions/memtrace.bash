# SPDX-License-Identifier: GPL-2.0
# bash completion for memtrace: subcommands, their options (read from each
# command's own --help, so they never fall behind), and the values options
# take where there is a fixed set, files, directories or PIDs.

_memtrace_options() { # options of one subcommand, from its --help (cached per shell)
	local cmd=$1 var="_memtrace_opts_${1}"
	if [ -z "${!var-}" ]; then
		# argp's option lines: "  -p, --pid=PID" or "      --json"
		printf -v "$var" '%s' "$("${COMP_WORDS[0]}" "$cmd" --help 2>/dev/null |
			grep -E '^ +(-[[:alnum:]?], )?--[a-z]' |
			grep -oE -- '^ +-[[:alnum:]]|--[a-z][a-z0-9-]+' | tr -d ' ' | sort -u | tr '\n' ' ')"
	fi
	echo "${!var}"
}

_memtrace() {
	local cur prev cmd i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done

	if [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W "top snapshot record report run serve --help --version" -- "$cur"))
		return
	fi
	# after "--" (record, run): the command and its arguments
	for ((i = 2; i < COMP_CWORD; i++)); do
		if [ "${COMP_WORDS[i]}" = "--" ]; then
			COMPREPLY=($(compgen -c -- "$cur"))
			return
		fi
	done

	case $cmd:$prev in
	*:-p | *:--pid)
		COMPREPLY=($(compgen -W "$(ls /proc | grep -E '^[0-9]+$')" -- "$cur")); return ;;
	top:--sort)
		COMPREPLY=($(compgen -W "growth rss pss swap faults mapped pid comm" -- "$cur")); return ;;
	snapshot:--sort)
		COMPREPLY=($(compgen -W "ram private shared swap count" -- "$cur")); return ;;
	snapshot:--by)
		COMPREPLY=($(compgen -W "program pid user cgroup" -- "$cur")); return ;;
	snapshot:--units)
		COMPREPLY=($(compgen -W "B K M G" -- "$cur")); return ;;
	serve:--group-by)
		COMPREPLY=($(compgen -W "program cgroup user pid" -- "$cur")); return ;;
	serve:--listen)
		COMPREPLY=($(compgen -W "127.0.0.1:9890 [::1]:9890 0.0.0.0:9890" -- "$cur")); return ;;
	record:--events | report:--event)
		COMPREPLY=($(compgen -W "fault mmap brk malloc" -- "$cur")); return ;;
	record:--malloc-via)
		COMPREPLY=($(compgen -W "auto preload uprobe" -- "$cur")); return ;;
	report:--format)
		COMPREPLY=($(compgen -W "text json folded svg pprof" -- "$cur")); return ;;
	*:--cgroup)
		COMPREPLY=($(compgen -d -- "${cur:-/sys/fs/cgroup/}")); return ;;
	serve:--textfile)
		COMPREPLY=($(compgen -d -- "$cur")); return ;;
	*:-o | *:--output | *:-i | *:--input | *:--report | *:--diff | *:--web-config)
		# report's -i is a file; top's, run's and serve's -i is a duration
		case $cmd:$prev in
		top:-i | run:-i | serve:-i) return ;;
		esac
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_memtrace_options "$cmd")" -- "$cur"))
	fi
}
complete -F _memtrace memtrace
