"""``gpuctl completion bash|zsh|fish``: shell completion scripts generated from the parser, so
every command, subcommand and option the parser has completes, and nothing else.

bash: the commands known at each position, the options of the command typed so far, the
values of ``-o`` and context names after ``--context`` and ``use-context``. zsh runs the bash
function through ``bashcompinit``. fish: one ``complete`` line per command and option.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field

from k8s_gpu_client.cli.output import OUTPUTS

SHELLS = ("bash", "zsh", "fish")


@dataclass
class Node:
    """A command path of the parser: its subcommands, options, and options taking a value."""

    path: tuple[str, ...]
    commands: dict[str, str] = field(default_factory=dict)  # name -> help
    options: list[str] = field(default_factory=list)
    valued: list[str] = field(default_factory=list)


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[Node]:
    node = Node(path)
    nodes = [node]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:  # an alias: its command completes under its own name
                    continue
                seen.add(id(sub))
                node.commands[name] = helps.get(name, "")
                nodes += walk(sub, (*path, name))
        elif action.option_strings:
            node.options += action.option_strings
            if action.nargs != 0:
                node.valued += action.option_strings
    return nodes


def bash(parser: argparse.ArgumentParser) -> str:
    nodes = walk(parser)
    valued = sorted({o for n in nodes for o in n.valued})
    cases = []
    for node in nodes:
        words = " ".join([*node.commands, *node.options])
        cases.append(f"    {shlex.quote(' '.join(node.path))}) words={shlex.quote(words)} ;;")
    paths = " ".join(shlex.quote(" ".join(n.path)) for n in nodes if n.path)
    return f"""# gpuctl completion for bash: source <(gpuctl completion bash)
_gpuctl_contexts() {{
    gpuctl config get-contexts -o name 2>/dev/null
}}

_gpuctl() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local path="" word candidate i skip=0 words=""
    local -a paths=({paths})
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        if ((skip)); then skip=0; continue; fi
        case " {" ".join(valued)} " in *" $word "*) skip=1; continue ;; esac
        case "$word" in -*) continue ;; esac
        candidate="${{path:+$path }}$word"
        for known in "${{paths[@]}}"; do
            if [[ "$known" == "$candidate" ]]; then path="$candidate"; break; fi
        done
    done
    case "$prev" in
        -o|--output) COMPREPLY=($(compgen -W "{" ".join(OUTPUTS)}" -- "$cur")); return ;;
        --context) COMPREPLY=($(compgen -W "$(_gpuctl_contexts)" -- "$cur")); return ;;
    esac
    if [[ "$path" == "config use-context" || "$path" == "config delete-context" ]]; then
        COMPREPLY=($(compgen -W "$(_gpuctl_contexts)" -- "$cur"))
        return
    fi
    case " {" ".join(valued)} " in *" $prev "*) COMPREPLY=(); return ;; esac
    case "$path" in
{chr(10).join(cases)}
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _gpuctl gpuctl
"""


def zsh(parser: argparse.ArgumentParser) -> str:
    return (
        "#compdef gpuctl\n# gpuctl completion for zsh: source <(gpuctl completion zsh)\n"
        "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"
        + bash(parser)
    )


def fish(parser: argparse.ArgumentParser) -> str:
    lines = ["# gpuctl completion for fish: gpuctl completion fish | source"]
    lines.append("complete -c gpuctl -f")
    for node in walk(parser):
        if node.path:
            condition = "__fish_seen_subcommand_from " + node.path[-1]
        else:
            condition = "__fish_use_subcommand"
        for name, help_text in node.commands.items():
            lines.append(
                f"complete -c gpuctl -n {shlex.quote(condition)} -a {shlex.quote(name)}"
                f" -d {shlex.quote(help_text)}"
            )
        for option in node.options:
            flag = f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}"
            needs = " -r" if option in node.valued else ""
            lines.append(f"complete -c gpuctl -n {shlex.quote(condition)} {flag}{needs}")
    lines.append(f"complete -c gpuctl -l output -s o -xa {shlex.quote(' '.join(OUTPUTS))}")
    return "\n".join(lines) + "\n"


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    return {"bash": bash, "zsh": zsh, "fish": fish}[shell](parser)
