# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""journald_caps' logic: the drop-in's text (byte for byte what the log_caps role's template wrote), the checks made
before anything is written, and run() with a fake runner that records every command and answers as journalctl does."""
from __future__ import annotations

import os

import jinja2
import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.errors import PartialFailure, RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.journald_caps import (
    DEFAULT_HEADER, DEFAULT_PATH, JournaldCapsError, JournaldCapsFailure, check_settings, check_vacuum_size,
    parse_usage, render_dropin, run,
)
from ansible_collections.lowmem.vps.plugins.module_utils.result import Context

# `journalctl --disk-usage` on Debian 12 (systemd 252.38-1~deb12u1), captured on the machine these tests were written
# on, which had no journal files: rc 0, this line on stdout, "No journal files were found." on stderr.
USAGE_NONE = 'Archived and active journals take up 0B in the file system.\n'
USAGE_NONE_ERR = 'No journal files were found.\n'
# The same line with journal files (systemd 252 prints the size with format_bytes(): 24.0M, 8.0M, 1.2G).
USAGE_BEFORE = 'Archived and active journals take up 24.0M in the file system.\n'
USAGE_AFTER = 'Archived and active journals take up 8.0M in the file system.\n'

# The log_caps role's defaults (roles/log_caps/defaults/main.yml), in their order.
ROLE_SETTINGS = {'Storage': 'persistent', 'SystemMaxUse': '128M', 'SystemKeepFree': '512M', 'RuntimeMaxUse': '16M',
                 'MaxRetentionSec': '7day', 'RateLimitIntervalSec': '30s', 'RateLimitBurst': 1000}
# roles/log_caps/templates/journald.conf.j2 as it was before this module replaced it.
OLD_TEMPLATE = '''\
{{ ansible_managed | comment }}
# Caps from lowmem.vps (log_caps role): journald may not take the disk or the RAM of a small box.
[Journal]
{% for key, value in log_caps_journald_settings.items() %}
{{ key }}={{ value }}
{% endfor %}
'''
# What the role's template task wrote for the defaults: ansible-core 2.19.14's template module, output captured.
OLD_FILE = '''\
#
# Ansible managed
#
# Caps from lowmem.vps (log_caps role): journald may not take the disk or the RAM of a small box.
[Journal]
Storage=persistent
SystemMaxUse=128M
SystemKeepFree=512M
RuntimeMaxUse=16M
MaxRetentionSec=7day
RateLimitIntervalSec=30s
RateLimitBurst=1000
'''
# The header the role passes: lookup('ansible.builtin.config', 'DEFAULT_MANAGED_STR') | comment.
ROLE_HEADER = '#\n# Ansible managed\n#'


class FakeRunner(object):
    """systemctl restart and journalctl --disk-usage / --rotate --vacuum-size=, each call recorded with its locale; a
    restart and a vacuum take the footprint from ``before`` to ``after``. ``fail`` = {command text: (rc, out, err)}."""

    def __init__(self, before=USAGE_BEFORE, after=USAGE_AFTER, err='', fail=None):
        self.usage, self.after, self.err = before, after, err
        self.fail = fail or {}
        self.calls = []

    def __call__(self, args, environ_update=None):
        self.calls.append((list(args), dict(environ_update or {})))
        command = self.text(args)
        if command in self.fail:
            return self.fail[command]
        if command == 'systemctl restart systemd-journald':
            return 0, '', ''
        if command == 'journalctl --disk-usage':
            return 0, self.usage, self.err
        if command.startswith('journalctl --rotate --vacuum-size='):
            self.usage = self.after
            return 0, '', 'Vacuuming done, freed 16.0M of archived journals from /var/log/journal/0123.\n'
        raise AssertionError('unexpected command %r' % (args,))

    @staticmethod
    def text(args):
        return ' '.join([os.path.basename(args[0])] + list(args[1:]))

    def commands(self):
        return [self.text(args) for args, _env in self.calls]


def which(name):
    return '/usr/bin/' + name


@pytest.fixture
def context(ansible_module):
    """context(check_mode=False, **params) -> a result.Context around a real AnsibleModule with these params."""
    def build(check_mode=False, **params):
        module = ansible_module(check_mode)
        module.params = dict(dict(settings=ROLE_SETTINGS, path=DEFAULT_PATH, header=ROLE_HEADER, vacuum_size=None,
                                  apply=True), **params)
        return Context(module)
    return build


@pytest.fixture
def dropin(tmp_path):
    """The drop-in's path; journald.conf.d does not exist yet, its parent (/etc/systemd) does."""
    (tmp_path / 'systemd').mkdir()
    return tmp_path / 'systemd' / 'journald.conf.d' / '50-lowmem-log-caps.conf'


# ---------------------------------------------------------------- the text

def test_the_role_defaults_render_byte_for_byte_as_the_old_template():
    from ansible.plugins.filter.core import comment
    # The Ansible template module renders with trim_blocks on.
    old = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True)
    old.filters['comment'] = comment
    rendered = old.from_string(OLD_TEMPLATE).render(ansible_managed='Ansible managed',
                                                    log_caps_journald_settings=ROLE_SETTINGS)
    assert rendered == OLD_FILE
    assert comment('Ansible managed') == ROLE_HEADER
    assert render_dropin(check_settings(ROLE_SETTINGS), ROLE_HEADER) == OLD_FILE


def test_plain_header_booleans_and_order():
    text = render_dropin(check_settings({'SystemMaxUse': '64M', 'Compress': True, 'Seal': False, 'MaxFileSec': ''}))
    assert text == ('# %s\n# Caps from lowmem.vps (log_caps role): journald may not take the disk or the RAM of a small '
                    'box.\n[Journal]\nSystemMaxUse=64M\nCompress=yes\nSeal=no\nMaxFileSec=\n' % DEFAULT_HEADER)


@pytest.mark.parametrize('settings, message', [
    ({'System MaxUse': '128M'}, "key 'System MaxUse' is not a journald.conf key"),
    ({'SystemMaxUse\n': '128M'}, "key 'SystemMaxUse\\n' is not a journald.conf key"),
    ({'Max_Use': '1'}, "key 'Max_Use'"),
    ({'SystemMaxUse': '128 M'}, "SystemMaxUse: '128 M' contains whitespace or '='"),
    ({'SystemMaxUse': 'a=b'}, "SystemMaxUse: 'a=b' contains whitespace or '='"),
    ({'SystemMaxUse': ['128M']}, "SystemMaxUse: ['128M'] is not a single value"),
    ('SystemMaxUse=128M', 'settings must map'),
])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(JournaldCapsError) as raised:
        check_settings(settings)
    assert message in str(raised.value)
    assert issubclass(JournaldCapsError, RefusedError) and issubclass(JournaldCapsFailure, PartialFailure)


def test_every_bad_setting_is_named_at_once():
    with pytest.raises(JournaldCapsError) as raised:
        check_settings({'a b': 1, 'Storage': 'x y', 'SystemMaxUse': '128M'})
    assert str(raised.value).count(';') == 1


@pytest.mark.parametrize('given, settings, size', [
    (None, ROLE_SETTINGS, '128M'), (None, {}, '128M'), ('1.5G', ROLE_SETTINGS, '1.5G'), (None, {'SystemMaxUse': 1024}, '1024'),
])
def test_vacuum_size(given, settings, size):
    assert check_vacuum_size(given, settings) == size


@pytest.mark.parametrize('given, settings', [('128 M', {}), ('10%', {}), (None, {'SystemMaxUse': '10%'}), ('-1', {})])
def test_a_vacuum_size_journalctl_would_refuse_is_refused_first(given, settings):
    with pytest.raises(JournaldCapsError, match='is not a size journalctl takes'):
        check_vacuum_size(given, settings)


def test_parse_usage():
    assert parse_usage(USAGE_NONE) == '0B' and parse_usage(USAGE_BEFORE) == '24.0M'
    assert parse_usage('') is None and parse_usage(None) is None and parse_usage('No journal files were found.') is None


# ---------------------------------------------------------------- run

def test_first_run_writes_restarts_rotates_and_vacuums_once_then_a_rerun_runs_nothing(context, dropin):
    runner = FakeRunner()
    ctx = context(path=str(dropin))
    result = run(ctx, runner=runner, which=which)
    assert dropin.read_text() == OLD_FILE and oct(dropin.stat().st_mode & 0o7777) == '0o644'
    assert oct(dropin.parent.stat().st_mode & 0o7777) == '0o755'
    assert runner.commands() == ['journalctl --disk-usage', 'systemctl restart systemd-journald',
                                 'journalctl --rotate --vacuum-size=128M', 'journalctl --disk-usage']
    assert [args[0] for args, _env in runner.calls] == ['/usr/bin/journalctl', '/usr/bin/systemctl',
                                                        '/usr/bin/journalctl', '/usr/bin/journalctl']
    assert result['changed'] and ctx.changed
    assert result['usage_before'] == '24.0M' and result['usage_after'] == '8.0M' and result['vacuum_size'] == '128M'
    assert result['actions'] == ['write %s' % dropin, 'systemctl restart systemd-journald',
                                 'journalctl --rotate --vacuum-size=128M']
    assert result['diff']['before_header'] == '%s (absent)' % dropin and result['diff']['after'] == OLD_FILE

    again = FakeRunner()
    ctx = context(path=str(dropin))
    second = run(ctx, runner=again, which=which)
    assert again.calls == [] and not second['changed'] and not ctx.changed
    assert second['usage_before'] is None and second['usage_after'] is None and second['actions'] == []
    assert dropin.read_text() == OLD_FILE


def test_new_caps_over_old_ones_vacuum_to_the_new_system_max_use(context, dropin):
    dropin.parent.mkdir()
    dropin.write_text(OLD_FILE)
    runner = FakeRunner()
    result = run(context(path=str(dropin), settings=dict(ROLE_SETTINGS, SystemMaxUse='64M')), runner=runner, which=which)
    assert 'SystemMaxUse=64M\n' in dropin.read_text() and result['diff']['before'] == OLD_FILE
    assert runner.commands()[2] == 'journalctl --rotate --vacuum-size=64M'
    result = run(context(path=str(dropin), vacuum_size='32M', settings={'SystemMaxUse': '48M'}), runner=FakeRunner(),
                 which=which)
    assert result['actions'][-1] == 'journalctl --rotate --vacuum-size=32M'


def test_real_output_without_journal_files(context, dropin):
    result = run(context(path=str(dropin)), runner=FakeRunner(USAGE_NONE, USAGE_NONE, USAGE_NONE_ERR), which=which)
    assert result['usage_before'] == '0B' and result['usage_after'] == '0B'


def test_check_mode_writes_nothing_and_only_reads_the_footprint(context, dropin):
    runner = FakeRunner()
    ctx = context(check_mode=True, path=str(dropin))
    result = run(ctx, runner=runner, which=which)
    assert result['changed'] and not ctx.changed and not dropin.parent.exists()
    assert runner.commands() == ['journalctl --disk-usage']
    assert result['usage_before'] == '24.0M' and result['usage_after'] is None and result['actions'] == []
    assert result['diff']['after'] == OLD_FILE


def test_apply_false_writes_the_file_and_runs_nothing(context, dropin):
    runner = FakeRunner()
    result = run(context(path=str(dropin), apply=False), runner=runner, which=which)
    assert runner.calls == [] and result['changed'] and dropin.read_text() == OLD_FILE
    assert result['usage_before'] is None and result['actions'] == ['write %s' % dropin]


def test_a_mode_fix_alone_runs_no_command(context, dropin):
    dropin.parent.mkdir()
    dropin.write_text(OLD_FILE)
    dropin.chmod(0o600)
    runner = FakeRunner()
    result = run(context(path=str(dropin)), runner=runner, which=which)
    assert result['changed'] and runner.calls == [] and oct(dropin.stat().st_mode & 0o7777) == '0o644'


@pytest.mark.parametrize('settings', [{'Storage': 'persistent', 'Bad Key': 1}, {'SystemMaxUse': 'a=b'},
                                      {'SystemMaxUse': '128 M'}])
def test_bad_settings_write_and_run_nothing(context, dropin, settings):
    runner = FakeRunner()
    ctx = context(path=str(dropin), settings=settings)
    with pytest.raises(JournaldCapsError):
        run(ctx, runner=runner, which=which)
    assert runner.calls == [] and not dropin.parent.exists() and not ctx.changed


def test_missing_commands_are_refused_before_the_write(context, dropin):
    ctx = context(path=str(dropin))
    with pytest.raises(JournaldCapsError, match='systemctl is not installed'):
        run(ctx, runner=FakeRunner(), which=lambda name: None if name == 'systemctl' else which(name))
    assert not dropin.parent.exists() and not ctx.changed


def test_a_failing_first_read_is_refused_before_the_write(context, dropin):
    runner = FakeRunner(fail={'journalctl --disk-usage': (1, '', 'Failed to get disk usage: Permission denied\n')})
    ctx = context(path=str(dropin))
    with pytest.raises(JournaldCapsError, match='Permission denied'):
        run(ctx, runner=runner, which=which)
    assert not dropin.parent.exists() and not ctx.changed


@pytest.mark.parametrize('failing, done', [
    ('systemctl restart systemd-journald', 1),
    ('journalctl --rotate --vacuum-size=128M', 2),
])
def test_a_failure_after_the_write_is_a_partial_failure_with_the_diff(context, dropin, failing, done):
    runner = FakeRunner(fail={failing: (1, '', 'Job for systemd-journald.service failed.\n')})
    ctx = context(path=str(dropin))
    with pytest.raises(JournaldCapsFailure) as raised:
        run(ctx, runner=runner, which=which)
    assert dropin.read_text() == OLD_FILE and ctx.changed and ctx.diffs[0]['after'] == OLD_FILE
    assert '`%s` failed (rc=1): Job for systemd-journald.service failed.' % failing in str(raised.value)
    assert raised.value.result['diff']['after'] == OLD_FILE and len(raised.value.result['actions']) == done
    assert runner.commands()[-1] == failing
