# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.grub import (
    GrubError, cmdline_differs, cmdline_value, cmdline_values, default_boot_release, find_assignments, find_overrides, grub_d_files,
    merge_tokens, parse_grubenv, read_cmdline, release_in_entry, remove_keys, set_cmdline_tokens, split_tokens, token_key, token_value,
)

# /etc/default/grub as Debian 12 (grub2 2.06) installs it.
BOOKWORM_GRUB = """\
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
# For full documentation of the options in this file, see:
#   info -f grub -n 'Simple configuration'

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX=""

# If your computer has multiple operating systems installed, then you
# probably want to run os-prober. However, if your computer is a host
# for guest OSes installed via LVM or raw disk devices, running
# os-prober can cause those to be added to the boot menu without
# asking you.
#GRUB_DISABLE_OS_PROBER=false

# Uncomment to enable BadRAM filtering, modify to suit your needs
# This works with Linux (no patch required) and with any kernel that obtains
# the memory map information from GRUB (GNU Mach, kernel of FreeBSD ...)
#GRUB_BADRAM="0x01234567,0xfefefefe,0x89abcdef,0xefefefef"

# Uncomment to disable graphical terminal
#GRUB_TERMINAL=console

# Uncomment if you don't want GRUB to pass "root=UUID=xxx" parameter to Linux
#GRUB_DISABLE_LINUX_UUID=true

# Uncomment to disable generation of recovery mode menu entries
#GRUB_DISABLE_RECOVERY="true"

# Uncomment to get a beep at grub start
#GRUB_INIT_TUNE="480 440 1"
"""

# /etc/default/grub of a Debian 13 VPS image: the provider's console and interface-naming tokens.
TRIXIE_VPS_GRUB = """\
# If you change this file or any /etc/default/grub.d/*.cfg file,
# run 'update-grub' afterwards to update /boot/grub/grub.cfg.
# For full documentation of the options in these files, see:
#   info -f grub -n 'Simple configuration'

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`( . /etc/os-release && echo ${NAME} )`
GRUB_CMDLINE_LINUX_DEFAULT="net.ifnames=0 biosdevname=0 console=ttyS0"
GRUB_CMDLINE_LINUX=""

# Uncomment to disable graphical terminal
#GRUB_TERMINAL=console
"""

# A trixie cloud image's grub.d drop-in (sourced after /etc/default/grub).
CLOUD_CFG = """\
# Set the recommended settings for cloud images
GRUB_CMDLINE_LINUX_DEFAULT="console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
GRUB_TIMEOUT=0
"""

ZSWAP = ['zswap.enabled=1', 'zswap.compressor=zstd']


def changed_lines(before, after):
    """(removed, added) lines, so tests prove that every other line stayed byte for byte."""
    old = before.splitlines(True)
    new = after.splitlines(True)
    return [line for line in old if line not in new], [line for line in new if line not in old]


@pytest.mark.parametrize('text, tokens', [
    ('quiet splash', ['quiet', 'splash']),
    ('  quiet\tsplash  ', ['quiet', 'splash']),
    ('', []),
    ('acpi_osi="Windows 2015" quiet', ['acpi_osi="Windows 2015"', 'quiet']),
    (r'acpi_osi=\"Windows 2015\" quiet', [r'acpi_osi=\"Windows 2015\"', 'quiet']),
    ('$GRUB_CMDLINE_LINUX_DEFAULT zswap.enabled=1', ['$GRUB_CMDLINE_LINUX_DEFAULT', 'zswap.enabled=1']),
])
def test_split_tokens_like_the_kernel(text, tokens):
    assert split_tokens(text) == tokens


def test_token_key_and_value():
    assert token_key('zswap.max-pool-percent=20') == 'zswap.max_pool_percent'
    assert token_key('quiet') == 'quiet'
    assert token_value('zswap.compressor=zstd') == 'zstd'
    assert token_value('acpi_osi="Windows 2015"') == 'Windows 2015'
    assert token_value('quiet') is None
    assert token_value('foo=') == ''


def test_merge_replaces_in_place_appends_new_keys_and_keeps_everything_else():
    tokens = ['quiet', 'zswap.compressor=lzo', 'console=tty0', 'console=ttyS0', 'zswap.compressor=lz4']
    assert merge_tokens(tokens, ZSWAP) == ['quiet', 'zswap.compressor=zstd', 'console=tty0', 'console=ttyS0', 'zswap.enabled=1']


def test_merge_treats_dash_and_underscore_alike_and_is_idempotent():
    merged = merge_tokens(['zswap.max-pool-percent=50'], ['zswap.max_pool_percent=20'])
    assert merged == ['zswap.max_pool_percent=20']
    assert merge_tokens(merged, ['zswap.max_pool_percent=20']) == merged


def test_remove_keys():
    assert remove_keys(['quiet', 'zswap.enabled=0', 'zswap.compressor=lzo'], ['zswap.enabled']) == ['quiet', 'zswap.compressor=lzo']


def test_bookworm_default_file_gets_the_runbook_tokens():
    after = set_cmdline_tokens(BOOKWORM_GRUB, ZSWAP)
    assert changed_lines(BOOKWORM_GRUB, after) == (
        ['GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'],
        ['GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=zstd"\n'])
    assert len(after.splitlines()) == len(BOOKWORM_GRUB.splitlines())
    assert set_cmdline_tokens(after, ZSWAP) == after


def test_vps_tokens_are_kept_in_order():
    after = set_cmdline_tokens(TRIXIE_VPS_GRUB, ZSWAP)
    assert 'GRUB_CMDLINE_LINUX_DEFAULT="net.ifnames=0 biosdevname=0 console=ttyS0 zswap.enabled=1 zswap.compressor=zstd"\n' in after
    assert changed_lines(TRIXIE_VPS_GRUB, after)[0] == ['GRUB_CMDLINE_LINUX_DEFAULT="net.ifnames=0 biosdevname=0 console=ttyS0"\n']
    assert 'GRUB_DISTRIBUTOR=`( . /etc/os-release && echo ${NAME} )`\n' in after


def test_lzo_to_zstd_switch_replaces_the_old_token():
    text = 'GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=lzo net.ifnames=0"\n'
    assert set_cmdline_tokens(text, ZSWAP) == 'GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=zstd net.ifnames=0"\n'


def test_interrupted_or_repeated_edits_converge_on_one_set_of_tokens():
    # What a sed-based run appending on every try leaves behind, then a rerun.
    text = ('GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=lzo zswap.enabled=1 '
            'zswap.compressor=zstd zswap.compressor=zstd"\n')
    once = set_cmdline_tokens(text, ZSWAP)
    assert once == 'GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=zstd"\n'
    assert set_cmdline_tokens(once, ZSWAP) == once


@pytest.mark.parametrize('line, expected', [
    ("GRUB_CMDLINE_LINUX_DEFAULT='quiet'", "GRUB_CMDLINE_LINUX_DEFAULT='quiet zswap.enabled=1 zswap.compressor=zstd'"),
    ('GRUB_CMDLINE_LINUX_DEFAULT=quiet', 'GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=zstd"'),
    ('GRUB_CMDLINE_LINUX_DEFAULT=', 'GRUB_CMDLINE_LINUX_DEFAULT="zswap.enabled=1 zswap.compressor=zstd"'),
    ('GRUB_CMDLINE_LINUX_DEFAULT=""', 'GRUB_CMDLINE_LINUX_DEFAULT="zswap.enabled=1 zswap.compressor=zstd"'),
    ('GRUB_CMDLINE_LINUX_DEFAULT="quiet"  # set by the installer',
     'GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=zstd"  # set by the installer'),
    ('export GRUB_CMDLINE_LINUX_DEFAULT="quiet"', 'export GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=zstd"'),
    ('  GRUB_CMDLINE_LINUX_DEFAULT="quiet";', '  GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=zstd";'),
    (r'GRUB_CMDLINE_LINUX_DEFAULT="acpi_osi=\"Windows 2015\" quiet"',
     r'GRUB_CMDLINE_LINUX_DEFAULT="acpi_osi=\"Windows 2015\" quiet zswap.enabled=1 zswap.compressor=zstd"'),
])
def test_quoting_styles_are_kept(line, expected):
    assert set_cmdline_tokens(line + '\n', ZSWAP) == expected + '\n'


def test_unquoted_single_token_stays_unquoted():
    assert set_cmdline_tokens('GRUB_CMDLINE_LINUX_DEFAULT=\n', ['zswap.enabled=1']) == 'GRUB_CMDLINE_LINUX_DEFAULT=zswap.enabled=1\n'


def test_absent_variable_is_added_after_grub_cmdline_linux():
    text = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="console=ttyS0"\n# end\n'
    assert set_cmdline_tokens(text, ZSWAP) == (
        'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="console=ttyS0"\nGRUB_CMDLINE_LINUX_DEFAULT="zswap.enabled=1 zswap.compressor=zstd"\n# end\n')


def test_absent_variable_is_appended_and_missing_final_newline_is_handled():
    assert set_cmdline_tokens('GRUB_TIMEOUT=5', ZSWAP) == 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="zswap.enabled=1 zswap.compressor=zstd"\n'
    assert set_cmdline_tokens('GRUB_CMDLINE_LINUX=""', ZSWAP) == 'GRUB_CMDLINE_LINUX=""\nGRUB_CMDLINE_LINUX_DEFAULT="zswap.enabled=1 zswap.compressor=zstd"'
    assert set_cmdline_tokens('', ZSWAP) == 'GRUB_CMDLINE_LINUX_DEFAULT="zswap.enabled=1 zswap.compressor=zstd"\n'


def test_commented_assignment_is_not_an_assignment():
    text = '#GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.compressor=lzo"\n'
    assert set_cmdline_tokens(text, ZSWAP) == text + 'GRUB_CMDLINE_LINUX_DEFAULT="zswap.enabled=1 zswap.compressor=zstd"\n'


def test_crlf_and_other_lines_survive_byte_for_byte():
    text = 'GRUB_TIMEOUT=5\r\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\r\n#  trailing   spaces   \r\n'
    assert set_cmdline_tokens(text, ZSWAP) == (
        'GRUB_TIMEOUT=5\r\nGRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.enabled=1 zswap.compressor=zstd"\r\n#  trailing   spaces   \r\n')


def test_unchanged_line_keeps_its_spacing():
    text = 'GRUB_CMDLINE_LINUX_DEFAULT="quiet   zswap.enabled=1  zswap.compressor=zstd"\n'
    assert set_cmdline_tokens(text, ZSWAP) == text


def test_several_assignments_merge_into_the_last_and_lose_duplicates_elsewhere():
    text = ('GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.compressor=lzo"\n'
            'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT console=ttyS0"\n')
    assert set_cmdline_tokens(text, ZSWAP) == (
        'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
        'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT console=ttyS0 zswap.enabled=1 zswap.compressor=zstd"\n')


def test_other_variables_are_not_touched():
    text = 'GRUB_CMDLINE_LINUX="zswap.compressor=lzo"\nGRUB_CMDLINE_LINUX_DEFAULT_X="a"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
    after = set_cmdline_tokens(text, ZSWAP)
    assert after.startswith('GRUB_CMDLINE_LINUX="zswap.compressor=lzo"\nGRUB_CMDLINE_LINUX_DEFAULT_X="a"\n')
    assert cmdline_value(after) == ['quiet'] + ZSWAP
    assert cmdline_value(after, 'GRUB_CMDLINE_LINUX') == ['zswap.compressor=lzo']
    assert cmdline_value('GRUB_TIMEOUT=5\n') is None


def test_other_variable_can_be_edited():
    assert set_cmdline_tokens('GRUB_CMDLINE_LINUX=""\n', ['xanmod=1'], 'GRUB_CMDLINE_LINUX') == 'GRUB_CMDLINE_LINUX="xanmod=1"\n'


@pytest.mark.parametrize('line, message', [
    ('GRUB_CMDLINE_LINUX_DEFAULT="quiet\n  splash"', 'continues on the next line'),
    ("GRUB_CMDLINE_LINUX_DEFAULT='quiet", 'continues on the next line'),
    ('GRUB_CMDLINE_LINUX_DEFAULT="quiet"\'splash\'', 'quote the whole value once'),
    ('GRUB_CMDLINE_LINUX_DEFAULT="quiet"$EXTRA', 'quote the whole value once'),
    ('GRUB_CMDLINE_LINUX_DEFAULT=$EXTRA', 'quote the whole value once'),
    ('GRUB_CMDLINE_LINUX_DEFAULT=`cat /etc/cmdline`', 'quote the whole value once'),
])
def test_forms_that_cannot_be_rewritten_safely_are_refused(line, message):
    with pytest.raises(GrubError, match=message):
        set_cmdline_tokens(line + '\n', ZSWAP)


@pytest.mark.parametrize('token', ['zswap.compressor=$(reboot)', 'a b', 'x="y"', "z='1'", '', 'k=`id`', None])
def test_unsafe_tokens_are_refused(token):
    with pytest.raises(GrubError, match='refusing to set'):
        set_cmdline_tokens(BOOKWORM_GRUB, [token])


def test_bad_variable_name_is_refused():
    with pytest.raises(GrubError, match='not a shell variable name'):
        set_cmdline_tokens(BOOKWORM_GRUB, ZSWAP, 'GRUB.*')


def test_find_assignments_reports_quote_and_line():
    found = find_assignments(TRIXIE_VPS_GRUB)
    assert [(item.index, item.quote, item.value) for item in found] == [(8, '"', 'net.ifnames=0 biosdevname=0 console=ttyS0')]


def test_cloud_image_grub_d_replaces_the_value(tmp_path):
    grub_d = tmp_path / 'grub.d'
    grub_d.mkdir()
    (grub_d / '10_cloud.cfg').write_text(CLOUD_CFG)
    (grub_d / '15_timeout.cfg').write_text('GRUB_TIMEOUT=1\n')
    (grub_d / 'README').write_text('GRUB_CMDLINE_LINUX_DEFAULT="not sourced"\n')
    assert find_overrides(['zswap.compressor'], grub_d=str(grub_d)) == [{
        'file': str(grub_d / '10_cloud.cfg'), 'value': 'console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0',
        'replaces': True, 'keys': []}]


def test_grub_d_that_extends_is_an_override_only_for_keys_it_sets(tmp_path):
    grub_d = tmp_path / 'grub.d'
    grub_d.mkdir()
    (grub_d / '50-extend.cfg').write_text('GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT mitigations=off"\n')
    assert find_overrides(['zswap.compressor'], grub_d=str(grub_d)) == []
    (grub_d / '60-zswap.cfg').write_text('GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT} zswap.compressor=lz4"\n')
    assert find_overrides(['zswap.compressor', 'zswap.enabled'], grub_d=str(grub_d)) == [{
        'file': str(grub_d / '60-zswap.cfg'), 'value': '${GRUB_CMDLINE_LINUX_DEFAULT} zswap.compressor=lz4',
        'replaces': False, 'keys': ['zswap.compressor']}]


def test_grub_d_files_are_sorted_like_a_shell_glob_and_missing_dir_is_empty(tmp_path):
    for name in ('50-b.cfg', '10-a.cfg', 'x.cfg.dpkg-old'):
        (tmp_path / name).write_text('')
    assert grub_d_files(str(tmp_path)) == [str(tmp_path / '10-a.cfg'), str(tmp_path / '50-b.cfg')]
    assert grub_d_files(str(tmp_path / 'absent')) == []
    assert find_overrides(['zswap.enabled'], grub_d=str(tmp_path / 'absent')) == []


def test_unparsable_grub_d_file_is_reported(tmp_path):
    (tmp_path / '20-odd.cfg').write_text('GRUB_CMDLINE_LINUX_DEFAULT="a\nb"\n')
    found = find_overrides(['zswap.enabled'], grub_d=str(tmp_path))
    assert len(found) == 1 and 'continues on the next line' in found[0]['problem']


# /proc/cmdline of the lab VM booted through GRUB, before and after the zswap tokens.
CMDLINE_BEFORE = 'BOOT_IMAGE=/boot/vmlinuz-6.12.43+deb13-amd64 root=UUID=0b5c-4c1e ro console=ttyS0 net.ifnames=0 quiet\n'
CMDLINE_AFTER = ('BOOT_IMAGE=/boot/vmlinuz-6.12.43+deb13-amd64 root=UUID=0b5c-4c1e ro console=ttyS0 net.ifnames=0 quiet '
                 'zswap.enabled=1 zswap.compressor=zstd\n')


def test_cmdline_differs_until_booted_with_the_tokens():
    assert cmdline_differs(ZSWAP, CMDLINE_BEFORE) == ZSWAP
    assert cmdline_differs(ZSWAP, CMDLINE_AFTER) == []
    # The last token of a key wins, as in the kernel; init's arguments after -- do not count.
    assert cmdline_differs(ZSWAP, CMDLINE_AFTER.strip() + ' zswap.compressor=lzo') == ['zswap.compressor=zstd']
    assert cmdline_differs(ZSWAP, 'quiet -- zswap.enabled=1 zswap.compressor=zstd') == ZSWAP


def test_cmdline_differs_with_normalizer():
    def normalize(key, value):
        return {'1': 'Y', 'y': 'Y'}.get(value, value) if key == 'zswap.enabled' else value
    assert cmdline_differs(['zswap.enabled=1'], 'zswap.enabled=y', normalize) == []
    assert cmdline_differs(['zswap.enabled=1'], 'zswap.enabled', normalize) == ['zswap.enabled=1']


def test_cmdline_values_and_reading(tmp_path):
    assert cmdline_values('a=1 b a=2 -- a=3') == {'a': '2', 'b': None}
    path = tmp_path / 'cmdline'
    path.write_text(CMDLINE_AFTER)
    assert read_cmdline(str(path)) == CMDLINE_AFTER
    assert read_cmdline(str(tmp_path / 'absent')) == ''


# ------------------------------------------------------------------ GRUB's default entry

RELEASES = ['6.17.8-x64v3-xanmod1', '6.12.57+deb13-amd64', '6.12.57+deb13-cloud-amd64', '6.1.0-2-amd64', '6.1.0-27-amd64']
GRUBENV = '# GRUB Environment Block\n# WARNING: Do not edit this file by tools other than grub-editenv!!!\nsaved_entry=%s\n' + '#' * 900


@pytest.mark.parametrize('entry, release', [
    ('Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.12.57+deb13-amd64', '6.12.57+deb13-amd64'),
    ('Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.12.57+deb13-cloud-amd64', '6.12.57+deb13-cloud-amd64'),
    ('gnulinux-advanced-0b5c7a2e>gnulinux-6.17.8-x64v3-xanmod1-advanced-0b5c7a2e', '6.17.8-x64v3-xanmod1'),
    ('gnulinux-advanced-0b5c7a2e>gnulinux-6.1.0-27-amd64-recovery-0b5c7a2e', '6.1.0-27-amd64'),
    ('Debian GNU/Linux, with Linux 6.1.0-27-amd64 (recovery mode)', '6.1.0-27-amd64'),
    ('Debian GNU/Linux, with Linux 6.1.0-2-amd64', '6.1.0-2-amd64'),
    ('Debian GNU/Linux, with Linux 6.1.0-28-amd64', '6.1.0-28-amd64'),
    ('gnulinux-advanced-0b5c>gnulinux-6.12.30+deb13-amd64-advanced-0b5c', '6.12.30+deb13-amd64'),
    ('gnulinux-advanced-0b5c', None),
    ('Windows Boot Manager (on /dev/sda1)', None),
    ('0', None),
    ('1>2', None),
    ('', None),
])
def test_release_in_entry(entry, release):
    assert release_in_entry(entry, RELEASES) == release


@pytest.mark.parametrize('grub, grubenv, release', [
    ('GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\n', None, None),
    ('GRUB_TIMEOUT=5\n', None, None),
    (None, None, None),
    ('GRUB_DEFAULT=saved\nGRUB_SAVEDEFAULT=true\n', GRUBENV % 'gnulinux-advanced-0b5c>gnulinux-6.12.57+deb13-amd64-advanced-0b5c',
     '6.12.57+deb13-amd64'),
    ('GRUB_DEFAULT=saved\n', None, None),
    ('GRUB_DEFAULT=saved\n', GRUBENV % '0', None),
    ('GRUB_DEFAULT="Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.17.8-x64v3-xanmod1"\n', None,
     '6.17.8-x64v3-xanmod1'),
    ("GRUB_DEFAULT=0\n# later\nGRUB_DEFAULT='gnulinux-advanced-x>gnulinux-6.1.0-27-amd64-advanced-x'\n", None, '6.1.0-27-amd64'),
    ('GRUB_DEFAULT="unterminated\n', None, None),
])
def test_default_boot_release(grub, grubenv, release):
    assert default_boot_release(grub, grubenv, RELEASES) == release


def test_parse_grubenv_skips_the_padding():
    assert parse_grubenv(GRUBENV % 'a>b') == {'saved_entry': 'a>b'}
    assert parse_grubenv(None) == {}
