# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The GRUB kernel command line token merger, and the /proc/cmdline comparison.

``/etc/default/grub`` is a shell fragment that grub-mkconfig sources, then every
``/etc/default/grub.d/*.cfg`` after it. This module edits one variable's assignment
(``GRUB_CMDLINE_LINUX_DEFAULT`` unless told otherwise): it sets tokens by key
(``zswap.compressor=zstd`` replaces any ``zswap.compressor=...``), removes duplicates of
those keys, keeps every other token in its order, keeps the quoting style, and keeps every
other line byte for byte. No AnsibleModule here; system paths are default arguments.
"""

from __future__ import annotations

import os
import re

from ansible_collections.lowmem.vps.plugins.module_utils.files import read_kernel_text
from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError

GRUB_DEFAULT = '/etc/default/grub'
GRUBENV_PATH = '/boot/grub/grubenv'
GRUB_D = '/etc/default/grub.d'
PROC_CMDLINE = '/proc/cmdline'
CMDLINE_DEFAULT = 'GRUB_CMDLINE_LINUX_DEFAULT'
CMDLINE_LINUX = 'GRUB_CMDLINE_LINUX'

_VARIABLE_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# Characters a bare (unquoted) shell word may hold without changing its meaning.
_BARE_RE = re.compile(r'^[A-Za-z0-9_.,:/=+@%-]+$')
# What a token this module sets may hold: no quoting, no shell expansion needed in any quoting style.
# What follows a release in a GRUB menu entry title or id.
_ENTRY_END = r'(?=$|[\s>\'")]|-advanced-|-recovery-)'
_SAFE_TOKEN_RE = re.compile(r'^[A-Za-z0-9_.-]+(?:=[A-Za-z0-9_.,:/+@%-]*)?$')


class GrubError(RefusedError):
    """A file this module cannot edit safely: the message is meant for the operator as it is."""


class Assignment(object):
    """One ``VAR=value`` line: ``value`` is the raw text between the quotes (or the bare word)."""

    def __init__(self, index, lead, variable, quote, value, trailing):
        self.index = index
        self.lead = lead
        self.variable = variable
        self.quote = quote
        self.value = value
        self.trailing = trailing

    @property
    def tokens(self):
        return split_tokens(self.value)

    @property
    def extends(self):
        """Whether the value refers to the variable's earlier value (``"$VAR more"``)."""
        if self.quote == "'":
            return False
        return bool(re.search(r'\$(?:\{%s\}|%s(?![A-Za-z0-9_]))' % (re.escape(self.variable), re.escape(self.variable)), self.value))

    def render(self, tokens):
        """The line with ``tokens`` as value, in this assignment's quoting style where possible."""
        value = ' '.join(tokens)
        quote = self.quote
        if quote == '' and value and not _BARE_RE.match(value):
            quote = '"'
        return '%s%s=%s%s%s%s' % (self.lead, self.variable, quote, value, quote, self.trailing)


def check_variable(variable):
    if not isinstance(variable, str) or not _VARIABLE_RE.match(variable):
        raise GrubError('%r is not a shell variable name' % (variable,))


def split_tokens(value):
    """Split a command line into tokens the way the kernel does: at blanks outside double quotes.

    Works on raw shell text too: ``\\"`` counts as a quote (it is one once the shell has read it),
    a backslash keeps the character after it inside the token.
    """
    tokens = []
    current = []
    quoted = False
    position = 0
    while position < len(value):
        char = value[position]
        if char == '\\' and position + 1 < len(value):
            nxt = value[position + 1]
            current.append(char + nxt)
            if nxt == '"':
                quoted = not quoted
            position += 2
            continue
        if char == '"':
            quoted = not quoted
        if char.isspace() and not quoted:
            if current:
                tokens.append(''.join(current))
                current = []
        else:
            current.append(char)
        position += 1
    if current:
        tokens.append(''.join(current))
    return tokens


def token_key(token):
    """The parameter name of a token, as the kernel compares names (``-`` and ``_`` are the same)."""
    return token.partition('=')[0].replace('-', '_')


def token_value(token):
    """The value of ``key=value`` without the kernel's double quotes (None for a bare flag)."""
    key, sep, value = token.partition('=')
    if not sep:
        return None
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    return value


def merge_tokens(tokens, wanted):
    """Set ``wanted`` tokens (``key=value`` strings) into ``tokens``.

    A wanted token takes the place of the first token with its key; later tokens with that key go
    (the kernel would let the last one win, so a duplicate is at best noise). Keys not present yet are
    appended in the order given. Every other token stays, in its order, duplicates included
    (``console=tty0 console=ttyS0`` is meant).
    """
    wanted_by_key = {}
    order = []
    for token in wanted:
        key = token_key(token)
        if key not in wanted_by_key:
            order.append(key)
        wanted_by_key[key] = token
    result = []
    placed = set()
    for token in tokens:
        key = token_key(token)
        if key not in wanted_by_key:
            result.append(token)
        elif key not in placed:
            result.append(wanted_by_key[key])
            placed.add(key)
    result.extend(wanted_by_key[key] for key in order if key not in placed)
    return result


def remove_keys(tokens, keys):
    """``tokens`` without any token whose key is one of ``keys``."""
    normalized = set(key.replace('-', '_') for key in keys)
    return [token for token in tokens if token_key(token) not in normalized]


def _closing(text, start, quote):
    """Index of the quote that closes the string opened just before ``start`` (None: not on this line)."""
    position = start
    while position < len(text):
        char = text[position]
        if quote == '"' and char == '\\':
            position += 2
            continue
        if char == quote:
            return position
        position += 1
    return None


def _bare_end(text, start):
    position = start
    while position < len(text):
        char = text[position]
        if char == '\\':
            position += 2
            continue
        if char.isspace() or char in ';#':
            return position
        if char in '"\'`$()<>|&':
            return None
        position += 1
    return len(text)


def parse_assignment(line, index, variable):
    """The Assignment on ``line`` when it assigns ``variable``, else None.

    Raises GrubError for forms this module will not rewrite: a quoted value that continues on the
    next line, or a value glued from several pieces (``"a"'b'``, ``"a"$X``).
    """
    match = re.match(r'^(\s*(?:export\s+)?)%s=' % re.escape(variable), line)
    if not match:
        return None
    lead = match.group(1)
    start = match.end()
    rest = line[start:]
    problem = '%s: line %d (%s) is a form this module does not rewrite; ' % (variable, index + 1, line.strip())
    if rest[:1] in ('"', "'"):
        quote = rest[0]
        end = _closing(line, start + 1, quote)
        if end is None:
            raise GrubError(problem + 'the quoted value continues on the next line: put it on one line')
        value = line[start + 1:end]
        trailing = line[end + 1:]
    else:
        quote = ''
        end = _bare_end(line, start)
        if end is None:
            raise GrubError(problem + 'quote the whole value once, for example %s="quiet"' % variable)
        value = line[start:end]
        trailing = line[end:]
    if trailing and not (trailing[0].isspace() or trailing[0] in ';#'):
        raise GrubError(problem + 'quote the whole value once, for example %s="quiet"' % variable)
    return Assignment(index, lead, variable, quote, value, trailing)


def _split_lines(text):
    """Lines without their endings, plus the endings, so unchanged lines come back byte for byte."""
    lines = []
    endings = []
    for raw in text.splitlines(True):
        stripped = raw.rstrip('\r\n')
        lines.append(stripped)
        endings.append(raw[len(stripped):])
    return lines, endings


def find_assignments(text, variable=CMDLINE_DEFAULT):
    """Every Assignment of ``variable`` in shell text, in file order (comments are not assignments)."""
    check_variable(variable)
    lines = _split_lines(text)[0]
    found = []
    for index, line in enumerate(lines):
        assignment = parse_assignment(line, index, variable)
        if assignment is not None:
            found.append(assignment)
    return found


def set_cmdline_tokens(text, wanted, variable=CMDLINE_DEFAULT):
    """``text`` of /etc/default/grub with ``wanted`` tokens merged into ``variable``.

    The last assignment is the one the shell keeps: the tokens are merged there. Earlier assignments
    lose only the wanted keys (so no duplicate survives a ``"$VAR ..."`` extension). Without any
    assignment, ``variable="tokens"`` is added after ``GRUB_CMDLINE_LINUX=`` (or at the end).
    Every line that needs no change stays byte for byte; the result equals ``text`` when nothing changes.
    """
    check_variable(variable)
    unsafe = [token for token in wanted if not isinstance(token, str) or not _SAFE_TOKEN_RE.match(token)]
    if unsafe:
        raise GrubError('%s: refusing to set %s: a token must be key=value of letters, digits and ._,:/+@%%- only'
                        % (variable, ', '.join(repr(token) for token in unsafe)))
    text = text or ''
    lines, endings = _split_lines(text)
    assignments = find_assignments(text, variable)
    keys = [token_key(token) for token in wanted]
    if not assignments:
        new_line = '%s="%s"' % (variable, ' '.join(merge_tokens([], wanted)))
        anchor = None
        if variable != CMDLINE_LINUX:
            for index, line in enumerate(lines):
                if re.match(r'^\s*(?:export\s+)?%s=' % CMDLINE_LINUX, line):
                    anchor = index
        if anchor is None:
            if lines and not endings[-1]:
                endings[-1] = '\n'
            lines.append(new_line)
            endings.append('\n')
        else:
            lines.insert(anchor + 1, new_line)
            endings.insert(anchor + 1, endings[anchor] or '\n')
            if not endings[anchor]:
                endings[anchor] = '\n'
                endings[anchor + 1] = ''
        return ''.join(line + ending for line, ending in zip(lines, endings))
    last = assignments[-1]
    for assignment in assignments:
        tokens = assignment.tokens
        if assignment is last:
            new_tokens = merge_tokens(tokens, wanted)
        else:
            new_tokens = remove_keys(tokens, keys)
        if new_tokens != tokens:
            lines[assignment.index] = assignment.render(new_tokens)
    return ''.join(line + ending for line, ending in zip(lines, endings))


def cmdline_value(text, variable=CMDLINE_DEFAULT):
    """Tokens of the last assignment of ``variable`` in ``text`` (None when it is not assigned)."""
    assignments = find_assignments(text or '', variable)
    return assignments[-1].tokens if assignments else None


def grub_d_files(grub_d=GRUB_D):
    """``grub.d/*.cfg`` in the order grub-mkconfig sources them (a shell glob: sorted by name)."""
    try:
        names = os.listdir(grub_d)
    except OSError:
        return []
    return [os.path.join(grub_d, name) for name in sorted(names) if name.endswith('.cfg') and os.path.isfile(os.path.join(grub_d, name))]


def find_overrides(keys, variable=CMDLINE_DEFAULT, grub_d=GRUB_D):
    """Files under ``grub.d`` that assign ``variable`` again, after /etc/default/grub.

    Returns a list of dicts: ``file``, ``value`` (the raw text), ``replaces`` (the assignment drops the
    earlier value: whatever /etc/default/grub sets is lost at boot), ``keys`` (wanted keys this file sets
    itself, which win even when it extends the earlier value). Files that extend the value without
    touching ``keys`` are left out: they are no override.
    """
    wanted = set(key.replace('-', '_') for key in keys)
    found = []
    for path in grub_d_files(grub_d):
        try:
            with open(path, 'r', encoding='utf-8', errors='replace') as handle:
                text = handle.read()
        except OSError:
            continue
        try:
            assignments = find_assignments(text, variable)
        except GrubError as exc:
            found.append({'file': path, 'value': None, 'replaces': True, 'keys': [], 'problem': str(exc)})
            continue
        for assignment in assignments:
            setting = sorted(set(token_key(token) for token in assignment.tokens) & wanted)
            replaces = not assignment.extends
            if replaces or setting:
                found.append({'file': path, 'value': assignment.value, 'replaces': replaces, 'keys': setting})
    return found


def read_cmdline(path=PROC_CMDLINE):
    """Text of the running kernel's command line ('' when it cannot be read)."""
    return read_kernel_text(path)


def cmdline_values(text):
    """{key: value} of a kernel command line, the last token of a key winning; flags map to None.

    Tokens after ``--`` belong to init and are left out.
    """
    values = {}
    for token in split_tokens(text or ''):
        if token == '--':
            break
        values[token_key(token)] = token_value(token)
    return values


def cmdline_differs(wanted, text, normalize=None):
    """The ``wanted`` tokens that the command line ``text`` does not have in effect.

    ``normalize(key, value)`` maps equivalent spellings together (``zswap.enabled=Y`` and ``=1``).
    """
    def norm(key, value):
        return normalize(key, value) if normalize and value is not None else value
    have = cmdline_values(text)
    missing = []
    for token in wanted:
        key = token_key(token)
        if key not in have or norm(key, have[key]) != norm(key, token_value(token)):
            missing.append(token)
    return missing


# ---------------------------------------------------------------- default boot entry


def release_in_entry(entry, releases=()):
    """The release a GRUB menu entry title or id names (``...with Linux 6.1.0-27-amd64``,
    ``gnulinux-6.1.0-27-amd64-advanced-<uuid>``): the longest matching one of ``releases``, else the release
    written after ``with Linux`` or ``gnulinux-`` (a kernel that is gone); None when the entry names none."""
    entry = entry or ''
    for release in sorted(releases, key=len, reverse=True):
        if re.search(r'(?:^|[\s>-])%s%s' % (re.escape(release), _ENTRY_END), entry):
            return release
    match = re.search(r'(?:with Linux |gnulinux-)(\d+\.\d+[^\s>\'"]*?)%s' % _ENTRY_END, entry)
    return match.group(1) if match else None


def parse_grubenv(text):
    """{name: value} of a GRUB environment block (``saved_entry=...`` lines; the ``#`` padding is skipped)."""
    values = {}
    for line in (text or '').splitlines():
        name, sep, value = line.partition('=')
        if sep and not name.startswith('#'):
            values[name.strip()] = value
    return values


def default_boot_release(grub_text, grubenv_text, releases):
    """The release of the kernel GRUB boots by default, or None when that is not a named kernel.

    ``GRUB_DEFAULT`` of /etc/default/grub (the last assignment; ``0`` when absent) names a menu entry by title or
    id, or is ``saved`` (then ``saved_entry`` of /boot/grub/grubenv). A menu index (``0``, ``1>2``) gives None:
    entry 0 is the newest kernel, which is kept anyway, and other indexes cannot be told without grub.cfg.
    """
    try:
        assignments = find_assignments(grub_text or '', 'GRUB_DEFAULT')
    except GrubError:
        return None
    value = assignments[-1].value.strip() if assignments else '0'
    if value == 'saved':
        value = parse_grubenv(grubenv_text).get('saved_entry', '')
    return release_in_entry(value, releases)
