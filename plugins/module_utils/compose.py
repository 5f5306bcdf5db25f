# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-service resource limits in a Docker Compose file, edited line by line so comments, order and quoting stay.

The hosts have no ruamel.yaml, and PyYAML (when there at all) drops comments, so the file is never re-dumped: the
block-style text is scanned by indentation (top-level ``services:``, each service, its own keys), a limit key's value
is replaced in place (the comment after it kept), a missing one is inserted after the last limit key present or at
the end of the service's mapping. What the scanner cannot be sure of (flow style, anchors, aliases, merge keys that
may carry the key, values on continuation lines) is refused, never guessed. The result is read back with the same
scanner and, when PyYAML imports, loaded and compared with the original document plus the intended values.

:func:`run` carries a plan out through a module-like object (``check_mode``, ``params``, ``atomic_move``,
``backup_local``) and two callables, ``runner(args, environ_update=...)`` returning ``(rc, stdout, stderr)``
(``module.run_command``) and ``which(name)`` (``module.get_bin_path``).

Docker's semantics behind the checks and :func:`expected_inspect`:

- ``memswap_limit`` is memory plus swap. Unset (with ``mem_limit`` set) the engine makes it twice the memory, so the
  container may also use as much swap as memory; equal to ``mem_limit`` means no swap; -1 unlimited swap. Below
  ``mem_limit`` the engine refuses the container, and without ``mem_limit`` it refuses a positive one.
- The engine refuses memory limits under 6 MiB.
- On a kernel without swap accounting the engine drops the swap limit (``MemorySwap`` -1) with a warning.
- ``pids_limit`` 0 or -1 means unlimited (the engine shows no limit); ``oom_score_adj`` is -1000..1000.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import tempfile

from ansible_collections.lowmem.vps.plugins.module_utils.files import apply_file, plan_file, read_text
from ansible_collections.lowmem.vps.plugins.module_utils.sizes import MIB, SizeError, format_size
from ansible_collections.lowmem.vps.plugins.module_utils.sizes import parse_size as _parse_bytes
from ansible_collections.lowmem.vps.plugins.module_utils.errors import RefusedError
from ansible_collections.lowmem.vps.plugins.module_utils.runner import C_LOCALE, commands, tail

LIMIT_KEYS = ('mem_limit', 'memswap_limit', 'pids_limit', 'oom_score_adj')
SIZE_KEYS = ('mem_limit', 'memswap_limit')
DEFAULTS = dict(services=None, validate=True, backup=False)
MIN_MEMORY = 6 * MIB  # the engine's linuxMinMemory
OOM_MIN, OOM_MAX = -1000, 1000
INSPECT_KEYS = ('HostConfig.Memory', 'HostConfig.MemorySwap', 'HostConfig.PidsLimit', 'HostConfig.OomScoreAdj')

# docker's own size syntax (go-units RAMInBytes): digits, an optional fraction, one optional space, b/k/m/g/t, i, b.
_DOCKER_SIZE_RE = re.compile(r'^[0-9]+(?:\.[0-9]+)? ?[kmgt]?i?b?$', re.IGNORECASE)
_INT_RE = re.compile(r'^[-+]?[0-9]+$')
_DOC_MARK_RE = re.compile(r'^(?:---|\.\.\.)(?:\s|$)')
# A block-mapping key line: indentation, a quoted or plain key, a colon followed by a blank or the line's end.
_KEY_RE = re.compile(r'''^(?P<indent> *)(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|(?![-?:]\s)(?![-?:]$)[^\s#'"{}\[\],&*!|>%@`][^#]*?)'''
                     r'''(?P<colon>\s*:)(?=\s|$)(?P<rest>.*)$''')
_ANCHOR_RE = re.compile(r'&([^\s,\[\]{}]+)')
_ALIAS_RE = re.compile(r'\*([^\s,\[\]{}]+)')


class ComposeError(RefusedError):
    """Bad input or a file the module refuses to edit; raised before anything was written."""


# ---------------------------------------------------------------- sizes and values

def parse_size(text):
    """Bytes in a docker size: an int (bytes) or ``96m``, ``1g``, ``512k``, ``1GB``, ``100b``, ``4096`` (units b, k, m,
    g, t, case-insensitive, with an optional ``b`` or ``ib``; binary, k = 1024). Zero is returned as 0; raises
    ComposeError for anything docker would not read (``96x``, ``-1g``, ``+1g``)."""
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        raise ComposeError('%r is not a size (write bytes or a number with a unit b, k, m or g, such as 96m)' % (text,))
    if isinstance(text, str) and not _DOCKER_SIZE_RE.match(text.strip()):
        raise ComposeError('%r is not a size docker reads (write bytes or a number with a unit b, k, m or g, such as 96m '
                           'or 1g)' % (text,))
    try:
        return _parse_bytes(text, allow_zero=True)
    except SizeError as exc:
        raise ComposeError(str(exc))


def _size_text(value):
    """How a size is written to the file: ints as digits, strings without blanks and with a lower-case unit."""
    if isinstance(value, int):
        return str(value)
    return re.sub(r'\s+', '', value).lower()


def _as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    return None


def _limit_problem(key, value):
    """(text to write, typed value) for one asked-for limit, or raise ComposeError with why it is refused."""
    if key in SIZE_KEYS:
        if key == 'memswap_limit' and _as_int(value) == -1:
            return '-1', -1
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ComposeError('%s %d is negative%s' % (key, value, ' (only -1, unlimited swap, is allowed)'
                                                        if key == 'memswap_limit' else ''))
        number = parse_size(value)
        if number == 0:
            hint = ('leave memswap_limit out for swap equal to mem_limit, or use -1 for unlimited swap'
                    if key == 'memswap_limit' else 'leave mem_limit out for no memory limit')
            raise ComposeError('%s %r is zero: %s' % (key, value, hint))
        if key == 'mem_limit' and number < MIN_MEMORY:
            raise ComposeError('mem_limit %r is below 6m, the smallest memory limit docker accepts' % (value,))
        return _size_text(value), number
    number = _as_int(value)
    if number is None:
        raise ComposeError('%s %r is not a whole number' % (key, value))
    if key == 'pids_limit':
        if number == 0 or number < -1:
            raise ComposeError('pids_limit %d: use a number of processes of at least 1, or -1 for no limit' % number)
    elif not OOM_MIN <= number <= OOM_MAX:
        raise ComposeError('oom_score_adj %d is outside %d..%d' % (number, OOM_MIN, OOM_MAX))
    return str(number), number


def normalise_services(services):
    """{service: {key: (text to write, typed value)}} from the ``services`` option; raises ComposeError listing every
    problem (unknown keys, bad sizes, pids_limit 0, oom_score_adj out of range, memswap_limit below mem_limit)."""
    if services is None:
        return {}
    if not isinstance(services, dict):
        raise ComposeError('services must be a dict of service name to limits, got %r' % (services,))
    problems = []
    result = {}
    for name, limits in services.items():
        if not isinstance(name, str) or not name:
            problems.append('%r is not a service name' % (name,))
            continue
        if not isinstance(limits, dict):
            problems.append('%s: limits must be a dict with any of %s, got %r' % (name, ', '.join(LIMIT_KEYS), limits))
            continue
        unknown = sorted(str(key) for key in limits if key not in LIMIT_KEYS)
        for key in unknown:
            close = difflib.get_close_matches(key, LIMIT_KEYS, 1)
            hint = ' (did you mean %s?)' % close[0] if close else ''
            problems.append('%s: unknown limit %s%s (allowed: %s)' % (name, key, hint, ', '.join(LIMIT_KEYS)))
        if unknown:
            continue
        wanted = {}
        for key in LIMIT_KEYS:
            if key in limits and limits[key] is not None:
                try:
                    wanted[key] = _limit_problem(key, limits[key])
                except ComposeError as exc:
                    problems.append('%s: %s' % (name, exc))
        result[name] = wanted
    if problems:
        raise ComposeError('; '.join(problems))
    return result


def swap_problem(name, mem, swap, mem_from='', swap_from=''):
    """Why ``swap`` (bytes or -1) cannot go with ``mem`` (bytes or None) for ``name``, or None."""
    if swap is None or swap == -1:
        return None
    if mem is None:
        return ('%s: memswap_limit %s%s without mem_limit: docker refuses a swap limit without a memory limit; set mem_limit '
                'too, or use -1 for unlimited swap' % (name, format_size(swap).lower(), swap_from))
    if swap < mem:
        return ('%s: memswap_limit %s%s is below mem_limit %s%s. In compose memswap_limit is memory plus swap, so it cannot '
                'be less than mem_limit (docker refuses the container): equal to mem_limit means no swap, larger gives '
                'memswap_limit - mem_limit of swap, -1 unlimited swap, and unset gives swap equal to mem_limit (a total of '
                'twice mem_limit)' % (name, format_size(swap).lower(), swap_from, format_size(mem).lower(), mem_from))
    return None


# ---------------------------------------------------------------- the line scanner

def _is_content(line):
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith('#')


def _indent(line):
    return len(line) - len(line.lstrip(' '))


def _unquote(token):
    if len(token) >= 2 and token[0] == token[-1] == '"':
        try:
            return json.loads(token)
        except ValueError:
            return token[1:-1]
    if len(token) >= 2 and token[0] == token[-1] == "'":
        return token[1:-1].replace("''", "'")
    return token


def split_value(rest):
    """What follows ``key:`` on a line (no line end) as (blank, token, tail): ``tail`` is blanks, a comment and trailing
    blanks. The token is '' when the line holds no value; None when a quoted value does not end on this line."""
    stripped = rest.lstrip()
    blank = rest[:len(rest) - len(stripped)]
    if stripped.startswith('#'):
        return blank, '', stripped
    if stripped[:1] in ('"', "'"):
        quote, index = stripped[0], 1
        while index < len(stripped):
            char = stripped[index]
            if quote == '"' and char == '\\':
                index += 2
                continue
            if char == quote:
                if quote == "'" and stripped[index + 1:index + 2] == "'":
                    index += 2
                    continue
                break
            index += 1
        else:
            return blank, None, ''
        token, tail = stripped[:index + 1], stripped[index + 1:]
        if tail.strip() and not tail.lstrip().startswith('#') or (tail.strip() and tail[:1] not in (' ', '\t')):
            return blank, None, ''
        return blank, token, tail
    match = re.search(r'[ \t]#', stripped)
    token = (stripped[:match.start()] if match else stripped).rstrip()
    return blank, token, stripped[len(token):]


def children(lines, start, end):
    """Direct children of the block mapping whose body is ``lines[start:end]``, in order: dicts with ``key`` (unquoted),
    ``line`` (index of the key line), ``last`` (index of the node's last content line), ``indent``, ``rest`` (the text after
    the colon), and ``others`` (content lines at the children's indentation that are not keys: merge ``?`` keys, items)."""
    nodes = []
    others = []
    indent = None
    for index in range(start, end):
        line = lines[index].rstrip('\r\n')
        if not _is_content(line):
            continue
        if _DOC_MARK_RE.match(line):
            break
        if indent is None:
            indent = _indent(line)
        if _indent(line) > indent:
            if nodes:
                nodes[-1]['last'] = index
            continue
        if _indent(line) < indent:
            break
        match = _KEY_RE.match(line)
        if not match or line.lstrip().startswith('- ') or line.strip() == '-':
            if nodes and line.lstrip().startswith('-'):
                nodes[-1]['last'] = index  # a sequence written at its key's indentation
            else:
                others.append(index)
            continue
        nodes.append({'key': _unquote(match.group('key').strip()), 'line': index, 'last': index, 'indent': indent,
                      'rest': match.group('rest')})
    return nodes, others


def find_services(lines):
    """(the top-level ``services`` node, its children) from the file's lines; raises ComposeError when there is none or
    it is not a block mapping."""
    top, _others = children(lines, 0, len(lines))
    found = [node for node in top if node['key'] == 'services' and node['indent'] == 0]
    if not found:
        raise ComposeError('the file has no top-level services: key')
    if len(found) > 1:
        raise ComposeError('the file has services: twice at the top level')
    node = found[0]
    _blank, token, _tail = split_value(node['rest'])
    if token:
        raise ComposeError('top-level services: is %r on its own line (flow style, an anchor or an alias): only block style '
                           'is edited; write services as an indented mapping' % token)
    services, _others = children(lines, node['line'] + 1, node['last'] + 1)
    names = [service['key'] for service in services]
    twice = sorted(set(name for name in names if names.count(name) > 1))
    if twice:
        raise ComposeError('service%s %s defined twice under services:' % ('s' if len(twice) > 1 else '', ', '.join(twice)))
    return node, services


def _anchor_block(lines, anchor):
    """The text of the node that defines ``&anchor`` (its line and the more-indented lines after it), or None."""
    pattern = re.compile(r'&%s(?=[\s,\]}]|$)' % re.escape(anchor))
    for index, line in enumerate(lines):
        if _is_content(line) and pattern.search(line.split(' #')[0]):
            block = [line]
            base = _indent(line)
            for follow in lines[index + 1:]:
                if _is_content(follow) and _indent(follow) <= base:
                    break
                block.append(follow)
            return ''.join(block)
    return None


def _scan_service(lines, service, keys):
    """What the scanner sees in one service: its children, where each limit key is and the problems that stop an edit."""
    name = service['key']
    _blank, token, _tail = split_value(service['rest'])
    if token:
        if token.startswith(('{', '[')):
            what = 'is written in flow style (%s)' % token
        elif token.startswith('*'):
            what = 'is an alias (%s) of another mapping' % token
        elif token.startswith('&'):
            what = 'carries the anchor %s, so other services may share its keys through an alias' % token.split()[0]
        else:
            what = 'has %r on its key line' % token
        raise ComposeError('service %s %s: only a block mapping without anchors is edited, the limits are not changed '
                           'rather than guessed; write the service as an indented block' % (name, what))
    nodes, others = children(lines, service['line'] + 1, service['last'] + 1)
    if others and not nodes:
        raise ComposeError('service %s is not a block mapping of keys' % name)
    found = {}
    problems = []
    for node in nodes:
        if node['key'] in LIMIT_KEYS:
            if node['key'] in found:
                problems.append('service %s sets %s twice' % (name, node['key']))
            found[node['key']] = node
    for key in keys:
        node = found.get(key)
        if node is None:
            continue
        _blank, token, _tail = split_value(node['rest'])
        if token is None or token == '' or node['last'] != node['line']:
            problems.append('service %s: %s has its value on following lines: write it on the key\'s line' % (name, key))
        elif token.startswith(('&', '*')):
            problems.append('service %s: %s is %s (an anchor or alias other keys may depend on): change it where it is '
                            'defined, or write a plain value' % (name, key, token))
        elif token[:1] in ('{', '[', '|', '>', '!'):
            problems.append('service %s: %s is %s, not a plain scalar' % (name, key, token))
    merges = [node for node in nodes if node['key'] == '<<']
    if merges:
        missing = [key for key in keys if key not in found]
        for merge in merges:
            aliases = _ALIAS_RE.findall(merge['rest'].split(' #')[0])
            if not aliases:
                problems.append('service %s: merge key <<: is not a list of aliases: its limits are not changed rather than '
                                'guessed' % name)
            for alias in aliases:
                block = _anchor_block(lines, alias)
                if block is None:
                    problems.append('service %s merges *%s, whose anchor was not found' % (name, alias))
                    continue
                carried = [key for key in missing if re.search(r'(?:^|[\s{,])%s\s*:' % key, block)]
                if carried:
                    problems.append('service %s takes %s from the merge key <<: *%s: change the value in the anchored mapping '
                                    '&%s, or set it in the service itself, rather than have it guessed here'
                                    % (name, ', '.join(carried), alias, alias))
    return nodes, found, problems


def _deploy_limits(lines, nodes):
    """The keys (memory, pids, ...) set under the service's ``deploy.resources.limits``."""
    node = next((item for item in nodes if item['key'] == 'deploy'), None)
    if node is None:
        return []
    block = ''.join(lines[node['line']:node['last'] + 1])
    path = [node]
    for key in ('resources', 'limits'):
        current = path[-1]
        inner, _others = children(lines, current['line'] + 1, current['last'] + 1)
        found = next((item for item in inner if item['key'] == key), None)
        if found is None:
            # flow style somewhere below deploy: a text search is enough for a warning
            match = re.search(r'limits\s*:\s*\{([^}]*)\}', block)
            return sorted(set(re.findall(r'(\w+)\s*:', match.group(1)))) if match else []
        path.append(found)
    limits = path[-1]
    _blank, token, _tail = split_value(limits['rest'])
    if token and token.startswith('{'):
        return sorted(set(re.findall(r'(\w+)\s*:', token)))
    inner, _others = children(lines, limits['line'] + 1, limits['last'] + 1)
    return [item['key'] for item in inner]


def _eol(line):
    return line[len(line.rstrip('\r\n')):] or '\n'


def _file_value(key, token):
    """A limit as the file has it: (typed value or None when unreadable, the text unquoted)."""
    text = _unquote(token)
    if key in SIZE_KEYS:
        if key == 'memswap_limit' and _as_int(text) == -1:
            return -1, text
        try:
            return parse_size(text), text
        except ComposeError:
            return None, text
    return _as_int(text), text


# ---------------------------------------------------------------- planning

def plan_limits(text, wanted):
    """Plan the edit of the compose ``text`` for ``wanted`` (from :func:`normalise_services`).

    Returns a dict: ``after`` (the new text), ``changed_services``, ``services`` ({name: effective limits as written}),
    ``typed`` (the same as bytes and ints, unreadable values such as ``${MEM}`` left out), ``written`` ({name: {key: token
    written}}), ``warnings``. Raises ComposeError listing every problem.
    """
    lines = text.splitlines(True)
    _node, services = find_services(lines)
    by_name = dict((service['key'], service) for service in services)
    missing = [name for name in wanted if name not in by_name]
    if missing:
        plural = 's' if len(missing) > 1 else ''
        raise ComposeError('service%s %s not in the file (it has: %s)'
                           % (plural, ', '.join(missing), ', '.join(sorted(by_name)) or 'none'))
    problems, warnings = [], []
    replace, insert = {}, {}
    result = dict(changed_services=[], services={}, typed={}, written={}, warnings=warnings)
    for name, limits in wanted.items():
        service = by_name[name]
        nodes, found, service_problems = _scan_service(lines, service, list(limits))
        problems.extend(service_problems)
        if service_problems:
            continue
        effective, values, sources = {}, {}, {}
        for key, node in found.items():
            token = split_value(node['rest'])[1]
            if token:
                values[key], unquoted = _file_value(key, token)
                readable = values[key] is not None
                effective[key] = values[key] if readable and (key not in SIZE_KEYS or values[key] == -1) else unquoted
                sources[key] = ' (already in the file)'
        written, new_lines = {}, []
        for key in LIMIT_KEYS:
            if key not in limits:
                continue
            token_text, value = limits[key]
            effective[key] = token_text if key in SIZE_KEYS and value != -1 else value
            sources[key] = ''
            node = found.get(key)
            if node is not None:
                _blank, token, tail = split_value(node['rest'])
                if values.get(key) == value:
                    continue  # same limit, however it is spelled: the file stays as it is
                if values.get(key) is None and '$' in token:
                    warnings.append('%s: %s was %s (interpolated by compose), now %s' % (name, key, token, token_text))
                quote = token[0] if token[:1] in ('"', "'") else ''
                new = quote + token_text + quote
                if tail[:1] in (' ', '\t') and tail.strip():
                    gap = len(tail) - len(tail.lstrip())
                    tail = ' ' * max(1, gap + len(token) - len(new)) + tail.lstrip()
                line = lines[node['line']]
                head = line.rstrip('\r\n')
                match = _KEY_RE.match(head)
                prefix = head[:match.start('rest')] + split_value(match.group('rest'))[0]
                replace[node['line']] = prefix + new + tail + _eol(line)
                written[key] = new
            else:
                new_lines.append((key, token_text))
                written[key] = token_text
            values[key] = value
        mem = values.get('mem_limit')
        swap = values.get('memswap_limit')
        problem = swap_problem(name, mem, swap, sources.get('mem_limit', ''), sources.get('memswap_limit', ''))
        if problem and ('mem_limit' in limits or 'memswap_limit' in limits):
            problems.append(problem)
            continue
        if new_lines:
            present = [found[key] for key in LIMIT_KEYS if key in found]
            after = max(node['last'] for node in present) if present else service['last']
            indent = nodes[0]['indent'] if nodes else service['indent'] + 2
            eol = _eol(lines[after]) if after < len(lines) else '\n'
            insert[after] = [' ' * indent + key + ': ' + token_text + eol for key, token_text in new_lines]
        if written:
            result['changed_services'].append(name)
            result['written'][name] = written
        result['services'][name] = dict((key, effective[key]) for key in LIMIT_KEYS if key in effective)
        result['typed'][name] = dict((key, values[key]) for key in LIMIT_KEYS if values.get(key) is not None)
        deploy = [key for key in _deploy_limits(lines, nodes) if key in ('memory', 'pids')]
        pairs = [(key, other) for key, other in (('memory', 'mem_limit'), ('pids', 'pids_limit'))
                 if key in deploy and (other in limits or other in found)]
        if pairs:
            warnings.append('%s: both %s and deploy.resources.limits.%s exist in the file; docker compose prefers '
                            'deploy.resources.limits, so the value set here may not be the one applied: keep only one'
                            % (name, ' and '.join(other for _key, other in pairs), ' and '.join(key for key, _other in pairs)))
    if problems:
        raise ComposeError('; '.join(problems))
    out = []
    for index, line in enumerate(lines):
        out.append(replace.get(index, line))
        if index in insert:
            if not out[-1].endswith(('\n', '\r')):
                out[-1] += '\n'
            out.extend(insert[index])
    result['after'] = ''.join(out)
    return result


# ---------------------------------------------------------------- checking the result

def _yaml_loader():
    try:
        import yaml
    except ImportError:
        return None

    class Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """SafeLoader that reads compose's own tags (!reset, !override) as plain values."""

    def unknown(loader, _suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)

    Loader.add_multi_constructor('!', unknown)
    return lambda text: list(yaml.load_all(text, Loader=Loader))  # nosec B506 - a SafeLoader subclass


def check_result(before, after, written, load=None):
    """Raise ComposeError unless ``after`` holds exactly ``before`` plus the ``written`` tokens ({service: {key: token}}).

    The scanner reads ``after`` back in any case; with PyYAML the whole document is loaded and compared too (skipped when
    ``before`` itself does not load).
    """
    lines = after.splitlines(True)
    _node, services = find_services(lines)
    by_name = dict((service['key'], service) for service in services)
    for name, keys in written.items():
        nodes, _others = children(lines, by_name[name]['line'] + 1, by_name[name]['last'] + 1)
        seen = dict((node['key'], split_value(node['rest'])[1]) for node in nodes)
        for key, token in keys.items():
            if seen.get(key) != token:
                raise ComposeError('internal check failed: %s.%s reads back as %r, not %r; the file was not changed'
                                   % (name, key, seen.get(key), token))
    load = _yaml_loader() if load is None else load
    if not load:
        return
    try:
        documents = load(before)
    except Exception:  # pylint: disable=broad-except
        return  # PyYAML cannot read the original either: compose config (validate) judges it
    try:
        result = load(after)
    except Exception as exc:  # pylint: disable=broad-except
        raise ComposeError('internal check failed: the edited file does not load as YAML (%s); the file was not changed'
                           % exc)
    expected = copy.deepcopy(documents)
    target = next((doc for doc in expected if isinstance(doc, dict) and isinstance(doc.get('services'), dict)), None)
    if target is None:
        raise ComposeError('internal check failed: PyYAML finds no services mapping; the file was not changed')
    for name, keys in written.items():
        for key, token in keys.items():
            target['services'][name][key] = load('%s: %s' % (key, token))[0][key]
    if result != expected:
        raise ComposeError('internal check failed: the edited file loads differently from the original plus the new limits; '
                           'the file was not changed')


# ---------------------------------------------------------------- docker inspect

def expected_inspect(limits):
    """What ``docker inspect`` should show for a service's limits ({mem_limit, memswap_limit, pids_limit,
    oom_score_adj}, sizes as text or bytes): {'HostConfig.Memory': ..., ...} for the keys the limits decide.

    MemorySwap follows the engine: memswap_limit when set (-1 unlimited), else twice Memory when Memory is set.
    PidsLimit None means unlimited (the engine shows no limit for 0 and -1).
    """
    expected = {}
    mem = limits.get('mem_limit')
    swap = limits.get('memswap_limit')
    if mem is not None:
        expected['HostConfig.Memory'] = parse_size(mem)
    if swap is not None:
        expected['HostConfig.MemorySwap'] = -1 if _as_int(swap) == -1 else parse_size(swap)
    elif mem is not None:
        expected['HostConfig.MemorySwap'] = 2 * expected['HostConfig.Memory']
    if limits.get('pids_limit') is not None:
        pids = _as_int(limits['pids_limit'])
        expected['HostConfig.PidsLimit'] = pids if pids and pids > 0 else None
    if limits.get('oom_score_adj') is not None:
        expected['HostConfig.OomScoreAdj'] = _as_int(limits['oom_score_adj'])
    return expected


def _inspect_value(data, dotted):
    for part in dotted.split('.'):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def compare_inspect(expected, inspect_json):
    """Mismatches between :func:`expected_inspect` and a container's ``docker inspect`` (the JSON text, its list, or one
    container's dict): [{key, expected, actual, msg}], empty when the engine applied every value."""
    data = json.loads(inspect_json) if isinstance(inspect_json, (str, bytes)) else inspect_json
    if isinstance(data, list):
        if len(data) != 1:
            raise ComposeError('docker inspect output holds %d containers, expected one' % len(data))
        data = data[0]
    mismatches = []
    for key in INSPECT_KEYS:
        if key not in expected:
            continue
        want, have = expected[key], _inspect_value(data, key)
        if key == 'HostConfig.PidsLimit' and (have is None or have <= 0):
            have = None
        if want == have:
            continue
        msg = '%s: expected %s, the engine has %s' % (key, want, have)
        if key == 'HostConfig.MemorySwap' and have == -1 and want != -1:
            msg += (' (this host has no swap limit support: the kernel does not account swap for cgroups, so docker drops '
                    'the swap limit and warns "Your kernel does not support swap limit capabilities"; the container may '
                    'use swap without limit)')
        elif key in ('HostConfig.Memory', 'HostConfig.PidsLimit', 'HostConfig.OomScoreAdj'):
            msg += ' (the engine dropped or changed the value: was the container recreated after the file changed?)'
        mismatches.append({'key': key, 'expected': want, 'actual': have, 'msg': msg})
    return mismatches


# ---------------------------------------------------------------- run



def compose_command(runner, which):
    """(argv before the file, label): ``docker compose`` when the v2 plugin answers, else ``docker-compose``; None when
    neither exists."""
    docker = which('docker')
    if docker:
        rc, _out, _err = runner([docker, 'compose', 'version'], environ_update=C_LOCALE)
        if rc == 0:
            return [docker, 'compose'], 'docker compose'
    legacy = which('docker-compose')
    if legacy:
        return [legacy], 'docker-compose'
    return None, None


def validate_text(path, text, command, runner):
    """Run ``COMMAND -f TMP config --quiet`` on ``text`` written to a temporary file next to ``path`` (so .env and relative
    paths resolve as for the real file); returns (rc, message). The temporary file is always removed."""
    directory = os.path.dirname(path) or '.'
    base = os.path.basename(path)
    fd, tmp_path = tempfile.mkstemp(prefix='.%s.' % base, suffix=os.path.splitext(base)[1] or '.yml', dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        rc, out, err = runner(command + ['-f', tmp_path, 'config', '--quiet'], environ_update=C_LOCALE)
        return rc, tail(rc, out, err).replace(tmp_path, path)
    finally:
        os.unlink(tmp_path)


def run(module, runner=None, which=None, params=None):
    """Validate, plan, check the candidate with compose config, write it (outside check mode); return the result.

    Raises ComposeError (nothing written) for bad input, refusals and a candidate compose does not accept.
    """
    runner, which = commands(module, runner, which)
    params = dict(DEFAULTS, **dict((key, value) for key, value in (params or module.params).items() if value is not None))
    path = params['path']
    wanted = normalise_services(params['services'])
    if os.path.isdir(path):
        raise ComposeError('%s is a directory: give the compose file itself' % path)
    try:
        before = read_text(path)
    except UnicodeDecodeError:
        raise ComposeError('%s is not UTF-8 text' % path)
    except OSError as exc:
        raise ComposeError('cannot read %s: %s' % (path, exc.strerror or exc))
    if before is None:
        raise ComposeError('%s does not exist' % path)
    result = dict(changed=False, changed_services=[], services={}, expected_inspect={}, diff={}, validated_with=None,
                  warnings=[])
    if not wanted:
        return result
    planned = plan_limits(before, wanted)
    warnings = result['warnings'] = planned['warnings']
    result['changed_services'] = planned['changed_services']
    result['services'] = planned['services']
    result['expected_inspect'] = dict((name, expected_inspect(limits)) for name, limits in planned['typed'].items())
    plan = plan_file(path, planned['after'])
    result['diff'] = plan.diff()
    if not plan.changed:
        return result
    check_result(before, planned['after'], planned['written'])
    if params['validate']:
        command, label = compose_command(runner, which)
        if command is None:
            warnings.append('neither docker compose (the v2 plugin) nor docker-compose is installed: the new file was not '
                            'checked with compose config')
        else:
            rc, message = validate_text(path, planned['after'], command, runner)
            if rc != 0:
                again, _old = validate_text(path, before, command, runner)
                if again != 0:
                    raise ComposeError('%s config refuses the file as it is already (%s): fix it first, or set validate=false'
                                       % (label, message))
                raise ComposeError('%s config refuses the file with the new limits: %s' % (label, message))
            result['validated_with'] = label
    if params['backup'] and not module.check_mode:
        result['backup_file'] = module.backup_local(path)
    apply_file(module, plan)
    result['changed'] = True
    return result
