#!/usr/bin/env python3
"""docs/cli.md and `workspace --help` name the same flags.

Usage: cli_docs_test.py WORKSPACE_BINARY DOCS_CLI_MD

Walks every command `workspace --help` lists (and the commands under them,
such as `image build`), collects the flags each one's --help prints, and
checks them against the command's section of docs/cli.md (the `###`
heading naming `workspace CMD`, its body, down to the next heading): every
flag --help prints is named in the section, and every flag the heading
names is printed by --help. The global options are checked against the
"## Global options" section (its table's first column). --help, -h and
--version are left out. Prints one line per mismatch; exit 1 if any.
"""

import re
import subprocess
import sys

IGNORED = {"--help", "-h", "--version"}
GLOBAL_SECTION = "Global options"

# A section header of CLI11's help: "Options:", "SUBCOMMANDS:", "Positionals:".
HEADER = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
# An option line: "  -f,--force   ...", "  -h,     --help ...", "  --json ...".
NAME = r"-{1,2}[A-Za-z0-9][\w.-]*"
OPTION_LINE = re.compile(r"^ {1,8}(" + NAME + r"(?:,\s*" + NAME + r")*)")
# A subcommand line: "  destroy, rm     Delete a workspace ...".
SUBCOMMAND_LINE = re.compile(r"^ {1,8}([A-Za-z0-9][\w.-]*)(?:,\s*[\w.-]+)*(?:\s|$)")
# Flags named in docs text.
LONG_FLAG = re.compile(r"(?<![\w-])--[A-Za-z0-9][\w-]*")
SHORT_FLAG = re.compile(r"(?<![\w-])-[A-Za-z0-9](?![\w-])")


def run_help(binary, path):
    cmd = [binary] + path + ["--help"]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                           universal_newlines=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "%s: %s" % (" ".join(cmd), e)
    if p.returncode != 0:
        return None, "%s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip())
    return p.stdout, None


def parse_help(text):
    """(flags, subcommands) of one --help output, each in order of appearance."""
    flags, subs = [], []
    mode = None
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            kind = m.group(1).strip().lower()
            mode = "sub" if kind == "subcommands" else None if kind == "positionals" else "opt"
            continue
        if mode is None or not line.strip():
            continue
        if mode == "opt":
            m = OPTION_LINE.match(line)
            if m:
                for name in re.split(r",\s*", m.group(1)):
                    if name not in IGNORED and name not in flags:
                        flags.append(name)
        elif mode == "sub":
            m = SUBCOMMAND_LINE.match(line)
            if m and m.group(1) not in subs:
                subs.append(m.group(1))
    return flags, subs


def walk(binary, errors):
    """{"": global flags, "image build": its flags, ...} and the set of commands with subcommands."""
    text, err = run_help(binary, [])
    if err:
        errors.append(err)
        return {}, set()
    global_flags, top = parse_help(text)
    commands = {"": global_flags}
    groups = set()
    todo = [[c] for c in top]
    while todo:
        path = todo.pop(0)
        text, err = run_help(binary, path)
        if err:
            errors.append(err)
            continue
        flags, subs = parse_help(text)
        key = " ".join(path)
        # A subcommand's help may repeat the global options: those are checked once.
        commands[key] = [f for f in flags if f not in global_flags]
        if subs:
            groups.add(key)
        todo.extend(path + [s] for s in subs)
    return commands, groups


def docs_sections(lines):
    """[(level, title, text)] of docs/cli.md, headings inside code fences ignored."""
    sections, fence = [], False
    for line in lines:
        if line.lstrip().startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"^(#{1,6}) (.*)$", line)
        if m:
            sections.append([len(m.group(1)), m.group(2), [line]])
        elif sections:
            sections[-1][2].append(line)
    # A section runs to the next heading of its level or above.
    out = []
    for i, (level, title, body) in enumerate(sections):
        text = list(body)
        for lv, _, more in sections[i + 1:]:
            if lv <= level:
                break
            text.extend(more)
        out.append((level, title, "\n".join(text)))
    return out


def heading_commands(title, known):
    """[(command, flags named in that part of the heading)] for a `### \\`workspace ...\\`` title."""
    out = []
    for span in re.findall(r"`([^`]*)`", title):
        starts = [m.start() for m in re.finditer(r"\bworkspace\b", span)]
        for i, s in enumerate(starts):
            part = span[s:starts[i + 1] if i + 1 < len(starts) else len(span)]
            words = []
            for w in part.split()[1:]:
                if not re.fullmatch(r"[a-z][a-z0-9-]*", w):
                    break
                words.append(w)
            # The longest run of command words --help knows ("image build", not "image").
            cmd = None
            for n in range(len(words), 0, -1):
                if " ".join(words[:n]) in known:
                    cmd = " ".join(words[:n])
                    break
            if cmd is None:
                cmd = " ".join(words) if words else None
            if cmd:
                flags = LONG_FLAG.findall(part) + SHORT_FLAG.findall(part)
                out.append((cmd, [f for f in flags if f not in IGNORED]))
    return out


def named(flag, text):
    return re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", text) is not None


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: cli_docs_test.py WORKSPACE_BINARY DOCS_CLI_MD\n")
        return 2
    binary, docs_path = sys.argv[1], sys.argv[2]
    with open(docs_path, encoding="utf-8") as f:
        lines = f.read().splitlines()

    errors = []
    commands, groups = walk(binary, errors)
    known = set(commands) - {""}

    # Command sections: each command's section text and the flags its heading names.
    section_text = {}     # command -> [section text, ...]
    heading_flags = {}    # command -> set of flags its heading parts name
    global_text, global_table = None, []
    for level, title, text in docs_sections(lines):
        if level == 2 and title.strip() == GLOBAL_SECTION:
            global_text = text
            for row in text.splitlines():
                cells = row.split("|")
                if row.startswith("|") and len(cells) > 2:
                    global_table += [f for f in LONG_FLAG.findall(cells[1]) + SHORT_FLAG.findall(cells[1])
                                     if f not in IGNORED]
        if level == 3 and "`workspace" in title:
            for cmd, flags in heading_commands(title, known):
                section_text.setdefault(cmd, []).append(text)
                heading_flags.setdefault(cmd, set()).update(flags)

    problems = list(errors)

    # Global options.
    if global_text is None:
        problems.append('docs/cli.md has no "## %s" section' % GLOBAL_SECTION)
    else:
        for flag in commands.get("", []):
            if not named(flag, global_text):
                problems.append("workspace: %s in --help but not in docs/cli.md (%s)" % (flag, GLOBAL_SECTION))
        for flag in dict.fromkeys(global_table):
            if flag not in commands.get("", []):
                problems.append("workspace: %s in docs/cli.md (%s) but not in --help" % (flag, GLOBAL_SECTION))

    # Every command --help lists.
    for cmd in sorted(known):
        flags = commands[cmd]
        texts = section_text.get(cmd)
        if texts is None:
            # A bare group (`image`, `git`) needs no section of its own.
            if cmd in groups and not flags:
                continue
            problems.append("%s: no section in docs/cli.md" % cmd)
            texts = []
        text = "\n".join(texts)
        for flag in flags:
            if not named(flag, text):
                problems.append("%s: %s in --help but not in docs/cli.md" % (cmd, flag))
        for flag in sorted(heading_flags.get(cmd, ())):
            if flag not in flags and flag not in commands.get("", []):
                problems.append("%s: %s in docs/cli.md but not in --help" % (cmd, flag))

    # Commands docs/cli.md has a section for that --help does not list.
    for cmd in sorted(set(section_text) - known):
        problems.append("%s: in docs/cli.md but not in --help" % cmd)

    for p in problems:
        print(p)
    if problems:
        print("%d mismatch(es) between --help and docs/cli.md" % len(problems), file=sys.stderr)
        return 1
    print("%d commands: --help and docs/cli.md agree" % len(known))
    return 0


if __name__ == "__main__":
    sys.exit(main())
