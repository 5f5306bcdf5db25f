# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import os

import pytest

from ansible_collections.lowmem.vps.plugins.module_utils.zswap import (
    CRYPTO_MODULES, ZswapError, cmdline_tokens, compressor_available, compressor_entries, crypto_module, kernel_bool,
    mismatches, modprobe_name, parse_crypto, plan_initramfs_modules, plan_runtime, predicted, read_crypto, read_parameters,
    reboot_required, split_existing, validate, writable, write_parameter,
)

# /sys/module/zswap/parameters of Debian 12's 6.1 kernel (zpool, no shrinker_enabled) and of 6.12+
# (shrinker_enabled, no zpool), as found after a default boot.
PARAMS_6_1 = {'enabled': 'N', 'compressor': 'lzo', 'zpool': 'zbud', 'max_pool_percent': '20',
              'accept_threshold_percent': '90', 'same_filled_pages_enabled': 'Y', 'non_same_filled_pages_enabled': 'Y'}
PARAMS_6_12 = {'enabled': 'N', 'compressor': 'lzo', 'max_pool_percent': '20', 'accept_threshold_percent': '90',
               'shrinker_enabled': 'N'}

# /proc/crypto excerpt: lzo and lzo-rle built in, zstd from its module, a hash that is no compressor.
PROC_CRYPTO = """\
name         : lzo-rle
driver       : lzo-rle-scomp
module       : kernel
priority     : 0
refcnt       : 1
selftest     : passed
internal     : no
type         : scomp

name         : lzo
driver       : lzo-scomp
module       : kernel
priority     : 0
refcnt       : 1
selftest     : passed
internal     : no
type         : scomp

name         : zstd
driver       : zstd-scomp
module       : zstd
priority     : 0
refcnt       : 1
selftest     : passed
internal     : no
type         : scomp

name         : zstd
driver       : zstd-generic
module       : zstd
priority     : 0
refcnt       : 1
selftest     : passed
internal     : no
type         : compression

name         : crc32c
driver       : crc32c-generic
module       : kernel
priority     : 100
refcnt       : 1
selftest     : passed
internal     : no
type         : shash
blocksize    : 1
digestsize   : 4
"""

DEBIAN_INITRAMFS_MODULES = """\
# List of modules that you want to include in your initramfs.
# They will be loaded at boot time in the order below.
#
# Syntax:  module_name [args ...]
#
# You must run update-initramfs(8) to effect this change.
#
# Examples:
#
# raid1
# sd_mod
"""


def make_parameters(root, values):
    root.mkdir(parents=True)
    for name, value in values.items():
        (root / name).write_text(value + '\n')
    return str(root)


@pytest.fixture(params=['6.1', '6.12'])
def kernel(request, tmp_path):
    values = PARAMS_6_1 if request.param == '6.1' else PARAMS_6_12
    return request.param, make_parameters(tmp_path / 'parameters', values)


@pytest.mark.parametrize('value, expected', [
    (True, 'Y'), (False, 'N'), ('Y', 'Y'), ('N', 'N'), ('1', 'Y'), ('0', 'N'), ('y', 'Y'), ('on', 'Y'), ('off', 'N'), ('maybe', 'maybe'),
])
def test_kernel_bool(value, expected):
    assert kernel_bool(value) == expected


def test_validate_normalizes_for_the_kernel():
    assert validate() == {'enabled': 'Y', 'compressor': 'zstd'}
    assert validate(False, 'lz4', 'zsmalloc', 20, 0) == {
        'enabled': 'N', 'compressor': 'lz4', 'zpool': 'zsmalloc', 'max_pool_percent': '20', 'accept_threshold_percent': '0'}


def test_validate_reports_every_problem_at_once():
    with pytest.raises(ZswapError) as err:
        validate(True, 'zstd; reboot', 'Zs Malloc', 0, 101)
    text = str(err.value)
    assert "compressor='zstd; reboot' is not a crypto algorithm name" in text
    assert "zpool='Zs Malloc' is not a pool name" in text
    assert 'max_pool_percent=0 is outside 1..100' in text
    assert 'accept_threshold_percent=101 is outside 0..100' in text


@pytest.mark.parametrize('kwargs', [
    {'compressor': ''}, {'compressor': '../zstd'}, {'compressor': '-zstd'}, {'compressor': None},
    {'max_pool_percent': True}, {'max_pool_percent': 101}, {'accept_threshold_percent': -1}, {'zpool': 'a/b'},
])
def test_validate_refuses_bad_values(kwargs):
    with pytest.raises(ZswapError):
        validate(**kwargs)


def test_read_parameters_reads_only_existing_files(kernel, tmp_path):
    version, parameters = kernel
    os.mkdir(os.path.join(parameters, 'not_a_parameter'))
    values = read_parameters(parameters)
    assert values == (PARAMS_6_1 if version == '6.1' else PARAMS_6_12)
    assert read_parameters(str(tmp_path / 'no-zswap')) is None


def test_parse_crypto_blocks():
    entries = parse_crypto(PROC_CRYPTO)
    assert [entry['name'] for entry in entries] == ['lzo-rle', 'lzo', 'zstd', 'zstd', 'crc32c']
    assert entries[-1]['digestsize'] == '4'
    assert parse_crypto('') == []


@pytest.mark.parametrize('name, available', [
    ('zstd', True), ('lzo', True), ('lzo-rle', True), ('lz4', False), ('crc32c', False), ('zst', False), ('lzo-', False),
])
def test_compressor_available_by_exact_name_and_type(name, available):
    assert compressor_available(name, PROC_CRYPTO) is available


def test_read_crypto(tmp_path):
    path = tmp_path / 'crypto'
    path.write_text(PROC_CRYPTO)
    assert len(compressor_entries('zstd', read_crypto(str(path)))) == 2
    assert read_crypto(str(tmp_path / 'absent')) == ''


def test_crypto_module_names():
    assert CRYPTO_MODULES == {'zstd': 'zstd', 'lz4': 'lz4', 'lz4hc': 'lz4hc', 'lzo': 'lzo', 'lzo-rle': 'lzo-rle', '842': '842',
                              'deflate': 'deflate'}
    assert crypto_module('lzo-rle') == 'lzo-rle'
    other = PROC_CRYPTO + '\nname         : zlib-deflate\ndriver       : zlib-deflate-scomp\nmodule       : deflate\ntype         : scomp\n'
    assert crypto_module('zlib-deflate', other) == 'deflate'
    built_in = '\nname         : fancy\nmodule       : kernel\ntype         : acomp\n'
    assert crypto_module('fancy', built_in) is None
    assert crypto_module('nope', PROC_CRYPTO) is None
    assert modprobe_name('zstd') == 'zstd'
    assert modprobe_name('zlib-deflate') == 'crypto-zlib-deflate'


def test_split_existing_by_kernel():
    wanted = validate(True, 'zstd', 'zsmalloc', 20, 90)
    assert split_existing(wanted, PARAMS_6_1) == (['enabled', 'compressor', 'zpool', 'max_pool_percent', 'accept_threshold_percent'], [])
    assert split_existing(wanted, PARAMS_6_12) == (['enabled', 'compressor', 'max_pool_percent', 'accept_threshold_percent'], ['zpool'])
    assert split_existing(wanted, None)[1] == []


def test_plan_enables_last_after_the_compressor():
    assert plan_runtime(validate(True, 'zstd'), PARAMS_6_12) == [('compressor', 'zstd'), ('enabled', 'Y')]


def test_plan_disables_first():
    running = dict(PARAMS_6_12, enabled='Y')
    assert plan_runtime(validate(False, 'zstd', max_pool_percent=25), running) == [
        ('enabled', 'N'), ('compressor', 'zstd'), ('max_pool_percent', '25')]


def test_plan_writes_zpool_only_where_it_exists():
    wanted = validate(True, 'zstd', 'zsmalloc')
    assert ('zpool', 'zsmalloc') in plan_runtime(wanted, PARAMS_6_1)
    assert 'zpool' not in dict(plan_runtime(wanted, PARAMS_6_12))


def test_plan_is_empty_when_converged_whatever_the_bool_spelling():
    assert plan_runtime(validate(True, 'zstd', max_pool_percent=20), dict(PARAMS_6_12, enabled='Y', compressor='zstd')) == []
    assert plan_runtime(validate(True, 'zstd'), dict(PARAMS_6_12, enabled='1', compressor='zstd')) == []
    assert plan_runtime(validate(), None) == []


def test_predicted_and_mismatches():
    writes = [('compressor', 'zstd'), ('enabled', 'Y')]
    after = predicted(PARAMS_6_12, writes)
    assert after['compressor'] == 'zstd' and after['shrinker_enabled'] == 'N'
    assert mismatches(writes, after) == []
    assert mismatches(writes, dict(after, compressor='lzo')) == [('compressor', 'zstd', 'lzo')]
    assert mismatches(writes, {}) == [('compressor', 'zstd', None), ('enabled', 'Y', None)]


def test_write_and_read_back_on_real_files(kernel):
    version, parameters = kernel
    writes = plan_runtime(validate(True, 'zstd', 'zsmalloc', 25), read_parameters(parameters))
    for name, value in writes:
        assert writable(name, parameters) is None
        write_parameter(name, value, parameters)
    after = read_parameters(parameters)
    assert mismatches(writes, after) == []
    assert after['compressor'] == 'zstd' and after['enabled'] == 'Y' and after['max_pool_percent'] == '25'
    assert after.get('zpool') == ('zsmalloc' if version == '6.1' else None)
    assert plan_runtime(validate(True, 'zstd', 'zsmalloc', 25), after) == []


def test_read_only_parameter_is_reported(tmp_path):
    parameters = make_parameters(tmp_path / 'parameters', PARAMS_6_12)
    os.chmod(os.path.join(parameters, 'compressor'), 0o444)
    os.chmod(parameters, 0o555)
    try:
        if os.geteuid() == 0:
            # root writes through permission bits: only a read-only mount (EROFS) stops it, as in containers.
            assert writable('compressor', parameters) is None
        else:
            assert writable('compressor', parameters) == 'Permission denied'
        assert writable('no_such_parameter', parameters) == 'No such file or directory'
    finally:
        os.chmod(parameters, 0o755)
    with pytest.raises(ZswapError):
        writable('../../etc/passwd', parameters)


def test_cmdline_tokens_in_runbook_form_for_existing_parameters():
    wanted = validate(True, 'zstd', 'zsmalloc', 20, 90)
    assert cmdline_tokens(wanted, ['enabled', 'compressor']) == ['zswap.enabled=1', 'zswap.compressor=zstd']
    assert cmdline_tokens(wanted, split_existing(wanted, PARAMS_6_1)[0]) == [
        'zswap.enabled=1', 'zswap.compressor=zstd', 'zswap.zpool=zsmalloc', 'zswap.max_pool_percent=20',
        'zswap.accept_threshold_percent=90']
    assert cmdline_tokens(validate(False), ['enabled', 'compressor']) == ['zswap.enabled=0', 'zswap.compressor=zstd']


def test_reboot_required_follows_proc_cmdline():
    tokens = ['zswap.enabled=1', 'zswap.compressor=zstd']
    assert reboot_required(tokens, 'BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro quiet\n')
    assert not reboot_required(tokens, 'root=/dev/vda1 ro zswap.enabled=Y zswap.compressor=zstd\n')
    assert not reboot_required(tokens, 'root=/dev/vda1 ro zswap.enabled=1 zswap.compressor=zstd\n')
    assert reboot_required(tokens, 'root=/dev/vda1 zswap.enabled=1 zswap.compressor=lzo\n')
    assert not reboot_required([], '')


def test_initramfs_module_is_added_once_and_comments_stay():
    after = plan_initramfs_modules(DEBIAN_INITRAMFS_MODULES, 'zstd')
    assert after == DEBIAN_INITRAMFS_MODULES + 'zstd\n'
    assert plan_initramfs_modules(after, 'zstd') == after


@pytest.mark.parametrize('before, module, after', [
    (None, 'zstd', 'zstd\n'),
    ('', 'zstd', 'zstd\n'),
    ('virtio_blk', 'zstd', 'virtio_blk\nzstd\n'),
    ('  zstd  # for zswap\n', 'zstd', '  zstd  # for zswap\n'),
    ('# zstd\n', 'zstd', '# zstd\nzstd\n'),
    ('zstd_compress\n', 'zstd', 'zstd_compress\nzstd\n'),
    ('lzo_rle\n', 'lzo-rle', 'lzo_rle\n'),
])
def test_initramfs_module_cases(before, module, after):
    assert plan_initramfs_modules(before, module) == after
