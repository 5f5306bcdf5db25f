# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import ctypes

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils import earlyoom
from ansible_collections.lowmem.vps.plugins.module_utils.earlyoom import (
    JOURNAL_COMMAND, build_args, build_name_regex, check_echo, escape_name, parse_default_file, parse_startup_journal,
    parse_version, posix_regex_error, read_startup, render_default_file, validate_regex, verify_echo,
)

# Debian 12's /etc/default/earlyoom as the package ships it (earlyoom 1.7-2).
DEBIAN_DEFAULT = '''\
# Default settings for earlyoom. This file is sourced by /bin/sh from
# /etc/init.d/earlyoom or by systemd from earlyoom.service.

# Options to pass to earlyoom
EARLYOOM_ARGS="-r 3600"

# Examples:

# Available minimum memory 5%
# EARLYOOM_ARGS="-m 5"

# Available minimum memory 15% and free minimum swap 5%
# EARLYOOM_ARGS="-m 15 -s 5"

# Avoid killing processes whose name matches this regexp
# EARLYOOM_ARGS="--avoid '(^|/)(init|X|sshd|firefox)$'"
'''

# `journalctl -u earlyoom -b -o cat` on Debian 12: the boot start with Debian's file, then a restart with ours.
JOURNAL_17 = '''\
earlyoom 1.7
mem total:  460 MiB, swap total:    0 MiB
sending SIGTERM when mem <= 10.00% and swap <= 10.00%,
        SIGKILL when mem <=  5.00% and swap <=  5.00%
mem avail:   301 of   460 MiB (65.43%), swap free:    0 of    0 MiB ( 0.00%)
earlyoom 1.7
Preferring to kill process names that match regex '^(hysteria|tuic-server)$'
Will avoid killing process names that match regex '^(sshd|nginx)$'
mem total:  460 MiB, swap total: 2047 MiB
sending SIGTERM when mem <= 10.00% and swap <= 20.00%,
        SIGKILL when mem <=  5.00% and swap <= 10.00%
mem avail:   297 of   460 MiB (64.57%), swap free: 2047 of 2047 MiB (100.00%)
'''

# The same on Debian 13 (earlyoom 1.8): "mem avail" / "swap free", a user mem total, --ignore, and a kill afterwards.
JOURNAL_18 = '''\
earlyoom 1.8.2
mem total:  458 MiB, user mem total:  401 MiB, swap total:    0 MiB
sending SIGTERM when mem avail <= 10.00% and swap free <= 10.00%,
        SIGKILL when mem avail <=  5.00% and swap free <=  5.00%
earlyoom 1.8.2
Preferring to kill process names that match regex '^(hysteria|tuic-server)$'
Will avoid killing process names that match regex '^(sshd|nginx)$'
Will ignore process names that match regex '^(systemd-journal)$'
mem total:  458 MiB, user mem total:  401 MiB, swap total: 2047 MiB
sending SIGTERM when mem avail <= 10.00% and swap free <= 20.00%,
        SIGKILL when mem avail <=  5.00% and swap free <= 10.00%
mem avail:    38 of   401 MiB ( 9.61%), swap free:  203 of 2047 MiB ( 9.92%)
low memory! at or below SIGTERM limits: mem 10.00%, swap 20.00%
sending SIGTERM to process 812 uid 0 "hysteria": oom_score 611, VmRSS 180 MiB, cmdline "/usr/local/bin/hysteria server"
process 812 exited after 0.100 seconds
'''

ARGS = ['-m', '10,5', '-s', '20,10', '-r', '300', '--prefer', '^(hysteria|tuic-server)$', '--avoid', '^(sshd|nginx)$']


def posix_search(rx, text):
    """regexec() of the C library, as earlyoom runs it on /proc/PID/comm."""
    libc = ctypes.CDLL(None)
    libc.regcomp.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    libc.regexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int]
    libc.regfree.argtypes = [ctypes.c_void_p]
    compiled = ctypes.create_string_buffer(512)
    assert libc.regcomp(compiled, rx.encode(), earlyoom.REG_EXTENDED | earlyoom.REG_NOSUB) == 0
    try:
        return libc.regexec(compiled, text.encode(), 0, None, 0) == 0
    finally:
        libc.regfree(compiled)


@pytest.mark.parametrize('names, regex', [
    (['sshd', 'nginx'], '^(sshd|nginx)$'),
    (['php-fpm8.2'], '^(php-fpm8[.]2)$'),
    (['g++', 'c++'], '^(g[+][+]|c[+][+])$'),
    (['a*b?c', 'x(y)', 'p|q', 'm{2}', 'cost$'], '^(a[*]b[?]c|x[(]y[)]|p[|]q|m[{]2[}]|cost[$])$'),
    (['sshd', 'nginx', 'sshd', 'nginx'], '^(sshd|nginx)$'),
    (['kworker/0:1', 'sshd-session', 'tuic_server'], '^(kworker/0:1|sshd-session|tuic_server)$'),
    (['abcdefghijklmno'], '^(abcdefghijklmno)$'),  # exactly 15 bytes: kept whole
])
def test_name_regex_table(names, regex):
    assert build_name_regex(names) == (regex, [])


@pytest.mark.parametrize('names', [[], None])
def test_no_names_no_regex(names):
    assert build_name_regex(names) == (None, [])


def test_long_names_are_cut_to_what_comm_holds_with_a_warning_and_deduplicated():
    regex, warnings = build_name_regex(['systemd-journald', 'systemd-journal', 'containerd-shim-runc-v2', 'sshd'])
    assert regex == '^(systemd-journal|containerd-shim|sshd)$'
    assert len(warnings) == 2
    assert "'systemd-journald' is longer than 15 bytes" in warnings[0] and "'systemd-journal' is used" in warnings[0]
    assert "'containerd-shim' is used" in warnings[1]


def test_the_regexes_match_exactly_the_names_under_posix_regexec():
    regex, _warnings = build_name_regex(['php-fpm8.2', 'g++', 'sshd', 'containerd-shim-runc-v2', 'a|b'])
    for comm in ('php-fpm8.2', 'g++', 'sshd', 'containerd-shim', 'a|b'):
        assert posix_search(regex, comm), comm
    for comm in ('php-fpm8x2', 'gg', 'sshd-session', 'xsshd', 'containerd-shim-runc-v2', 'a', 'b', ''):
        assert not posix_search(regex, comm), comm


@pytest.mark.parametrize('names, message', [
    (['ssh d'], "'ssh d' contains whitespace: systemd splits $EARLYOOM_ARGS at whitespace"),
    (['tab\there'], 'contains whitespace'),
    (["it's"], 'contains quotes'),
    (['say"hi'], 'contains quotes'),
    (['back`tick'], 'contains quotes'),
    (['a\\b'], 'contains a backslash'),
    (['^x'], "contains '^', which cannot be written into the regex without a backslash: use the *_regex option"),
    (['x[1]'], "contains '['"),
    (['x]'], "contains ']'"),
    ([''], 'an empty process name matches nothing'),
    (['café'], "contains 'é': only printable ASCII is accepted"),
    ([3], '3 is not a process name'),
    ('sshd', 'must be a list'),
])
def test_bad_names_are_refused_clearly(names, message):
    with pytest.raises(ValueError) as err:
        build_name_regex(names)
    assert message in str(err.value)


def test_every_bad_name_is_listed_at_once():
    with pytest.raises(ValueError) as err:
        build_name_regex(['ok', 'a b', '^x', 'fine'])
    assert "'a b' contains whitespace" in str(err.value) and "'^x' contains '^'" in str(err.value)


def test_escape_name_leaves_plain_characters_alone():
    assert escape_name('nginx: worker') == 'nginx: worker'  # whitespace is refused before escaping
    assert escape_name('a.b') == 'a[.]b'


@pytest.mark.parametrize('rx', ['^(sshd|nginx)$', '^php-fpm[0-9.]+$', '^[[:alpha:]]+$', '(^|/)(init|sshd)$', 'a{1,2}'])
def test_validate_regex_accepts_posix_ere(rx):
    assert validate_regex(rx) == rx
    assert posix_regex_error(rx) == ''


@pytest.mark.parametrize('rx, message', [
    ('', 'must be a non-empty POSIX extended regex'),
    (None, 'must be a non-empty POSIX extended regex'),
    ('^(a b)$', 'contains whitespace'),
    ("'^(sshd)$'", 'contains quotes'),
    ('^sshd\\.x$', 'contains a backslash: systemd splits $EARLYOOM_ARGS at whitespace and passes quotes and backslashes '
                   'on literally (use bracket expressions such as [.] instead of backslashes)'),
    ('(?i)sshd', 'Perl/Python syntax, not POSIX extended regex'),
    ('^(sshd', 'is not a valid POSIX extended regex: Unmatched ('),
    ('*sshd', 'is not a valid POSIX extended regex'),
    ('caf\u00e9', 'only printable ASCII'),
])
def test_validate_regex_refuses_clearly(rx, message):
    with pytest.raises(ValueError) as err:
        validate_regex(rx, 'avoid_regex')
    assert message in str(err.value)
    if rx:
        assert str(err.value).startswith('avoid_regex ')


def test_validate_regex_falls_back_to_python_without_a_c_library(monkeypatch):
    monkeypatch.setattr(earlyoom, '_libc', lambda: None)
    assert posix_regex_error('^(a)$') is None
    assert validate_regex('^(sshd|nginx)$') == '^(sshd|nginx)$'
    with pytest.raises(ValueError, match='is not a valid regex'):
        validate_regex('^(sshd')


@pytest.mark.parametrize('text, version', [
    ('earlyoom 1.7\n', (1, 7, 0)),
    ('earlyoom v1.7\n', (1, 7, 0)),
    ('earlyoom v1.8.2\n', (1, 8, 2)),
    ('earlyoom 1.8.1\n', (1, 8, 1)),
    ('\nearlyoom 1.8\n', (1, 8, 0)),
    ('1.7-2', (1, 7, 0)),
    ('1.8.2-1+b1', (1, 8, 2)),
    ('v1.8', (1, 8, 0)),
])
def test_parse_version(text, version):
    assert parse_version(text) == version


@pytest.mark.parametrize('text', ['', None, 'earlyoom *** unknown version ***', 'earlyoom', 'bash: earlyoom: not found'])
def test_parse_version_refuses_text_without_a_version(text):
    with pytest.raises(ValueError, match='could not read an earlyoom version'):
        parse_version(text)


def test_build_args_from_structured_options():
    options = {'mem_min_percent': [10, 5], 'swap_min_percent': [20, 10], 'report_interval': 300,
               'prefer': ['hysteria', 'tuic-server'], 'avoid': ['sshd', 'nginx'], 'ignore': None, 'prefer_regex': None,
               'sort_by_rss': False, 'extra_args': []}
    assert build_args(options, (1, 7, 0)) == ARGS


def test_build_args_edge_forms():
    assert build_args({}) == []
    assert build_args({'mem_min_percent': [15], 'report_interval': 0}) == ['-m', '15', '-r', '0']
    assert build_args({'mem_min_percent': [99, 99], 'swap_min_percent': [100]}) == ['-m', '99,99', '-s', '100']
    assert build_args({'prefer': [], 'avoid_regex': '^(sshd|nginx)$', 'ignore': [], 'sort_by_rss': False}, (1, 7, 0)) == [
        '--avoid', '^(sshd|nginx)$']
    extra = ['-n', '-N', '/usr/local/bin/notify', '-g', '--ignore-root-user', '-M', '65536']
    assert build_args({'ignore': ['sshd'], 'sort_by_rss': True, 'extra_args': extra},
                      (1, 8, 2)) == ['--ignore', '^(sshd)$', '--sort-by-rss', '-n', '-N', '/usr/local/bin/notify', '-g',
                                     '--ignore-root-user', '-M', '65536']


def test_build_args_passes_name_warnings_on():
    warnings = []
    assert build_args({'avoid': ['systemd-journald']}, None, warnings) == ['--avoid', '^(systemd-journal)$']
    assert len(warnings) == 1 and warnings[0].startswith("avoid: process name 'systemd-journald' is longer")


@pytest.mark.parametrize('options, message', [
    ({'mem_min_percent': [100]}, 'mem_min_percent: SIGTERM percent 100 is outside 1..99 (earlyoom -m accepts at most 99)'),
    ({'mem_min_percent': [150, 5]}, 'SIGTERM percent 150 is outside 1..99'),
    ({'swap_min_percent': [101]}, 'swap_min_percent: SIGTERM percent 101 is outside 1..100'),
    ({'mem_min_percent': [0]}, 'SIGTERM percent 0 is outside 1..99'),
    ({'mem_min_percent': [10, 20]}, 'mem_min_percent: SIGKILL percent 20 must be above 0 and at most the SIGTERM percent 10'),
    ({'swap_min_percent': [10, 0]}, 'swap_min_percent: SIGKILL percent 0 must be above 0'),
    ({'mem_min_percent': [10, 5, 1]}, 'must be [SIGTERM percent] or [SIGTERM percent, SIGKILL percent]'),
    ({'mem_min_percent': []}, 'must be [SIGTERM percent] or [SIGTERM percent, SIGKILL percent]'),
    ({'mem_min_percent': ['ten']}, "mem_min_percent: 'ten' is not a whole percent"),
    ({'mem_min_percent': [True]}, 'True is not a whole percent'),
    ({'report_interval': -1}, 'report_interval must be a whole number of seconds, 0 or more'),
    ({'prefer': ['java'], 'prefer_regex': '^(java)$'}, 'prefer and prefer_regex are mutually exclusive'),
    ({'avoid': ['ssh d']}, "avoid: process name 'ssh d' contains whitespace"),
    ({'ignore_regex': '^(a'}, "ignore_regex '^(a' is not a valid POSIX extended regex"),
    ({'prefer_regex': ''}, 'prefer_regex must be a non-empty POSIX extended regex'),
    ({'extra_args': ['-m', '5']}, 'extra_args: -m is set through the mem_min_percent option'),
    ({'extra_args': ['-r3600']}, 'extra_args: -r3600 is set through the report_interval option'),
    ({'extra_args': ['--prefer=java']}, 'extra_args: --prefer=java is set through the prefer option'),
    ({'extra_args': ['--sort']}, 'extra_args: --sort is set through the sort_by_rss option'),
    ({'extra_args': ['-v']}, 'extra_args: -v makes earlyoom print and exit instead of running'),
    ({'extra_args': ['--help']}, 'makes earlyoom print and exit'),
    ({'extra_args': ['-N /bin/x']}, "extra_args: '-N /bin/x' contains whitespace"),
    ({'extra_args': ["--avoid='x'"]}, 'contains quotes'),
    ({'extra_args': ['']}, "extra_args: '' is not a non-empty string"),
    ({'extra_args': '-n'}, 'extra_args must be a list of single arguments'),
])
def test_build_args_refuses_bad_options(options, message):
    with pytest.raises(ValueError) as err:
        build_args(options, (1, 8, 2))
    assert message in str(err.value)


@pytest.mark.parametrize('options', [{'ignore': ['sshd']}, {'ignore_regex': '^(sshd)$'}, {'sort_by_rss': True}])
def test_options_new_in_1_8_are_refused_on_1_7(options):
    key = list(options)[0]
    with pytest.raises(ValueError) as err:
        build_args(options, (1, 7, 0))
    assert str(err.value) == '%s needs earlyoom 1.8 or later, this host has 1.7.0 (Debian 12 ships 1.7, Debian 13 ships 1.8)' % key
    assert build_args(options, (1, 8, 0))
    assert build_args(options, None), 'unknown version (check mode before install): not gated'


def test_every_problem_is_listed_at_once():
    with pytest.raises(ValueError) as err:
        build_args({'mem_min_percent': [100], 'avoid': ['^x'], 'sort_by_rss': True, 'extra_args': ['-v']}, (1, 7, 0))
    text = str(err.value)
    for part in ('outside 1..99', "'^x' contains '^'", 'sort_by_rss needs earlyoom 1.8', '-v makes earlyoom print'):
        assert part in text


def test_render_and_parse_round_trip():
    text = render_default_file(ARGS, 'Ansible managed: lowmem.vps.earlyoom')
    assert text == ('# Ansible managed: lowmem.vps.earlyoom\n'
                    'EARLYOOM_ARGS="-m 10,5 -s 20,10 -r 300 --prefer ^(hysteria|tuic-server)$ --avoid ^(sshd|nginx)$"\n')
    assert parse_default_file(text) == ARGS
    assert parse_default_file(render_default_file([], '')) == []
    assert render_default_file([], '') == 'EARLYOOM_ARGS=""\n'


def test_render_header_lines():
    text = render_default_file(['-r', '3600'], 'Managed by Ansible\n\n# do not edit\n')
    assert text == '# Managed by Ansible\n#\n# do not edit\nEARLYOOM_ARGS="-r 3600"\n'


@pytest.mark.parametrize('token', ['a b', "'x'", 'a\\b', ''])
def test_render_refuses_arguments_systemd_would_change(token):
    with pytest.raises(ValueError, match='cannot pass through'):
        render_default_file(['-m', '10', token])


def test_parse_debian_file_and_quotes_as_systemd_passes_them():
    assert parse_default_file(DEBIAN_DEFAULT) == ['-r', '3600']
    # The quoting people copy from the README: systemd passes the single quotes on to earlyoom.
    assert parse_default_file('EARLYOOM_ARGS="-m 5 --avoid \'(^|/)(init|sshd)$\'"\n') == [
        '-m', '5', '--avoid', "'(^|/)(init|sshd)$'"]
    assert parse_default_file('EARLYOOM_ARGS=-r 60\nexport EARLYOOM_ARGS="-m 7"\n') == ['-m', '7']
    assert parse_default_file(None) == []
    assert parse_default_file('# EARLYOOM_ARGS="-m 5"\n') == []


def test_journal_1_7_last_block_wins():
    parsed = parse_startup_journal(JOURNAL_17)
    assert parsed == {'version': '1.7.0', 'prefer': '^(hysteria|tuic-server)$', 'avoid': '^(sshd|nginx)$', 'ignore': None,
                      'mem_term_percent': 10.0, 'mem_kill_percent': 5.0, 'swap_term_percent': 20.0,
                      'swap_kill_percent': 10.0, 'errors': []}
    assert check_echo(ARGS, parsed) == []


def test_journal_1_8_last_block_wins_and_kill_lines_are_not_thresholds():
    parsed = parse_startup_journal(JOURNAL_18)
    assert parsed['version'] == '1.8.2' and parsed['ignore'] == '^(systemd-journal)$'
    assert (parsed['mem_term_percent'], parsed['mem_kill_percent']) == (10.0, 5.0)
    assert (parsed['swap_term_percent'], parsed['swap_kill_percent']) == (20.0, 10.0)
    assert check_echo(ARGS + ['--ignore', '^(systemd-journal)$'], parsed) == []
    assert check_echo(ARGS, parsed) == ["ignore: expected none, earlyoom uses '^(systemd-journal)$'"]


def test_journal_first_block_only_and_colour_codes():
    parsed = parse_startup_journal(JOURNAL_18.split('earlyoom 1.8.2\n')[1].join(['earlyoom v1.8.2\n', '']))
    assert parsed['prefer'] is None and parsed['swap_term_percent'] == 10.0
    coloured = '\x1b[33mearlyoom 1.8.2\x1b[0m\nsending SIGTERM when mem avail <= 12.00% and swap free <= 100.00%,\n'
    parsed = parse_startup_journal(coloured)
    assert parsed['mem_term_percent'] == 12.0 and parsed['swap_term_percent'] == 100.0 and parsed['mem_kill_percent'] is None


def test_journal_without_a_start():
    assert parse_startup_journal('') == {}
    assert parse_startup_journal('-- No entries --\n') == {}
    assert check_echo(ARGS, {}) == [
        'the journal holds no startup lines of earlyoom for this boot (no "earlyoom <version>" line)']


def test_a_start_that_failed_reports_what_earlyoom_said():
    text = JOURNAL_17 + ("earlyoom 1.7\n/usr/bin/earlyoom: unrecognized option '--sort-by-rss'\n"
                         "Try 'earlyoom --help' for more information.\n")
    parsed = parse_startup_journal(text)
    assert parsed['errors'] == ["/usr/bin/earlyoom: unrecognized option '--sort-by-rss'"]
    mismatches = check_echo(['--sort-by-rss'], parsed)
    assert mismatches[0] == "earlyoom said: /usr/bin/earlyoom: unrecognized option '--sort-by-rss'"
    assert 'mem_term_percent: expected 10.00%, earlyoom logged no threshold' in mismatches
    fatal = parse_startup_journal("earlyoom 1.8.2\nfatal: could not compile regexp '^(a'\n")
    assert fatal['errors'] == ["fatal: could not compile regexp '^(a'"]


def test_check_echo_defaults_and_half_kill():
    # No -s: earlyoom's default 10/5; -m 15 alone: SIGKILL at 7.5.
    echo = ('earlyoom 1.8.2\nsending SIGTERM when mem avail <= 15.00% and swap free <= 10.00%,\n'
            '        SIGKILL when mem avail <=  7.50% and swap free <=  5.00%\n')
    assert check_echo(['-m', '15'], parse_startup_journal(echo)) == []
    assert check_echo(['-m', '15', '-s', '10,6'], parse_startup_journal(echo)) == [
        'swap_kill_percent: expected 6.00%, earlyoom uses 5.00%']


def test_check_echo_mismatches():
    parsed = parse_startup_journal(JOURNAL_17.split('mem avail:   301', maxsplit=1)[0])  # the boot start with Debian's own file
    assert check_echo(ARGS, parsed) == [
        'swap_term_percent: expected 20.00%, earlyoom uses 10.00%',
        'swap_kill_percent: expected 10.00%, earlyoom uses 5.00%',
        "prefer: expected '^(hysteria|tuic-server)$', earlyoom logged no prefer regex",
        "avoid: expected '^(sshd|nginx)$', earlyoom logged no avoid regex",
    ]
    other = dict(parse_startup_journal(JOURNAL_17), avoid='^(sshd)$')
    assert check_echo(ARGS, other) == ["avoid: expected '^(sshd|nginx)$', earlyoom uses '^(sshd)$'"]


def test_check_echo_skips_thresholds_set_by_size():
    parsed = parse_startup_journal('earlyoom 1.8.2\nsending SIGTERM when mem avail <=  3.21% and swap free <= 10.00%,\n'
                                   '        SIGKILL when mem avail <=  1.60% and swap free <=  5.00%\n')
    assert check_echo(['-M', '65536,32768'], parsed) == []
    assert check_echo(['-m', '10', '-M', '65536'], parsed) == []
    assert check_echo(['-M', '65536', '--prefer=^(x)$'], parsed) == ["prefer: expected '^(x)$', earlyoom logged no prefer regex"]


class FakeJournal(object):
    """A runner that answers journalctl with one text after another (the last one repeats)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer if isinstance(answer, tuple) else (0, answer, '')


def test_read_startup_runs_journalctl_with_list_args():
    runner = FakeJournal(JOURNAL_17)
    parsed, problem = read_startup(runner, '/usr/bin/journalctl')
    assert problem is None and parsed['avoid'] == '^(sshd|nginx)$'
    assert runner.calls == [['/usr/bin/journalctl', '-u', 'earlyoom', '-b', '--no-pager', '-o', 'cat']]
    assert list(JOURNAL_COMMAND) == ['journalctl', '-u', 'earlyoom', '-b', '--no-pager', '-o', 'cat']


def test_verify_retries_until_the_new_start_is_logged():
    old = JOURNAL_17.split('mem avail:   301', maxsplit=1)[0]
    runner = FakeJournal(old, old, JOURNAL_17)
    sleeps = []
    parsed, mismatches = verify_echo(runner, ARGS, attempts=5, delay=0.5, sleep=sleeps.append)
    assert mismatches == [] and parsed['prefer'] == '^(hysteria|tuic-server)$'
    assert len(runner.calls) == 3 and sleeps == [0.5, 0.5]


def test_verify_gives_up_with_the_last_mismatches():
    runner = FakeJournal(JOURNAL_17)
    sleeps = []
    parsed, mismatches = verify_echo(runner, ['-m', '20'], attempts=3, delay=0.5, sleep=sleeps.append)
    assert len(runner.calls) == 3 and len(sleeps) == 2
    assert 'mem_term_percent: expected 20.00%, earlyoom uses 10.00%' in mismatches


def test_verify_reports_a_failing_journalctl():
    runner = FakeJournal((1, '', 'Failed to get journal access: Permission denied\n'))
    parsed, mismatches = verify_echo(runner, ARGS, attempts=2, delay=0, sleep=lambda seconds: None)
    assert parsed == {}
    assert mismatches == ['journalctl failed (rc=1): Failed to get journal access: Permission denied']
