# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic for earlyoom: name regexes, argument lists, /etc/default/earlyoom, and what earlyoom echoed at start.

No AnsibleModule here: every function takes plain values; the one that reads the journal takes a runner
callable (``runner(argv) -> (rc, stdout, stderr)``), so tests pass a fake one.

What shapes the rules:

- earlyoom matches ``/proc/PID/comm`` (at most 15 bytes, the kernel truncates longer names) with a POSIX
  extended regex (``regcomp(REG_EXTENDED | REG_NOSUB)``).
- Debian's unit runs ``ExecStart=/usr/bin/earlyoom $EARLYOOM_ARGS`` with ``EnvironmentFile=-/etc/default/earlyoom``.
  systemd splits ``$EARLYOOM_ARGS`` at whitespace and passes quotes and backslashes inside it on literally, so no
  argument may contain whitespace, quotes or backslashes. Regex metacharacters in names are escaped with bracket
  expressions (``.`` -> ``[.]``) instead of backslashes.
- Debian 12 ships earlyoom 1.7, Debian 13 ships 1.8: ``--ignore`` and ``--sort-by-rss`` exist from 1.8 on.
- earlyoom refuses ``-m`` above 99 and ``-s`` above 100; without a SIGKILL value it uses half the SIGTERM value.
"""

from __future__ import annotations

import re
import time
import warnings as python_warnings

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file, comment_lines, plan_file
from ansible_collections.lowmem.vps.plugins.module_utils.runner import commands, tail

try:
    import ctypes
except ImportError:  # pragma: no cover - CPython on Linux always has it
    ctypes = None

COMM_MAX_BYTES = 15
DEFAULT_PATH = '/etc/default/earlyoom'
DEFAULT_HEADER = 'Ansible managed: lowmem.vps.earlyoom'
ARGS_VARIABLE = 'EARLYOOM_ARGS'
JOURNAL_COMMAND = ('journalctl', '-u', 'earlyoom', '-b', '--no-pager', '-o', 'cat')
# earlyoom's defaults when -m / -s are not given: (SIGTERM percent, SIGKILL percent).
DEFAULT_THRESHOLDS = (10.0, 5.0)
# Highest SIGTERM percent earlyoom accepts: it refuses -m 100 ("makes no sense"); -s 100 ignores swap.
THRESHOLD_LIMITS = {'mem_min_percent': 99, 'swap_min_percent': 100}
THRESHOLD_FLAGS = (('mem_min_percent', '-m'), ('swap_min_percent', '-s'))
# Options that need at least this earlyoom version.
NEEDS_1_8 = ('ignore', 'ignore_regex', 'sort_by_rss')
VERSION_1_8 = (1, 8, 0)
# Name lists and their expert regex form, with earlyoom's flag.
REGEX_OPTIONS = (('prefer', 'prefer_regex', '--prefer'), ('avoid', 'avoid_regex', '--avoid'),
                 ('ignore', 'ignore_regex', '--ignore'))
# Flags that the structured options own (refused in extra_args), and flags that make earlyoom exit at once.
MANAGED_SHORT = {'-m': 'mem_min_percent', '-s': 'swap_min_percent', '-r': 'report_interval'}
MANAGED_LONG = {'prefer': 'prefer', 'avoid': 'avoid', 'ignore': 'ignore', 'sort-by-rss': 'sort_by_rss'}
EXITING_FLAGS = ('-v', '-h', '--help')

# One character each: the ERE metacharacters that a bracket expression makes literal.
_BRACKET_ESCAPES = frozenset('.+*?(){}|$')
# Characters a process name may not contain here: no way to pass them through $EARLYOOM_ARGS, or no
# backslash-free way to write them in a POSIX ERE.
_REFUSED_IN_NAMES = frozenset('^[]\\\'"`')
_UNSAFE_IN_ARGS = frozenset('\\\'"`')
_PRINTABLE_ASCII = frozenset(chr(code) for code in range(0x21, 0x7f))
_VERSION_RE = re.compile(r'^\s*(?:earlyoom\s+)?v?(\d+)\.(\d+)(?:\.(\d+))?', re.MULTILINE)
_STARTUP_RE = re.compile(r'^earlyoom\s+v?\d')
_ANSI_RE = re.compile(r'\x1b\[[0-9;]*m')
_REGEX_ECHO = (
    ('prefer', re.compile(r"^\s*Preferring to kill process names that match regex '(.*)'\s*$")),
    ('avoid', re.compile(r"^\s*Will avoid killing process names that match regex '(.*)'\s*$")),
    ('ignore', re.compile(r"^\s*Will ignore process names that match regex '(.*)'\s*$")),
)
# 1.7: "sending SIGTERM when mem <= 10.00% and swap <= 20.00%,"; 1.8: "... mem avail <= ... and swap free <= ...".
_THRESHOLD_ECHO = re.compile(r'^\s*(?:sending\s+)?SIG(TERM|KILL)\s+when\s+mem(?:\s+avail)?\s*<=\s*([0-9.]+)\s*%'
                             r'\s*and\s+swap(?:\s+free)?\s*<=\s*([0-9.]+)\s*%')
_ERROR_ECHO = re.compile(r'^\s*(fatal: .*|.*unrecognized option.*|.*invalid option.*|.*option requires an argument.*'
                         r'|.*extra argument not understood.*)$')

# glibc and musl both define these.
REG_EXTENDED = 1
REG_NOSUB = 8
_REGEX_T_BYTES = 512  # sizeof(regex_t) is 64 on x86_64 glibc; leave room for any libc.


class EarlyoomError(RefusedError):
    """Bad input, or earlyoom missing: nothing was written."""


class EarlyoomFailure(PartialFailure):
    """The file was written, then restarting or verifying earlyoom failed."""


def _describe(char):
    if char.isspace():
        return 'whitespace'
    if char in '\'"`':
        return 'quotes'
    if char == '\\':
        return 'a backslash'
    return repr(char)


def _why_unsafe(char):
    if char.isspace() or char in '\'"`\\':
        return ('systemd splits $%s at whitespace and passes quotes and backslashes on literally'
                % ARGS_VARIABLE)
    return 'only printable ASCII is accepted'


def escape_name(name):
    """One process name as a literal POSIX ERE without backslashes: ``php-fpm8.2`` -> ``php-fpm8[.]2``."""
    return ''.join('[%s]' % char if char in _BRACKET_ESCAPES else char for char in name)


def _name_problem(name):
    if not isinstance(name, str):
        return '%r is not a process name (expected a string)' % (name,)
    if not name:
        return 'an empty process name matches nothing'
    for char in name:
        if char in _REFUSED_IN_NAMES and char not in _UNSAFE_IN_ARGS:
            return ('process name %r contains %r, which cannot be written into the regex without a backslash: '
                    'use the *_regex option for it' % (name, char))
        if char in _UNSAFE_IN_ARGS or char not in _PRINTABLE_ASCII:
            return 'process name %r contains %s: %s' % (name, _describe(char), _why_unsafe(char))
    return None


def build_name_regex(names):
    """(``^(a|b)$`` for the process names, warnings), or (None, []) for no names.

    Names longer than 15 bytes are cut to the 15 bytes the kernel keeps in ``/proc/PID/comm`` (with a
    warning), metacharacters become bracket expressions, duplicates go (first one kept). Raises ValueError
    listing every bad name.
    """
    if not names:
        return None, []
    if isinstance(names, str):
        raise ValueError('process names must be a list, not the string %r' % names)
    problems = []
    warnings = []
    escaped = []
    for name in names:
        problem = _name_problem(name)
        if problem:
            problems.append(problem)
            continue
        if len(name) > COMM_MAX_BYTES:
            short = name[:COMM_MAX_BYTES]
            warnings.append('process name %r is longer than %d bytes: the kernel keeps only %r in /proc/PID/comm, '
                            'which is what earlyoom matches, so %r is used' % (name, COMM_MAX_BYTES, short, short))
            name = short
        item = escape_name(name)
        if item not in escaped:
            escaped.append(item)
    if problems:
        raise ValueError('; '.join(problems))
    return '^(%s)$' % '|'.join(escaped), warnings


def _libc():
    """(regcomp, regerror, regfree) of the C library this process runs on, or None when not loadable.

    earlyoom compiles its regexes with regcomp(); asking the same C library is the one exact check.
    """
    if ctypes is None:
        return None
    try:
        libc = ctypes.CDLL(None)
        regcomp, regerror, regfree = libc.regcomp, libc.regerror, libc.regfree
    except (OSError, AttributeError, TypeError):
        return None
    regcomp.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    regcomp.restype = ctypes.c_int
    regerror.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    regerror.restype = ctypes.c_size_t
    regfree.argtypes = [ctypes.c_void_p]
    regfree.restype = None
    return regcomp, regerror, regfree


def posix_regex_error(rx):
    """What the C library's ``regcomp(REG_EXTENDED | REG_NOSUB)`` says about ``rx``, as earlyoom compiles it.

    '' when it compiles, the C library's error text when it does not, None when no C library can be loaded.
    """
    libc = _libc()
    if libc is None:
        return None
    regcomp, regerror, regfree = libc
    compiled = ctypes.create_string_buffer(_REGEX_T_BYTES)
    code = regcomp(compiled, rx.encode('ascii'), REG_EXTENDED | REG_NOSUB)
    if code == 0:
        regfree(compiled)
        return ''
    message = ctypes.create_string_buffer(256)
    regerror(code, compiled, message, len(message))
    return message.value.decode('ascii', 'replace') or 'error %d' % code


def validate_regex(rx, label='regex'):
    """Return ``rx`` when earlyoom can take it from $EARLYOOM_ARGS and compile it; raise ValueError otherwise.

    Refused: empty, whitespace, quotes, backslashes (systemd does not pass them on as written), non-ASCII,
    Perl syntax such as ``(?i)``. Then compiled with the C library's regcomp as earlyoom does; where no
    C library can be loaded, with Python's ``re`` as the closest stand-in.
    """
    if not isinstance(rx, str) or not rx:
        raise ValueError('%s must be a non-empty POSIX extended regex' % label)
    for char in rx:
        if char in _UNSAFE_IN_ARGS or char not in _PRINTABLE_ASCII:
            raise ValueError('%s %r contains %s: %s (use bracket expressions such as [.] instead of backslashes)'
                             % (label, rx, _describe(char), _why_unsafe(char)))
    if '(?' in rx:
        raise ValueError('%s %r uses (?...), which is Perl/Python syntax, not POSIX extended regex' % (label, rx))
    error = posix_regex_error(rx)
    if error:
        raise ValueError('%s %r is not a valid POSIX extended regex: %s' % (label, rx, error))
    if error is None:
        try:
            with python_warnings.catch_warnings():
                python_warnings.simplefilter('ignore')
                re.compile(rx)
        except re.error as exc:
            raise ValueError('%s %r is not a valid regex: %s' % (label, rx, exc))
    return rx


def parse_version(text):
    """(major, minor, patch) from ``earlyoom -v`` output (``earlyoom 1.7``, ``earlyoom v1.8.2``) or a bare version
    (``1.8.1``, Debian's ``1.7-2``). Raises ValueError when there is none."""
    match = _VERSION_RE.search(text or '')
    if not match:
        raise ValueError('could not read an earlyoom version from %r' % ((text or '').strip()[:200],))
    return tuple(int(part or 0) for part in match.groups())


def format_version(version):
    return '.'.join(str(part) for part in version) if version else None


def _threshold_args(key, value, problems):
    flag = dict(THRESHOLD_FLAGS)[key]
    limit = THRESHOLD_LIMITS[key]
    if not isinstance(value, (list, tuple)):
        value = [value]
    if not 1 <= len(value) <= 2:
        problems.append('%s must be [SIGTERM percent] or [SIGTERM percent, SIGKILL percent], got %r' % (key, value))
        return []
    numbers = []
    for item in value:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item)
        if isinstance(item, bool) or not isinstance(item, int):
            problems.append('%s: %r is not a whole percent' % (key, item))
            return []
        numbers.append(item)
    term = numbers[0]
    if not 1 <= term <= limit:
        problems.append('%s: SIGTERM percent %d is outside 1..%d (earlyoom %s accepts at most %d)'
                        % (key, term, limit, flag, limit))
        return []
    if len(numbers) == 2:
        kill = numbers[1]
        if not 0 < kill <= term:
            problems.append('%s: SIGKILL percent %d must be above 0 and at most the SIGTERM percent %d'
                            % (key, kill, term))
            return []
        return [flag, '%d,%d' % (term, kill)]
    return [flag, '%d' % term]


def _extra_problems(extra_args):
    problems = []
    if isinstance(extra_args, str):
        return ['extra_args must be a list of single arguments, not the string %r' % extra_args]
    for token in extra_args:
        if not isinstance(token, str) or not token:
            problems.append('extra_args: %r is not a non-empty string' % (token,))
            continue
        bad = [char for char in token if char in _UNSAFE_IN_ARGS or char not in _PRINTABLE_ASCII]
        if bad:
            problems.append('extra_args: %r contains %s: %s (give each argument as its own list item)'
                            % (token, _describe(bad[0]), _why_unsafe(bad[0])))
            continue
        if token in EXITING_FLAGS:
            problems.append('extra_args: %s makes earlyoom print and exit instead of running' % token)
        elif token.startswith('--'):
            name = token[2:].split('=', 1)[0]
            owners = [option for flag, option in MANAGED_LONG.items() if name and flag.startswith(name)]
            if owners:
                problems.append('extra_args: %s is set through the %s option' % (token, owners[0]))
        elif token[:2] in MANAGED_SHORT:
            problems.append('extra_args: %s is set through the %s option' % (token, MANAGED_SHORT[token[:2]]))
    return problems


def build_args(options, version=None, warnings=None):
    """earlyoom's argument list from structured options; raises ValueError listing every problem.

    ``options`` holds any of mem_min_percent, swap_min_percent ([term] or [term, kill]), report_interval
    (seconds), prefer/avoid/ignore (process names) or prefer_regex/avoid_regex/ignore_regex (expert form,
    one or the other), sort_by_rss, extra_args (single tokens). ``version`` is a tuple from
    :func:`parse_version`, or None to skip the version checks. Warnings (names cut to 15 bytes) are
    appended to ``warnings`` when given.
    """
    options = dict((key, value) for key, value in (options or {}).items() if value is not None)
    problems = []
    args = []
    for key, _flag in THRESHOLD_FLAGS:
        if key in options:
            args.extend(_threshold_args(key, options[key], problems))
    if 'report_interval' in options:
        interval = options['report_interval']
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 0:
            problems.append('report_interval must be a whole number of seconds, 0 or more (0 turns the memory '
                            'report off), got %r' % (interval,))
        else:
            args.extend(['-r', str(interval)])
    for names_key, regex_key, flag in REGEX_OPTIONS:
        names, rx = options.get(names_key), options.get(regex_key)
        if names and rx is not None:
            problems.append('%s and %s are mutually exclusive: give process names or a regex' % (names_key, regex_key))
            continue
        try:
            if rx is not None:
                rx = validate_regex(rx, regex_key)
            else:
                rx, name_warnings = build_name_regex(names)
                if warnings is not None:
                    warnings.extend('%s: %s' % (names_key, text) for text in name_warnings)
        except ValueError as exc:
            problems.append('%s: %s' % (names_key, exc) if rx is None else str(exc))
            continue
        if rx is not None:
            args.extend([flag, rx])
    if options.get('sort_by_rss'):
        args.append('--sort-by-rss')
    problems.extend(_extra_problems(options.get('extra_args') or []))
    args.extend(options.get('extra_args') or [])
    if version is not None and tuple(version) < VERSION_1_8:
        for key in NEEDS_1_8:
            if options.get(key):
                problems.append('%s needs earlyoom 1.8 or later, this host has %s (Debian 12 ships 1.7, Debian 13 '
                                'ships 1.8)' % (key, format_version(version)))
    if problems:
        raise ValueError('; '.join(problems))
    return args


def render_default_file(args, header=DEFAULT_HEADER):
    """Text of /etc/default/earlyoom: the header as ``#`` comment lines, then ``EARLYOOM_ARGS="..."``.

    Raises ValueError when an argument could not pass through $EARLYOOM_ARGS unchanged.
    """
    for token in args:
        if not token or any(char in _UNSAFE_IN_ARGS or char not in _PRINTABLE_ASCII for char in token):
            raise ValueError('argument %r cannot pass through $%s unchanged' % (token, ARGS_VARIABLE))
    lines = comment_lines(header)
    lines.append('%s="%s"' % (ARGS_VARIABLE, ' '.join(args)))
    return '\n'.join(lines) + '\n'


def parse_default_file(text):
    """The argument list earlyoom gets from an /etc/default/earlyoom text, as systemd passes it.

    The last ``EARLYOOM_ARGS=`` assignment wins; surrounding double (or single) quotes are removed, then the
    value is split at whitespace. Quotes inside the value stay, as they do under systemd. [] when unset.
    """
    value = None
    for raw in (text or '').splitlines():
        line = raw.strip()
        if not line or line[0] in '#;':
            continue
        if line.startswith('export '):
            line = line[len('export '):].lstrip()
        key, sep, rest = line.partition('=')
        if sep and key.strip() == ARGS_VARIABLE:
            value = rest.strip()
    if value is None:
        return []
    if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
        value = value[1:-1]
    return value.split()


def parse_startup_journal(text):
    """What earlyoom echoed at its last start, from ``journalctl -u earlyoom -b -o cat`` text.

    Reads only the last startup block (from the last ``earlyoom <version>`` line). Returns {} when there is
    none, else a dict with version, prefer, avoid, ignore (regex text or None), mem_term_percent,
    mem_kill_percent, swap_term_percent, swap_kill_percent (floats or None) and errors (lines such as
    ``fatal: ...`` or ``unrecognized option``).
    """
    lines = _ANSI_RE.sub('', text or '').splitlines()
    starts = [index for index, line in enumerate(lines) if _STARTUP_RE.match(line)]
    if not starts:
        return {}
    block = lines[starts[-1]:]
    result = {'version': format_version(parse_version(block[0])), 'prefer': None, 'avoid': None, 'ignore': None,
              'mem_term_percent': None, 'mem_kill_percent': None, 'swap_term_percent': None,
              'swap_kill_percent': None, 'errors': []}
    for line in block[1:]:
        for key, pattern in _REGEX_ECHO:
            match = pattern.match(line)
            if match:
                result[key] = match.group(1)
        match = _THRESHOLD_ECHO.match(line)
        if match:
            signal = match.group(1).lower()
            result['mem_%s_percent' % signal] = float(match.group(2).rstrip('.'))
            result['swap_%s_percent' % signal] = float(match.group(3).rstrip('.'))
            continue
        match = _ERROR_ECHO.match(line)
        if match:
            result['errors'].append(match.group(1).strip())
    return result


def _expected(args):
    """What earlyoom should echo for ``args``: thresholds (None when -M/-S make them unpredictable) and regexes."""
    expected = {'prefer': None, 'avoid': None, 'ignore': None}
    thresholds = {'-m': [DEFAULT_THRESHOLDS[0], DEFAULT_THRESHOLDS[1]], '-s': [DEFAULT_THRESHOLDS[0], DEFAULT_THRESHOLDS[1]]}
    sizes = set()
    tokens = list(args)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        value = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.startswith('--') and '=' in token:
            token, value = token.split('=', 1)
            step = 1
        else:
            step = 2
        if token in ('--prefer', '--avoid', '--ignore'):
            expected[token[2:]] = value
        elif token in ('-m', '-s') and value is not None:
            parts = value.split(',')
            term = float(parts[0])
            thresholds[token] = [term, float(parts[1]) if len(parts) > 1 else term / 2]
        elif token[:2] in ('-M', '-S'):
            sizes.add(token[:2].lower())
            step = 2 if token in ('-M', '-S') else 1
        else:
            step = 1
        index += step
    for flag, kind in (('-m', 'mem'), ('-s', 'swap')):
        if flag in sizes:
            continue
        expected['%s_term_percent' % kind], expected['%s_kill_percent' % kind] = thresholds[flag]
    return expected


def check_echo(expected_args, parsed):
    """Mismatches between the arguments earlyoom should run with and what it echoed at start ([] = all good)."""
    if not parsed:
        return ['the journal holds no startup lines of earlyoom for this boot (no "earlyoom <version>" line)']
    mismatches = ['earlyoom said: %s' % line for line in parsed.get('errors') or []]
    expected = _expected(expected_args)
    for key in ('mem_term_percent', 'mem_kill_percent', 'swap_term_percent', 'swap_kill_percent'):
        if key not in expected:
            continue
        got = parsed.get(key)
        if got is None:
            mismatches.append('%s: expected %.2f%%, earlyoom logged no threshold' % (key, expected[key]))
        elif abs(got - expected[key]) > 0.005:
            mismatches.append('%s: expected %.2f%%, earlyoom uses %.2f%%' % (key, expected[key], got))
    for key in ('prefer', 'avoid', 'ignore'):
        want, got = expected[key], parsed.get(key)
        if want == got:
            continue
        if got is None:
            mismatches.append('%s: expected %r, earlyoom logged no %s regex' % (key, want, key))
        elif want is None:
            mismatches.append('%s: expected none, earlyoom uses %r' % (key, got))
        else:
            mismatches.append('%s: expected %r, earlyoom uses %r' % (key, want, got))
    return mismatches


def read_startup(runner, journalctl='journalctl'):
    """(parsed startup block, problem text or None) from one ``journalctl -u earlyoom -b -o cat`` run."""
    rc, out, err = runner([journalctl] + list(JOURNAL_COMMAND[1:]))
    if rc != 0:
        return {}, 'journalctl failed (rc=%d): %s' % (rc, (err or out or '').strip()[:500])
    return parse_startup_journal(out), None


def verify_echo(runner, expected_args, attempts=10, delay=0.5, journalctl='journalctl', sleep=time.sleep):
    """Read the journal until earlyoom's last start matches ``expected_args`` or ``attempts`` run out.

    earlyoom writes its startup lines just after ``systemctl restart`` returns, so a first read may still
    show the previous start. Returns (parsed, mismatches); mismatches are those of the last read.
    """
    parsed, mismatches = {}, []
    for attempt in range(max(1, attempts)):
        if attempt:
            sleep(delay)
        parsed, problem = read_startup(runner, journalctl)
        mismatches = [problem] if problem else check_echo(expected_args, parsed)
        if not mismatches:
            break
    return parsed, mismatches


# ---------------------------------------------------------------- run

# earlyoom logs its startup lines just after `systemctl restart` returns: read the journal this often.
VERIFY_ATTEMPTS = 10
VERIFY_DELAY = 0.5
# installed_version()'s answer when earlyoom is missing and if_missing=skip.
MISSING = 'missing'
OPTION_KEYS = ('mem_min_percent', 'swap_min_percent', 'report_interval', 'prefer', 'avoid', 'ignore', 'prefer_regex',
               'avoid_regex', 'ignore_regex', 'sort_by_rss', 'extra_args')


def installed_version(module, runner, which):
    """The version to check options against: O(version), else `earlyoom -v`. None in check mode without earlyoom,
    MISSING when earlyoom is not installed and O(if_missing=skip)."""
    if module.params['version']:
        try:
            return parse_version(module.params['version'])
        except ValueError as exc:
            raise EarlyoomError('version: %s' % exc)
    binary = which('earlyoom')
    if not binary:
        if module.params.get('if_missing') == 'skip':
            return MISSING
        if module.check_mode:
            module.warn('earlyoom is not installed: options that need a given earlyoom version were not checked')
            return None
        raise EarlyoomError('earlyoom is not installed (install the earlyoom package first, or give version)')
    rc, out, err = runner([binary, '-v'])
    try:
        return parse_version('%s\n%s' % (out, err))
    except ValueError as exc:
        raise EarlyoomError('`%s -v` (rc=%d): %s' % (binary, rc, exc))


def restart(module, runner, which, path):
    systemctl = which('systemctl')
    if not systemctl:
        raise EarlyoomFailure('%s written, but systemctl is not installed to restart earlyoom' % path, dict(path=path))
    rc, out, err = runner([systemctl, 'restart', 'earlyoom'])
    if rc != 0:
        raise EarlyoomFailure('%s written, but `systemctl restart earlyoom` failed (rc=%d): %s'
                              % (path, rc, tail(rc, out, err)), dict(path=path))
    module.wrote()


def verify(runner, which, path, args):
    journalctl = which('journalctl')
    if not journalctl:
        raise EarlyoomFailure('%s written and earlyoom restarted, but journalctl is not installed to verify it '
                              '(use verify=false)' % path, dict(path=path, args=args, restarted=True))
    echoed, mismatches = verify_echo(runner, args, attempts=VERIFY_ATTEMPTS, delay=VERIFY_DELAY, journalctl=journalctl)
    if mismatches:
        raise EarlyoomFailure('%s written and earlyoom restarted, but it does not run with these arguments: %s'
                              % (path, '; '.join(mismatches)), dict(path=path, args=args, echoed=echoed, restarted=True))
    return echoed


def keep_running(module, runner, which, path):
    """Enable earlyoom's unit and start it, each only when it is not so already (check mode only reads); returns what
    was done (or would be), for example ['enable', 'start']."""
    systemctl = which('systemctl')
    if not systemctl:
        raise EarlyoomFailure('systemctl is not installed to keep earlyoom enabled and running (use keep_running=false)',
                              dict(path=path))
    actions = []
    if runner([systemctl, 'is-enabled', '--quiet', 'earlyoom'])[0] != 0:
        actions.append('enable')
    if runner([systemctl, 'is-active', '--quiet', 'earlyoom'])[0] != 0:
        actions.append('start')
    if module.check_mode:
        return actions
    for action in actions:
        rc, out, err = runner([systemctl, action, 'earlyoom'])
        if rc != 0:
            raise EarlyoomFailure('`systemctl %s earlyoom` failed (rc=%d): %s' % (action, rc, tail(rc, out, err)),
                                  dict(path=path, service_actions=actions))
        module.wrote()
    return actions


def run(module, runner=None, which=None, paths=None):
    """Everything the earlyoom module does; ``module`` is a result.Context. Tests replace the commands (``runner``,
    ``which``); earlyoom has no system path besides its ``path`` option, so ``paths`` is accepted for the one
    signature of every run() and not used."""
    runner, which = commands(module, runner, which)
    params = module.params
    version = installed_version(module, runner, which)
    missing = version == MISSING
    warnings = []
    try:
        # Without earlyoom (if_missing=skip) the options are still checked, all but the version checks.
        args = build_args(dict((key, params[key]) for key in OPTION_KEYS), None if missing else version, warnings)
        text = render_default_file(args, params['header'])
    except ValueError as exc:
        raise EarlyoomError(str(exc))
    for warning in warnings:
        module.warn(warning)

    path = params['path']
    if missing:
        # Nothing is written: the caller installs earlyoom and calls again.
        return dict(changed=False, installed=False, path=path, args=args, previous_args=[], version=None,
                    restarted=False, echoed={}, service_actions=[])
    plan = plan_file(path, text, 0o644)
    apply_file(module, plan)
    restarted = False
    echoed = {}
    if plan.before != plan.after and params['restart'] and not module.check_mode:
        restart(module, runner, which, path)
        restarted = True
        if params['verify']:
            echoed = verify(runner, which, path, args)
    actions = keep_running(module, runner, which, path) if params.get('keep_running') else []
    return dict(changed=plan.changed or bool(actions), installed=True, path=path, args=args,
                previous_args=parse_default_file(plan.before), version=format_version(version), restarted=restarted,
                echoed=echoed, service_actions=actions, diff=plan.diff())
